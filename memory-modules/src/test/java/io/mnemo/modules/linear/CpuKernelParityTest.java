package io.mnemo.modules.linear;

import static io.mnemo.modules.linear.LinearTestData.assertClose;
import static io.mnemo.modules.linear.LinearTestData.assertGradsClose;

import io.mnemo.core.kernel.Backend;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** cpu backend == double-precision reference on outputs, final state and every gradient. */
class CpuKernelParityTest {
    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (LinearOp op : LinearOp.values()) {
            for (int t : new int[] {1, 7, 63, 100, 1000}) {
                for (int chunk : new int[] {16, 64}) {
                    for (int h : new int[] {1, 3}) {
                        if (t == 1000 && h == 3) {
                            continue; // keeps the double reference quick; H=3 is covered at the other lengths
                        }
                        out.add(Arguments.of(op, t, chunk, h));
                    }
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} T={1} chunk={2} H={3}")
    @MethodSource("cases")
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
