package io.mnemo.modules.titans;

import static io.mnemo.modules.titans.TitansTestData.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.GradientCheck;
import io.mnemo.core.NdBuffers;
import io.mnemo.core.kernel.Backend;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** The read-only retrieval op (for blocks such as MAC) and the batch-shared initial memory helpers. */
class TitansReadTest {
    private static final int B = 2;
    private static final int H = 2;
    private static final int D = 3;

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3})
    void readEqualsTheCommittedReadOfTheFirstChunk(int depth) {
        for (Backend be : new Backend[] {Backend.REFERENCE, Backend.CPU}) {
            TitansOpConfig cfg = TitansOpConfig.defaults().withBackend(be).withDepth(depth).withExpansion(2)
                    .withChunkSize(8).withReadMode(TitansReadMode.COMMITTED);
            TitansInputs in = TitansTestData.random(cfg, B, 7, H, D, true, 0, DataType.DOUBLE, 3);
            INDArray y = TitansOps.read(cfg, in.q(), in.initialState().memory());
            assertClose(be + " y", y, TitansOps.forward(cfg, in, false).y(), be == Backend.REFERENCE ? 1e-14 : 1e-6);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void referenceReadBackwardMatchesFiniteDifferencesAndCpu(int depth) {
        TitansOpConfig cfg = TitansOpConfig.defaults().withBackend(Backend.REFERENCE).withDepth(depth).withExpansion(2);
        TitansInputs in = TitansTestData.random(cfg, B, 5, H, D, true, 0, DataType.DOUBLE, 4);
        List<INDArray> mem = in.initialState().memory();
        INDArray dY = TitansTestData.randn(DataType.DOUBLE, 5, B, 5, H, D);
        INDArray[] g = TitansOps.readBackward(cfg, in.q(), mem, dY);
        double[] dy = NdBuffers.toDoubles(dY);
        // q
        long[] qs = in.q().shape();
        check("dq", xs -> dot(TitansOps.read(cfg, NdBuffers.ofDoubles(xs, qs), mem), dy), NdBuffers.toDoubles(in.q()),
                g[0]);
        for (int l = 0; l < depth; l++) {
            int li = l;
            long[] s = mem.get(l).shape();
            check("dMemory[" + l + "]", xs -> {
                List<INDArray> m2 = new ArrayList<>(mem);
                m2.set(li, NdBuffers.ofDoubles(xs, s));
                return dot(TitansOps.read(cfg, in.q(), m2), dy);
            }, NdBuffers.toDoubles(mem.get(l)), g[1 + l]);
        }
        // cpu == reference
        TitansOpConfig cpu = cfg.withBackend(Backend.CPU);
        assertClose("cpu y", TitansOps.read(cpu, in.q(), mem), TitansOps.read(cfg, in.q(), mem), 1e-6);
        INDArray[] gc = TitansOps.readBackward(cpu, in.q(), mem, dY);
        for (int i = 0; i < g.length; i++) {
            assertClose("cpu grad " + i, gc[i], g[i], 1e-5);
        }
    }

    private static void check(String what, java.util.function.ToDoubleFunction<double[]> loss, double[] x,
            INDArray analytic) {
        GradientCheck.Result r = GradientCheck.check(loss, x, NdBuffers.toDoubles(analytic), 1e-6, 40, 3);
        assertTrue(r.passed(1e-7), what + ": " + r);
    }

    private static double dot(INDArray a, double[] b) {
        double[] x = NdBuffers.toDoubles(a);
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += x[i] * b[i];
        }
        return s;
    }

    @Test
    void tiledMemoryAndItsBatchSummedGradient() {
        TitansOpConfig cfg = TitansOpConfig.defaults().withBackend(Backend.REFERENCE).withExpansion(2).withChunkSize(2);
        INDArray w1 = TitansTestData.randn(DataType.DOUBLE, 1, H, 2 * D, D).muli(0.5);
        INDArray w2 = TitansTestData.randn(DataType.DOUBLE, 2, H, D, 2 * D).muli(0.5);
        TitansState s = TitansState.tiled(cfg, List.of(w1, w2), B);
        assertArrayEquals(new long[] {B, H, 2 * D, D}, s.memory().get(0).shape());
        for (int b = 0; b < B; b++) {
            assertClose("copy " + b, s.memory().get(1).get(NDArrayIndex.point(b)), w2, 0);
        }
        // the shared parameter's gradient = Σ_b dInitialState.memory: check one layer by finite differences
        TitansInputs in = TitansTestData.random(cfg, B, 5, H, D, false, 0, DataType.DOUBLE, 9).withInitialState(s);
        INDArray dY = TitansTestData.randn(DataType.DOUBLE, 10, B, 5, H, D);
        double[] dy = NdBuffers.toDoubles(dY);
        TitansGrads g = TitansOps.backward(TitansOps.forward(cfg, in, true), dY, null);
        INDArray dW1 = TitansState.sumOverBatch(g.dInitialState().memory()).get(0);
        assertArrayEquals(new long[] {H, 2 * D, D}, dW1.shape());
        check("shared W1", xs -> dot(TitansOps.forward(cfg, in.withInitialState(TitansState.tiled(cfg,
                List.of(NdBuffers.ofDoubles(xs, H, 2 * D, D), w2), B)), false).y(), dy), NdBuffers.toDoubles(w1), dW1);
    }

    @Test
    void badReadInputsAreRejected() {
        TitansOpConfig cfg = TitansOpConfig.defaults().withBackend(Backend.REFERENCE);
        TitansInputs in = TitansTestData.random(cfg, B, 3, H, D, true, 0, DataType.DOUBLE, 11);
        Exception e = assertThrows(IllegalArgumentException.class,
                () -> TitansOps.read(cfg.withDepth(1), in.q(), in.initialState().memory()));
        assertTrue(e.getMessage().contains("read.memory has 2 layers, expected depth=1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TitansOps.readBackward(cfg, in.q(),
                in.initialState().memory(), in.k().get(NDArrayIndex.all(), NDArrayIndex.interval(0, 2)).dup()));
        assertTrue(e.getMessage().contains("dY has shape"), e.getMessage());
    }
}
