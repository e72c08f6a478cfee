package io.mnemo.modules.mamba;

import static io.mnemo.modules.mamba.ScanTestData.assertClose;
import static io.mnemo.modules.mamba.ScanTestData.assertGradsClose;

import io.mnemo.core.kernel.Backend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Selective scan: nd4j backend (chunked form) == double-precision reference on out, last_state and every gradient.
 */
class Nd4jKernelParityTest {
    @ParameterizedTest(name = "{0} L={1} chunk={2}")
    @MethodSource("io.mnemo.modules.mamba.ScanTestData#shortParityGrid")
    void nd4jMatchesReference(ScanTestData.Variant v, int l, int chunk) {
        int b = 2;
        int d = 8;
        int n = 5;
        SelectiveScanInputs in = ScanTestData.random(v, b, d, l, n, true, DataType.FLOAT, 100L * l + chunk);
        SelectiveScanConfig cfg = ScanTestData.config(v).withChunkSize(chunk);
        SelectiveScanForward ref = SelectiveScan.forward(cfg.withBackend(Backend.REFERENCE), in, true);
        SelectiveScanForward cpu = SelectiveScan.forward(cfg.withBackend(Backend.ND4J), in, true);
        String ctx = v + " L=" + l + " chunk=" + chunk;
        assertClose(ctx + " out", cpu.out(), ref.out(), 1e-4);
        assertClose(ctx + " last_state", cpu.lastState(), ref.lastState(), 1e-4);

        INDArray dOut = ScanTestData.randn(DataType.FLOAT, 7, b, d, l);
        INDArray dLast = ScanTestData.randn(DataType.FLOAT, 8, b, d, n);
        assertGradsClose(ctx, SelectiveScan.backward(cpu, dOut, dLast), SelectiveScan.backward(ref, dOut, dLast), 1e-4);
        // without dLastState, and without dOut
        assertGradsClose(ctx + " (no dlast)", SelectiveScan.backward(cpu, dOut, null),
                SelectiveScan.backward(ref, dOut, null), 1e-4);
        assertGradsClose(ctx + " (no dout)", SelectiveScan.backward(cpu, null, dLast),
                SelectiveScan.backward(ref, null, dLast), 1e-4);
    }

    /** B = 1 (a leading size-1 dimension once broke ND4J's own cumsum), every variant. */
    @org.junit.jupiter.api.Test
    void batchOfOneMatchesReference() {
        for (ScanTestData.Variant v : ScanTestData.VARIANTS) {
            SelectiveScanInputs in = ScanTestData.random(v, 1, 8, 40, 4, true, DataType.FLOAT, 77);
            SelectiveScanConfig cfg = ScanTestData.config(v).withChunkSize(16);
            SelectiveScanForward ref = SelectiveScan.forward(cfg.withBackend(Backend.REFERENCE), in, true);
            SelectiveScanForward got = SelectiveScan.forward(cfg.withBackend(Backend.ND4J), in, true);
            assertClose(v + " B=1 out", got.out(), ref.out(), 1e-4);
            assertClose(v + " B=1 last_state", got.lastState(), ref.lastState(), 1e-4);
            INDArray dOut = ScanTestData.randn(DataType.FLOAT, 78, 1, 8, 40);
            assertGradsClose(v + " B=1", SelectiveScan.backward(got, dOut, null),
                    SelectiveScan.backward(ref, dOut, null), 1e-4);
        }
    }

    /** In double the chunked form equals the per-token reference to rounding (1e-10), gradients included. */
    @org.junit.jupiter.params.ParameterizedTest(name = "{0} L={1} chunk={2}")
    @MethodSource("io.mnemo.modules.mamba.ScanTestData#shortParityGrid")
    void nd4jInDoubleMatchesReferenceTightly(ScanTestData.Variant v, int l, int chunk) {
        SelectiveScanInputs in = ScanTestData.random(v, 2, 4, l, 3, true, DataType.DOUBLE, 300L * l + chunk);
        SelectiveScanConfig cfg = ScanTestData.config(v).withChunkSize(chunk);
        SelectiveScanForward ref = SelectiveScan.forward(cfg.withBackend(Backend.REFERENCE), in, true);
        SelectiveScanForward got = SelectiveScan.forward(cfg.withBackend(Backend.ND4J), in, true);
        String ctx = v + " L=" + l + " chunk=" + chunk + " (double)";
        assertClose(ctx + " out", got.out(), ref.out(), 1e-10);
        assertClose(ctx + " last_state", got.lastState(), ref.lastState(), 1e-10);
        INDArray dOut = ScanTestData.randn(DataType.DOUBLE, 5, 2, 4, l);
        INDArray dLast = ScanTestData.randn(DataType.DOUBLE, 6, 2, 4, 3);
        assertGradsClose(ctx, SelectiveScan.backward(got, dOut, dLast), SelectiveScan.backward(ref, dOut, dLast),
                1e-10);
    }
}
