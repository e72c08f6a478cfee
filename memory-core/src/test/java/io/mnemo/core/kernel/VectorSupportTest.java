package io.mnemo.core.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The {@code OMP_PROC_BIND} warning of {@link VectorSupport}: values that bind warn, the others do not. */
class VectorSupportTest {
    @Test
    void warnsOnlyWhenOpenMpBindsThreads() {
        for (String quiet : new String[] {null, "", " ", "false", "FALSE"}) {
            assertEquals(Optional.empty(), VectorSupport.procBindWarning(quiet), "value " + quiet);
        }
        for (String binds : new String[] {"true", "close", "spread", "master,close"}) {
            Optional<String> w = VectorSupport.procBindWarning(binds);
            assertTrue(w.isPresent(), "value " + binds);
            assertTrue(w.get().startsWith("OMP_PROC_BIND=" + binds + " is set"), w.get());
            assertTrue(w.get().contains("Unset OMP_PROC_BIND"), w.get());
        }
    }
}
