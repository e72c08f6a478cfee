package io.mnemo.modules.linear;

import static io.mnemo.modules.linear.LinearTestData.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.GradientCheck;
import io.mnemo.core.Mixer;
import io.mnemo.core.NdBuffers;
import io.mnemo.core.Parameter;
import io.mnemo.core.kernel.Backend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** The block around the memory: finite-difference gradients in double, state carrying, stepping. */
class LinearAttentionBlockTest {
    private static LinearBlockConfig small(LinearOp op) {
        return new LinearBlockConfig(op, 6, 2, 3, 4, 4, op.delta(), true, 4, Backend.REFERENCE, DataType.DOUBLE, 5);
    }

    private static double dot(INDArray a, INDArray b) {
        return a == null ? 0 : a.castTo(DataType.DOUBLE).mul(b.castTo(DataType.DOUBLE)).sumNumber().doubleValue();
    }

    /** Σ y·R + Σ state·R over every state array: exercises dx, every parameter and every dState path. */
    private static double loss(LinearAttentionBlock blk, INDArray x, LinearBlockState s0, INDArray ry,
            LinearBlockState rs) {
        Mixer.Forward<LinearBlockState> f = blk.forward(x, s0, false);
        return dot(f.y(), ry) + dot(f.state().memory(), rs.memory()) + dot(f.state().convQ(), rs.convQ())
                + dot(f.state().convK(), rs.convK()) + dot(f.state().convV(), rs.convV());
    }

    private static LinearBlockState randomState(LinearAttentionBlock blk, int b, long seed) {
        LinearBlockState z = blk.initialState(b);
        Nd4j.getRandom().setSeed(seed);
        return new LinearBlockState(Nd4j.randn(DataType.DOUBLE, z.memory().shape()).muli(0.5),
                Nd4j.randn(DataType.DOUBLE, z.convQ().shape()), Nd4j.randn(DataType.DOUBLE, z.convK().shape()),
                Nd4j.randn(DataType.DOUBLE, z.convV().shape()));
    }

    @ParameterizedTest
    @EnumSource(LinearOp.class)
    void gradientsMatchFiniteDifferences(LinearOp op) {
        LinearAttentionBlock blk = new LinearAttentionBlock(small(op));
        int b = 2;
        int t = 7;
        INDArray x = LinearTestData.randn(DataType.DOUBLE, 1, b, t, 6);
        LinearBlockState s0 = randomState(blk, b, 2);
        INDArray ry = LinearTestData.randn(DataType.DOUBLE, 3, b, t, 6);
        LinearBlockState rs = randomState(blk, b, 4);

        Mixer.Forward<LinearBlockState> f = blk.forward(x, s0, true);
        Mixer.Backward<LinearBlockState> bw = blk.backward(f, ry, rs);

        checkArray(op + " dx", x, bw.dx(), () -> loss(blk, x, s0, ry, rs));
        checkArray(op + " d memory", s0.memory(), bw.dState().memory(), () -> loss(blk, x, s0, ry, rs));
        checkArray(op + " d conv_q state", s0.convQ(), bw.dState().convQ(), () -> loss(blk, x, s0, ry, rs));
        checkArray(op + " d conv_k state", s0.convK(), bw.dState().convK(), () -> loss(blk, x, s0, ry, rs));
        checkArray(op + " d conv_v state", s0.convV(), bw.dState().convV(), () -> loss(blk, x, s0, ry, rs));
        for (Parameter p : blk.parameters()) {
            checkArray(op + " " + p.name(), p.value(), p.grad(), () -> loss(blk, x, s0, ry, rs));
        }
    }

    /** Central differences on every element of {@code a} (perturbed in place). */
    private static void checkArray(String what, INDArray a, INDArray analytic, java.util.function.DoubleSupplier f) {
        double[] x0 = NdBuffers.toDoubles(a);
        long[] shape = a.shape();
        GradientCheck.Result r = GradientCheck.check(xs -> {
            a.assign(NdBuffers.ofDoubles(xs, shape));
            return f.getAsDouble();
        }, x0.clone(), NdBuffers.toDoubles(analytic), 1e-6, 12, 9);
        a.assign(NdBuffers.ofDoubles(x0, shape));
        assertTrue(r.passed(1e-6), what + ": " + r);
    }

    @ParameterizedTest
    @EnumSource(LinearOp.class)
    void piecesAndStepsEqualOnePass(LinearOp op) {
        LinearBlockConfig cfg = LinearBlockConfig.of(op, 16, 2).withBackend(Backend.CPU).withChunkSize(8);
        LinearAttentionBlock blk = new LinearAttentionBlock(cfg);
        int t = 13;
        INDArray x = LinearTestData.randn(DataType.FLOAT, 5, 2, t, 16);
        Mixer.Forward<LinearBlockState> whole = blk.forward(x, null, false);

        Mixer.Forward<LinearBlockState> a = blk.forward(x.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 6),
                NDArrayIndex.all()).dup(), null, false);
        Mixer.Forward<LinearBlockState> c = blk.forward(x.get(NDArrayIndex.all(), NDArrayIndex.interval(6, t),
                NDArrayIndex.all()).dup(), a.state(), false);
        assertClose(op + " pieces y", Nd4j.concat(1, a.y(), c.y()), whole.y(), 1e-5);
        assertClose(op + " pieces memory", c.state().memory(), whole.state().memory(), 1e-5);

        LinearBlockState s = blk.initialState(2);
        INDArray[] ys = new INDArray[t];
        for (int i = 0; i < t; i++) {
            Mixer.Step<LinearBlockState> st = blk.step(x.get(NDArrayIndex.all(), NDArrayIndex.point(i),
                    NDArrayIndex.all()).dup(), s);
            ys[i] = st.y().reshape(2, 1, 16);
            s = st.state();
        }
        assertClose(op + " steps y", Nd4j.concat(1, ys), whole.y(), 1e-5);
        assertClose(op + " steps memory", s.memory(), whole.state().memory(), 1e-5);
        assertClose(op + " steps conv", s.convK(), whole.state().convK(), 1e-6);
    }

    @Test
    void emptySequenceAndBadInput() {
        LinearAttentionBlock blk = new LinearAttentionBlock(LinearBlockConfig.of(LinearOp.GATED_DELTA_RULE, 16, 4));
        LinearBlockState s = blk.initialState(3);
        Mixer.Forward<LinearBlockState> f = blk.forward(Nd4j.create(DataType.FLOAT, 3, 0, 16), s, true);
        assertArrayEquals(new long[] {3, 0, 16}, f.y().shape());
        assertClose("state", f.state().memory(), s.memory(), 0);
        var e = assertThrows(IllegalArgumentException.class, () -> blk.forward(Nd4j.zeros(DataType.FLOAT, 3, 5, 12),
                null, false));
        assertTrue(e.getMessage().startsWith("x has shape [3, 5, 12], expected [B, T, D]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> LinearBlockConfig.of(LinearOp.GLA, 10, 3));
        assertTrue(e.getMessage().equals("heads=3 does not divide dModel=10"), e.getMessage());
        LinearBlockState badConv = new LinearBlockState(s.memory(), s.convQ(), Nd4j.zeros(DataType.FLOAT, 3, 2, 16),
                s.convV());
        e = assertThrows(IllegalArgumentException.class, () -> blk.forward(Nd4j.zeros(DataType.FLOAT, 3, 5, 16),
                badConv, false));
        assertTrue(e.getMessage().startsWith("state.convK has shape [3, 2, 16], expected [B, K-1, H*Dk] = [3, 3, 16]"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> blk.step(Nd4j.zeros(DataType.FLOAT, 3, 16), badConv));
        assertTrue(e.getMessage().startsWith("state.convK has shape"), e.getMessage());
    }
}
