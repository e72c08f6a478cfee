package io.mnemo.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;

class OpenBlasCheckTest {
    @Test
    void recommendationFollowsCpuFlags() {
        assertEquals(Optional.of("SkylakeX"), OpenBlasCheck.recommendedCoreType(Set.of("avx", "avx2", "avx512f")));
        assertEquals(Optional.of("Haswell"), OpenBlasCheck.recommendedCoreType(Set.of("avx", "avx2", "fma")));
        assertEquals(Optional.of("Sandybridge"), OpenBlasCheck.recommendedCoreType(Set.of("avx")));
        assertEquals(Optional.empty(), OpenBlasCheck.recommendedCoreType(Set.of()));
    }

    @Test
    void genericKernelIsFlaggedWithTheFix() {
        var r = new OpenBlasCheck.Report(Optional.of("Prescott"), Set.of("avx2", "avx512f"), Optional.of("SkylakeX"),
                Optional.empty());
        assertTrue(r.genericKernel());
        assertTrue(r.advice().contains("OPENBLAS_CORETYPE=SkylakeX"), r.advice());
        var nehalem = new OpenBlasCheck.Report(Optional.of("Nehalem"), Set.of("avx2"), Optional.of("Haswell"),
                Optional.of("Nehalem"));
        assertTrue(nehalem.genericKernel());
        var zen = new OpenBlasCheck.Report(Optional.of("Zen"), Set.of("avx512f"), Optional.of("SkylakeX"),
                Optional.empty());
        assertFalse(zen.genericKernel());
        assertTrue(zen.slowerKernel());
        var ok = new OpenBlasCheck.Report(Optional.of("SkylakeX"), Set.of("avx512f"), Optional.of("SkylakeX"),
                Optional.empty());
        assertFalse(ok.genericKernel());
    }

    /** The build's Surefire configuration sets OPENBLAS_CORETYPE; the loaded OpenBLAS must honour it. */
    @Test
    void buildSelectsTheRightKernelHere() {
        Nd4j.create(2, 2).mmul(Nd4j.create(2, 2)); // loads the native library
        OpenBlasCheck.Report r = OpenBlasCheck.inspect();
        assumeTrue(r.coreName().isPresent() && r.recommended().isPresent(), "OpenBLAS or CPU flags not visible");
        assertTrue(r.envValue().isPresent(), "OPENBLAS_CORETYPE not set by the build; OpenBLAS runs " + r.coreName());
        // OpenBLAS honoured the variable the build set ...
        assertEquals(r.envValue().get().toLowerCase(), r.coreName().get().toLowerCase(), r.advice());
        // ... and the build chose the kernel matching this CPU (unless the user overrode it)
        String detected = System.getProperty("mnemo.openblas.detected");
        assumeTrue(detected != null && detected.equals(r.envValue().get()), "OPENBLAS_CORETYPE not from the build");
        assertEquals(r.recommended().get(), detected, "the build's CPU detection disagrees with OpenBlasCheck");
        assertFalse(r.slowerKernel(), r.advice());
    }
}
