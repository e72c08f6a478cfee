package io.mnemo.bench;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.kernel.Backend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The parity gates that the JMH benchmarks of the Mamba and attention ops run before timing: every
 * backend they time must pass them, and the gate must reject a wrong result.
 */
class ParityGateTest {

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "nd4j"})
    void selectiveScanBackendsPassTheirGate(String backend) {
        assertDoesNotThrow(() -> SelectiveScanBench.requireParity(Backend.parse(backend)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "nd4j"})
    void ssdBackendsPassTheirGate(String backend) {
        assertDoesNotThrow(() -> SsdBench.requireParity(Backend.parse(backend)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "nd4j"})
    void attentionBackendsPassTheirGate(String backend) {
        assertDoesNotThrow(() -> AttentionBench.requireParity(Backend.parse(backend)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"titans1", "titans2", "gdn"})
    void mirasGenericKernelMatchesEachSpecialisedKernelItIsTimedAgainst(String family) {
        var errs = MirasBench.requireParity(family);
        assertEquals(3, errs.size());
        errs.forEach((name, err) -> assertTrue(err <= MirasBench.TOLERANCE, family + " " + name + ": " + err));
    }

    @Test
    void ssdGateMeasuresRelativeErrorAndFlagsNaN() {
        INDArray e = SsdBench.randn(1, 3, 4);
        assertEquals(0.0, SsdBench.relativeError(e, e));
        INDArray off = e.dup();
        off.putScalar(0, 0, off.getDouble(0, 0) + 1.0);
        assertTrue(SsdBench.relativeError(off, e) > 1e-3);
        INDArray nan = e.dup();
        nan.putScalar(1, 1, Double.NaN);
        assertTrue(!(SsdBench.relativeError(nan, e) <= SsdBench.TOLERANCE));
    }
}
