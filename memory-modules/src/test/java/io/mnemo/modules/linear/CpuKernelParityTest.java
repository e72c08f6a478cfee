package io.mnemo.modules.linear;

import static io.mnemo.modules.linear.LinearTestData.assertClose;
import static io.mnemo.modules.linear.LinearTestData.assertGradsClose;

import io.mnemo.core.kernel.Backend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** cpu backend == double-precision reference on outputs, final state and every gradient. */
class CpuKernelParityTest {
    @ParameterizedTest(name = "{0} T={1} chunk={2} H={3}")
    @MethodSource("io.mnemo.modules.linear.LinearTestData#parityGrid")
    void cpuMatchesReference(LinearOp op, int t, int chunk, int h) {
        int b = 2;
        int dk = 8;
        int dv = 12;
        LinearInputs in = LinearTestData.random(op, b, t, h, dk, dv, true, DataType.FLOAT, 1000L * t + h);
        LinearOpConfig cfg = LinearOpConfig.of(op).withChunkSize(chunk);
        LinearForward ref = LinearOps.forward(cfg.withBackend(Backend.REFERENCE), in, true);
        LinearForward cpu = LinearOps.forward(cfg.withBackend(Backend.CPU), in, true);
        String ctx = op.opName() + " T=" + t + " C=" + chunk + " H=" + h;
        assertClose(ctx + " o", cpu.o(), ref.o(), 1e-4);
        assertClose(ctx + " final state", cpu.finalState(), ref.finalState(), 1e-4);

        INDArray dO = LinearTestData.randn(DataType.FLOAT, 7, b, t, h, dv);
        INDArray dFin = LinearTestData.randn(DataType.FLOAT, 8, b, h, dk, dv);
        LinearGrads gr = LinearOps.backward(ref, dO, dFin);
        LinearGrads gc = LinearOps.backward(cpu, dO, dFin);
        assertGradsClose(ctx, gc, gr, 1e-4);
    }
}
