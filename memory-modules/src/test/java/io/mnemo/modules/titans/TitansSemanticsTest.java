package io.mnemo.modules.titans;

import static io.mnemo.modules.titans.TitansTestData.assertClose;
import static io.mnemo.modules.titans.TitansTestData.assertStateClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.kernel.Backend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/** The definition checked by hand-written ND4J arithmetic on tiny cases, and option semantics. */
class TitansSemanticsTest {
    private static final int D = 4;

    private static INDArray col(INDArray a, int t) {
        // token t of a [1, T, 1, D] array as a column [D, 1]
        return a.get(NDArrayIndex.point(0), NDArrayIndex.point(t), NDArrayIndex.point(0)).reshape(D, 1);
    }

    private static double gate(INDArray a, int t) {
        return a.getDouble(0, t, 0);
    }

    @ParameterizedTest
    @EnumSource(value = Backend.class, names = {"REFERENCE", "CPU"})
    void depthOneChunkOfTwoTakesBothGradientsAtTheChunkStart(Backend be) {
        // T = 2 = C, depth 1, momentum: g_i = (W0 k_i − v_i) k_iᵀ both at W0
        TitansOpConfig cfg = TitansOpConfig.defaults().withBackend(be).withDepth(1).withChunkSize(2);
        TitansInputs in = TitansTestData.random(cfg, 1, 2, 1, D, true, 0, DataType.DOUBLE, 5);
        INDArray w0 = in.initialState().memory().get(0).reshape(D, D);
        INDArray s = in.initialState().momentum().get(0).reshape(D, D);
        INDArray m = w0;
        INDArray[] y = new INDArray[2];
        for (int t = 0; t < 2; t++) {
            INDArray k = col(in.k(), t);
            INDArray g = w0.mmul(k).sub(col(in.v(), t)).mmul(k.transpose());
            s = s.mul(gate(in.eta(), t)).sub(g.mul(gate(in.theta(), t)));
            m = m.mul(1 - gate(in.alpha(), t)).add(s);
            y[t] = m.mmul(col(in.q(), t));
        }
        TitansForward f = TitansOps.forward(cfg, in, false);
        double tol = be == Backend.REFERENCE ? 1e-12 : 1e-5;
        assertClose("y_0", f.y().get(NDArrayIndex.all(), NDArrayIndex.point(0)).reshape(D, 1), y[0], tol);
        assertClose("y_1", f.y().get(NDArrayIndex.all(), NDArrayIndex.point(1)).reshape(D, 1), y[1], tol);
        assertClose("memory", f.finalState().memory().get(0).reshape(D, D).castTo(DataType.DOUBLE), m, tol);
        assertClose("momentum", f.finalState().momentum().get(0).reshape(D, D).castTo(DataType.DOUBLE), s, tol);
    }

    @ParameterizedTest
    @EnumSource(value = Backend.class, names = {"REFERENCE", "CPU"})
    void depthTwoReadIsResidualMlpWithSilu(Backend be) {
        // COMMITTED read of the first chunk: y = q + W2 silu(W1 q) with the initial weights
        TitansOpConfig cfg = TitansOpConfig.defaults().withBackend(be).withExpansion(2).withChunkSize(8)
                .withReadMode(TitansReadMode.COMMITTED);
        TitansInputs in = TitansTestData.random(cfg, 1, 3, 1, D, true, 0, DataType.DOUBLE, 6);
        INDArray w1 = in.initialState().memory().get(0).reshape(2 * D, D);
        INDArray w2 = in.initialState().memory().get(1).reshape(D, 2 * D);
        TitansForward f = TitansOps.forward(cfg, in, false);
        for (int t = 0; t < 3; t++) {
            INDArray q = col(in.q(), t);
            INDArray h = w1.mmul(q);
            INDArray expected = q.add(w2.mmul(h.mul(Transforms.sigmoid(h, true))));
            assertClose("y_" + t, f.y().get(NDArrayIndex.all(), NDArrayIndex.point(t)).reshape(D, 1), expected,
                    be == Backend.REFERENCE ? 1e-12 : 1e-5);
        }
    }

    @ParameterizedTest
    @EnumSource(value = Backend.class, names = {"REFERENCE", "CPU"})
    void clampLimitsEveryWriteToThetaTimesC(Backend be) {
        // depth 1, C = 1, no momentum, α = 0, θ = 1: ‖M_t − M_{t−1}‖ = ‖θ g̃_t‖ = c when the clamp is active
        double c = 1e-3;
        TitansOpConfig cfg = TitansOpConfig.defaults().withBackend(be).withDepth(1).withChunkSize(1).withMomentum(false)
                .withMaxGradNorm(c);
        TitansInputs r = TitansTestData.random(cfg, 1, 3, 1, D, true, 0, DataType.DOUBLE, 7);
        TitansInputs in = new TitansInputs(r.q(), r.k(), r.v(), Nd4j.ones(DataType.DOUBLE, 1, 3, 1), null,
                Nd4j.zeros(DataType.DOUBLE, 1, 3, 1), r.initialState());
        TitansState s = in.initialState();
        for (int t = 0; t < 3; t++) {
            TitansForward f = TitansOps.forward(cfg, TitansTestData.piece(in, t, t + 1, s), false);
            double step = f.finalState().memory().get(0).castTo(DataType.DOUBLE)
                    .sub(s.memory().get(0).castTo(DataType.DOUBLE)).norm2Number().doubleValue();
            assertEquals(c, step, c * (be == Backend.REFERENCE ? 1e-10 : 1e-4), "write " + t);
            s = f.finalState();
        }
        // a limit no gradient reaches is no clamp at all
        TitansForward loose = TitansOps.forward(cfg.withMaxGradNorm(1e6), r, false);
        TitansForward none = TitansOps.forward(cfg.withMaxGradNorm(Double.NaN), r, false);
        assertClose("y", loose.y(), none.y(), 0);
        assertStateClose("state", loose.finalState(), none.finalState(), 0);
    }

    @ParameterizedTest
    @EnumSource(value = Backend.class, names = {"REFERENCE", "CPU"})
    void chunkGatesEqualTokenGatesWhenGatesAreConstantInEachChunk(Backend be) {
        TitansOpConfig cfg = TitansOpConfig.defaults().withBackend(be).withChunkSize(4).withExpansion(2)
                .withReadMode(TitansReadMode.COMMITTED);
        TitansInputs r = TitansTestData.random(cfg, 2, 10, 2, D, true, 0, DataType.DOUBLE, 8);
        // replace each gate by its chunk mean (complete chunks 0..3 and 4..7; the open chunk 8..9 is never written)
        INDArray th = r.theta().dup();
        INDArray et = r.eta().dup();
        INDArray al = r.alpha().dup();
        for (INDArray g : new INDArray[] {th, et, al}) {
            for (int c0 = 0; c0 < 8; c0 += 4) {
                INDArray chunk = g.get(NDArrayIndex.all(), NDArrayIndex.interval(c0, c0 + 4), NDArrayIndex.all());
                chunk.assign(chunk.mean(true, 1).broadcast(chunk.shape()));
            }
        }
        TitansInputs constant = new TitansInputs(r.q(), r.k(), r.v(), th, et, al, r.initialState());
        TitansForward tok = TitansOps.forward(cfg, constant, false);
        TitansForward chunkMeans = TitansOps.forward(cfg.withGates(TitansGateGranularity.CHUNK), r, false);
        double tol = be == Backend.REFERENCE ? 1e-12 : 1e-5;
        assertClose("y", chunkMeans.y(), tok.y(), tol);
        assertClose("memory", chunkMeans.finalState().memory().get(1), tok.finalState().memory().get(1), tol);
        // and the per-token gates do matter
        assertTrue(TitansTestData.relErr(TitansOps.forward(cfg, r, false).y(), tok.y()) > 1e-6);
    }

    @Test
    void deepMemoryWithZeroWeightsNeverLearns() {
        // documented: a zero-initialised deep memory is the identity and receives no gradient
        TitansOpConfig cfg = TitansOpConfig.defaults().withBackend(Backend.REFERENCE).withChunkSize(2);
        TitansInputs in = TitansTestData.random(cfg, 1, 5, 1, D, false, 0, DataType.DOUBLE, 9);
        TitansForward f = TitansOps.forward(cfg, in, false);
        assertClose("y = q", f.y(), in.q(), 0);
        for (INDArray w : f.finalState().memory()) {
            assertEquals(0.0, w.amaxNumber().doubleValue(), 0.0);
        }
    }
}
