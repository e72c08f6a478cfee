package io.mnemo.modules.attention;

import static io.mnemo.modules.attention.AttentionTestData.assertClose;
import static io.mnemo.modules.attention.AttentionTestData.assertGradsClose;

import io.mnemo.core.kernel.Backend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * cpu backend (streaming softmax in float) == double-precision reference on o, lse, dq, dk, dv. Named like the
 * linear family's test so that the {@code scalar-kernels} execution runs it with the plain-Java {@code VecOps}.
 */
class CpuKernelParityTest {
    @ParameterizedTest(name = "T={0} w={1} P={2} H={3} G={4}")
    @MethodSource("io.mnemo.modules.attention.AttentionTestData#parityGrid")
    void cpuMatchesReference(int t, int w, int p, int h, int g) {
        int b = 2;
        int dk = 8;
        int dv = 12;
        AttentionInputs in = AttentionTestData.random(b, t, p, h, dk, dv, DataType.FLOAT, 100L * t + 10 * w + p + h);
        AttentionOpConfig cfg = AttentionOpConfig.of().withWindow(w).withGlobalKeys(g);
        AttentionForward ref = AttentionOps.forward(cfg.withBackend(Backend.REFERENCE), in, true);
        AttentionForward cpu = AttentionOps.forward(cfg.withBackend(Backend.CPU), in, true);
        String ctx = "T=" + t + " w=" + w + " P=" + p + " H=" + h + " G=" + g;
        assertClose(ctx + " o", cpu.o(), ref.o(), 1e-4);
        assertClose(ctx + " lse", cpu.lse(), ref.lse(), 1e-5);
        INDArray dO = AttentionTestData.randn(DataType.FLOAT, 7, b, t, h, dv);
        assertGradsClose(ctx, AttentionOps.backward(cpu, dO), AttentionOps.backward(ref, dO), 1e-4);
    }

    /** T = 1000 (not a multiple of the key or query blocks), full and windowed with global keys. */
    @ParameterizedTest(name = "T=1000 w={0} G={1}")
    @org.junit.jupiter.params.provider.CsvSource({"0,0", "50,2"})
    void longSequenceMatchesReference(int w, int g) {
        int b = 1;
        int h = 2;
        AttentionInputs in = AttentionTestData.random(b, 1000, 5, h, 8, 12, DataType.FLOAT, 99 + w);
        AttentionOpConfig cfg = AttentionOpConfig.of().withWindow(w).withGlobalKeys(g);
        AttentionForward ref = AttentionOps.forward(cfg.withBackend(Backend.REFERENCE), in, true);
        AttentionForward got = AttentionOps.forward(cfg.withBackend(Backend.CPU), in, true);
        String ctx = "T=1000 w=" + w + " G=" + g;
        assertClose(ctx + " o", got.o(), ref.o(), 1e-4);
        assertClose(ctx + " lse", got.lse(), ref.lse(), 1e-5);
        INDArray dO = AttentionTestData.randn(DataType.FLOAT, 3, b, 1000, h, 12);
        assertGradsClose(ctx, AttentionOps.backward(got, dO), AttentionOps.backward(ref, dO), 1e-4);
    }
}
