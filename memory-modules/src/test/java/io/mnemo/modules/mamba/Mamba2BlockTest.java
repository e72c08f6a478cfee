package io.mnemo.modules.mamba;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.GradientCheck;
import io.mnemo.core.Mixer;
import io.mnemo.core.NdBuffers;
import io.mnemo.core.Parameter;
import io.mnemo.core.kernel.Backend;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** The Mamba-2 layer: finite-difference gradients in double, state carrying, stepping, bad input. */
class Mamba2BlockTest {
    private static INDArray randn(DataType t, long seed, long... shape) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.randn(DataType.DOUBLE, shape).castTo(t);
    }

    private static double dot(INDArray a, INDArray b) {
        return a == null ? 0 : a.castTo(DataType.DOUBLE).mul(b.castTo(DataType.DOUBLE)).sumNumber().doubleValue();
    }

    private static double loss(Mamba2Block blk, INDArray x, Mamba2State s0, INDArray ry, Mamba2State rs) {
        Mixer.Forward<Mamba2State> f = blk.forward(x, s0, false);
        return dot(f.y(), ry) + dot(f.state().ssm(), rs.ssm()) + dot(f.state().convX(), rs.convX())
                + dot(f.state().convB(), rs.convB()) + dot(f.state().convC(), rs.convC());
    }

    private static Mamba2State randomState(Mamba2Block blk, int b, long seed) {
        Mamba2State z = blk.initialState(b);
        return new Mamba2State(randn(DataType.DOUBLE, seed, z.ssm().shape()).muli(0.5),
                randn(DataType.DOUBLE, seed + 1, z.convX().shape()), randn(DataType.DOUBLE, seed + 2, z.convB().shape()),
                randn(DataType.DOUBLE, seed + 3, z.convC().shape()));
    }

    private static void checkArray(String what, INDArray a, INDArray analytic, DoubleSupplier f) {
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
    @CsvSource({"1,7,4", "2,5,3"})
    void gradientsMatchFiniteDifferences(int groups, int t, int chunk) {
        // D=4, expand 2 → inner 8, P=2 → 4 heads, N=3
        Mamba2Block blk = new Mamba2Block(new Mamba2Config(4, 2, 2, 3, groups, 4, chunk, Backend.REFERENCE,
                DataType.DOUBLE, 7));
        int b = 2;
        INDArray x = randn(DataType.DOUBLE, 1, b, t, 4);
        Mamba2State s0 = randomState(blk, b, 2);
        INDArray ry = randn(DataType.DOUBLE, 3, b, t, 4);
        Mamba2State rs = randomState(blk, b, 4);
        Mixer.Forward<Mamba2State> f = blk.forward(x, s0, true);
        Mixer.Backward<Mamba2State> bw = blk.backward(f, ry, rs);
        DoubleSupplier l = () -> loss(blk, x, s0, ry, rs);
        checkArray("dx", x, bw.dx(), l);
        checkArray("d ssm state", s0.ssm(), bw.dState().ssm(), l);
        checkArray("d convX state", s0.convX(), bw.dState().convX(), l);
        checkArray("d convB state", s0.convB(), bw.dState().convB(), l);
        checkArray("d convC state", s0.convC(), bw.dState().convC(), l);
        for (Parameter p : blk.parameters()) {
            checkArray(p.name(), p.value(), p.grad(), l);
        }
    }

    @Test
    void floatBackendsAgreeWithTheDoubleBlock() {
        Mamba2Config dc = new Mamba2Config(8, 2, 4, 4, 2, 4, 8, Backend.REFERENCE, DataType.DOUBLE, 3);
        Mamba2Block ref = new Mamba2Block(dc);
        INDArray x = randn(DataType.DOUBLE, 5, 2, 19, 8);
        INDArray dy = randn(DataType.DOUBLE, 6, 2, 19, 8);
        Mixer.Forward<Mamba2State> rf = ref.forward(x, null, true);
        Mixer.Backward<Mamba2State> rb = ref.backward(rf, dy, null);
        for (Backend be : new Backend[] {Backend.CPU, Backend.ND4J}) {
            Mamba2Block fb = new Mamba2Block(new Mamba2Config(8, 2, 4, 4, 2, 4, 8, be, DataType.FLOAT, 3));
            Mixer.Forward<Mamba2State> ff = fb.forward(x.castTo(DataType.FLOAT), null, true);
            Mixer.Backward<Mamba2State> fbw = fb.backward(ff, dy.castTo(DataType.FLOAT), null);
            close(be + " y", ff.y(), rf.y(), 1e-4);
            close(be + " ssm", ff.state().ssm(), rf.state().ssm(), 1e-4);
            close(be + " dx", fbw.dx(), rb.dx(), 1e-4);
            for (int i = 0; i < fb.parameters().size(); i++) {
                close(be + " d" + fb.parameters().get(i).name(), fb.parameters().get(i).grad(),
                        ref.parameters().get(i).grad(), 2e-4);
            }
        }
    }

    private static void close(String what, INDArray a, INDArray e, double tol) {
        assertArrayEquals(e.shape(), a.shape(), what + " shape");
        double[] x = NdBuffers.toDoubles(a.castTo(DataType.DOUBLE));
        double[] y = NdBuffers.toDoubles(e.castTo(DataType.DOUBLE));
        double diff = 0;
        double ref = 1e-6;
        for (int i = 0; i < x.length; i++) {
            assertTrue(Double.isFinite(x[i]), what + ": non-finite at " + i);
            diff = Math.max(diff, Math.abs(x[i] - y[i]));
            ref = Math.max(ref, Math.abs(y[i]));
        }
        assertTrue(diff / ref <= tol, what + ": relative error " + diff / ref);
    }

    @Test
    void piecesAndStepsEqualOnePass() {
        Mamba2Block blk = new Mamba2Block(new Mamba2Config(16, 2, 8, 8, 1, 4, 8, Backend.CPU, DataType.FLOAT, 1));
        int t = 13;
        INDArray x = randn(DataType.FLOAT, 9, 2, t, 16);
        Mixer.Forward<Mamba2State> whole = blk.forward(x, null, false);
        Mixer.Forward<Mamba2State> a = blk.forward(x.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 6),
                NDArrayIndex.all()).dup(), null, false);
        Mixer.Forward<Mamba2State> c = blk.forward(x.get(NDArrayIndex.all(), NDArrayIndex.interval(6, t),
                NDArrayIndex.all()).dup(), a.state(), false);
        close("pieces y", Nd4j.concat(1, a.y(), c.y()), whole.y(), 1e-5);
        close("pieces ssm", c.state().ssm(), whole.state().ssm(), 1e-5);
        Mamba2State s = blk.initialState(2);
        INDArray[] ys = new INDArray[t];
        for (int i = 0; i < t; i++) {
            Mixer.Step<Mamba2State> st = blk.step(x.get(NDArrayIndex.all(), NDArrayIndex.point(i), NDArrayIndex.all())
                    .dup(), s);
            ys[i] = st.y().reshape(2, 1, 16);
            s = st.state();
        }
        close("steps y", Nd4j.concat(1, ys), whole.y(), 1e-5);
        close("steps ssm", s.ssm(), whole.state().ssm(), 1e-5);
        close("steps convB", s.convB(), whole.state().convB(), 1e-6);
    }

    @Test
    void badConfigAndInputAreNamed() {
        var e = assertThrows(IllegalArgumentException.class, () -> new Mamba2Config(10, 2, 3, 4, 1, 4, 8,
                Backend.CPU, DataType.FLOAT, 0));
        assertTrue(e.getMessage().equals("headDim=3 does not divide the inner width expand*dModel=20"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new Mamba2Config(8, 2, 4, 4, 3, 4, 8, Backend.CPU,
                DataType.FLOAT, 0));
        assertTrue(e.getMessage().equals("groups=3 does not divide the 4 heads"), e.getMessage());
        Mamba2Block blk = new Mamba2Block(Mamba2Config.of(8, 4, 4));
        e = assertThrows(IllegalArgumentException.class, () -> blk.forward(Nd4j.zeros(DataType.FLOAT, 2, 3, 7), null,
                false));
        assertTrue(e.getMessage().startsWith("x has shape [2, 3, 7], expected [B, T, D]"), e.getMessage());
        Mamba2State bad = new Mamba2State(Nd4j.zeros(DataType.FLOAT, 2, 4, 4, 3), null, null, null);
        e = assertThrows(IllegalArgumentException.class, () -> blk.forward(Nd4j.zeros(DataType.FLOAT, 2, 3, 8), bad,
                false));
        assertTrue(e.getMessage().startsWith("state.ssm has shape [2, 4, 4, 3], expected [B, H, P, N]"),
                e.getMessage());
    }
}
