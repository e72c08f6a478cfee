package io.mnemo.core;

import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds out which kernel the OpenBLAS bundled with ND4J selected, and which one it should have.
 *
 * <p>ND4J 1.0.0-M2.1 bundles OpenBLAS 0.3.19, whose run-time dispatch does not recognise recent
 * CPUs (Sapphire Rapids, Zen 4) and falls back to the generic {@code Prescott} kernel, 3–5× slower
 * for sgemm (DESIGN.md §2). OpenBLAS reads {@code OPENBLAS_CORETYPE} only when the native library
 * loads, so the fix must happen before the JVM starts: {@code bin/mnemo}, the Maven Surefire and exec
 * configurations set it. This class reports the situation and warns once, with the exact fix.
 */
public final class OpenBlasCheck {
    private static final Logger LOG = LoggerFactory.getLogger(OpenBlasCheck.class);
    private static volatile Report cached;

    /** Kernels without AVX: what OpenBLAS falls back to when it does not recognise a CPU. */
    private static final Set<String> GENERIC = Set.of("prescott", "core2", "atom", "katmai", "coppermine",
            "northwood", "banias", "nano", "generic", "unknown", "nehalem", "penryn", "dunnington", "opteron",
            "barcelona", "bobcat");
    private static final Set<String> AVX = Set.of("sandybridge", "bulldozer", "piledriver", "steamroller",
            "excavator");
    private static final Set<String> AVX2 = Set.of("haswell", "zen");

    private OpenBlasCheck() {}

    /**
     * What was found.
     *
     * @param coreName kernel name reported by {@code openblas_get_corename()}, or empty if OpenBLAS
     *     is not on the class path (another BLAS, the CUDA backend)
     * @param cpuFlags the CPU's feature flags relevant to the choice (avx, avx2, avx512f, …)
     * @param recommended the {@code OPENBLAS_CORETYPE} value suited to this CPU, or empty if none
     *     is needed (not x86-64 Linux)
     * @param envValue the {@code OPENBLAS_CORETYPE} this JVM was started with, or empty
     */
    public record Report(Optional<String> coreName, Set<String> cpuFlags, Optional<String> recommended,
            Optional<String> envValue) {
        /** True when OpenBLAS runs a kernel without AVX although the CPU has AVX or better. */
        public boolean genericKernel() {
            return coreName.isPresent() && recommended.isPresent() && rank(coreName.get()) == 0
                    && rank(recommended.get()) > 0;
        }

        /** True when OpenBLAS runs a kernel for an older instruction set than the CPU supports. */
        public boolean slowerKernel() {
            return coreName.isPresent() && recommended.isPresent() && rank(coreName.get()) < rank(recommended.get());
        }

        /** One line that says what to do, for logs and {@code mnemo} diagnostics. */
        public String advice() {
            if (coreName.isEmpty()) {
                return "OpenBLAS kernel unknown (OpenBLAS not loaded, or the JVM lacks --add-modules "
                        + "jdk.incubator.foreign --enable-native-access=ALL-UNNAMED)"
                        + recommended.map(c -> "; OPENBLAS_CORETYPE=" + c + " suits this CPU").orElse("");
            }
            if (slowerKernel() && !genericKernel()) {
                return "OpenBLAS uses the '" + coreName.get() + "' kernel; OPENBLAS_CORETYPE=" + recommended.get()
                        + " matches this CPU's instruction set";
            }
            if (!genericKernel()) {
                return "OpenBLAS kernel " + coreName.get() + " suits this CPU";
            }
            return "OpenBLAS is using the generic '" + coreName.get() + "' kernel on a CPU with "
                    + cpuFlags + "; matrix products run several times slower. Start the JVM with "
                    + "OPENBLAS_CORETYPE=" + recommended.get() + " in the environment (bin/mnemo and the "
                    + "Maven build do this for you).";
        }
    }

    /** Inspects OpenBLAS and the CPU; loads OpenBLAS if it is on the class path. */
    public static Report inspect() {
        Set<String> flags = cpuFlags();
        return new Report(coreName(), flags, recommendedCoreType(flags),
                Optional.ofNullable(System.getenv("OPENBLAS_CORETYPE")).filter(s -> !s.isBlank()));
    }

    /**
     * Runs {@link #inspect()} once per JVM (later calls return the cached report) and logs one WARN if
     * a generic kernel is in use, or one INFO with the recommended setting if the kernel cannot be
     * read (the JVM lacks {@code --add-modules jdk.incubator.foreign --enable-native-access=ALL-UNNAMED}).
     */
    public static Report checkOnce() {
        Report r = cached;
        if (r != null) {
            return r;
        }
        synchronized (OpenBlasCheck.class) {
            if (cached == null) {
                r = inspect();
                if (r.genericKernel()) {
                    LOG.warn(r.advice());
                } else if (r.coreName().isEmpty() && r.envValue().isEmpty() && r.recommended().isPresent()) {
                    LOG.info("Cannot tell which OpenBLAS kernel is in use; if matrix products are slow, start the "
                            + "JVM with OPENBLAS_CORETYPE={} in the environment (bin/mnemo does this)",
                            r.recommended().get());
                } else {
                    LOG.debug(r.advice());
                }
                cached = r;
            }
            return cached;
        }
    }

    /**
     * Instruction-set level of an OpenBLAS kernel name: 0 below AVX, 1 AVX, 2 AVX2, 3 AVX-512.
     */
    public static int rank(String kernel) {
        String k = kernel.toLowerCase(Locale.ROOT);
        if (GENERIC.contains(k)) {
            return 0;
        }
        if (AVX.contains(k)) {
            return 1;
        }
        if (AVX2.contains(k)) {
            return 2;
        }
        // skylakex, cooperlake, sapphirerapids
        return 3;
    }

    /**
     * The {@code OPENBLAS_CORETYPE} for a CPU with these flags: SkylakeX with AVX-512, Haswell with
     * AVX2, Sandybridge with AVX; empty when the flags say nothing (non-x86 or unknown).
     */
    public static Optional<String> recommendedCoreType(Set<String> flags) {
        if (flags.contains("avx512f")) {
            return Optional.of("SkylakeX");
        }
        if (flags.contains("avx2")) {
            return Optional.of("Haswell");
        }
        if (flags.contains("avx")) {
            return Optional.of("Sandybridge");
        }
        return Optional.empty();
    }

    /** The x86 feature flags in {@code /proc/cpuinfo} that matter for the choice; empty elsewhere. */
    public static Set<String> cpuFlags() {
        Set<String> out = new TreeSet<>();
        Path p = Path.of("/proc/cpuinfo");
        if (!Files.isReadable(p)) {
            return out;
        }
        try {
            for (String line : Files.readAllLines(p)) {
                if (line.startsWith("flags")) {
                    for (String f : line.substring(line.indexOf(':') + 1).trim().split("\\s+")) {
                        if (f.equals("avx") || f.equals("avx2") || f.equals("fma") || f.startsWith("avx512")) {
                            out.add(f);
                        }
                    }
                    break;
                }
            }
        } catch (IOException e) {
            LOG.debug("cannot read /proc/cpuinfo: {}", e.toString());
        }
        return out;
    }

    /** {@code openblas_get_corename()}, if OpenBLAS and the foreign linker are available. */
    static Optional<String> coreName() {
        if (ModuleLayer.boot().findModule("jdk.incubator.foreign").isEmpty()) {
            LOG.debug("jdk.incubator.foreign not added; cannot ask OpenBLAS for its kernel");
            return Optional.empty();
        }
        try {
            Method m = Class.forName("io.mnemo.core.OpenBlasCoreName").getDeclaredMethod("get");
            m.setAccessible(true);
            return Optional.ofNullable((String) m.invoke(null)).map(String::trim);
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            LOG.debug("cannot ask OpenBLAS for its kernel: {}", e.toString());
            return Optional.empty();
        }
    }
}
