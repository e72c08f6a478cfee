package io.mnemo.modules.titans;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.GradientCheck;
import io.mnemo.core.Mixer;
import io.mnemo.core.NdBuffers;
import io.mnemo.core.Parameter;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.attention.AttentionBlockConfig;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** Titans MAG: finite differences in double through both branches and the persistent tokens; pieces, steps. */
class TitansMagBlockTest {
    private static TitansMagBlock block(DataType t, Backend be, int d, int window, int persistent) {
        TitansOpConfig op = TitansOpConfig.defaults().withExpansion(2).withChunkSize(4).withBackend(be);
        TitansBlockConfig mem = new TitansBlockConfig(d, 2, op, 3, 1.0, true, t, 5);
        AttentionBlockConfig att = AttentionBlockConfig.of(d, 2).withWindow(window).withGlobalTokens(persistent)
                .withBackend(be).withDataType(t);
        return new TitansMagBlock(att, mem, persistent, 9);
    }

    private static INDArray randn(DataType t, long seed, long... shape) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.randn(DataType.DOUBLE, shape).castTo(t);
    }

    @Test
    void gradientsMatchFiniteDifferences() {
        TitansMagBlock blk = block(DataType.DOUBLE, Backend.REFERENCE, 8, 3, 2);
        int b = 2;
        int t = 6;
        INDArray x = randn(DataType.DOUBLE, 1, b, t, 8).muli(0.5);
        INDArray ry = randn(DataType.DOUBLE, 2, b, t, 8);
        Mixer.Forward<TitansMagBlock.State> f = blk.forward(x, blk.initialState(b), true);
        Mixer.Backward<TitansMagBlock.State> bw = blk.backward(f, ry, null);
        DoubleSupplier l = () -> blk.forward(x, blk.initialState(b), false).y().mul(ry).sumNumber().doubleValue();
        check("dx", x, bw.dx(), l);
        for (Parameter p : blk.parameters()) {
            check(p.name(), p.value(), p.grad(), l);
        }
        assertTrue(blk.parameters().stream().anyMatch(p -> p.name().equals("persistent")));
    }

    private static void check(String what, INDArray a, INDArray analytic, DoubleSupplier f) {
        double[] x0 = NdBuffers.toDoubles(a);
        long[] shape = a.shape();
        GradientCheck.Result r = GradientCheck.check(xs -> {
            a.assign(NdBuffers.ofDoubles(xs, shape));
            return f.getAsDouble();
        }, x0.clone(), NdBuffers.toDoubles(analytic), 1e-6, 8, 17);
        a.assign(NdBuffers.ofDoubles(x0, shape));
        assertTrue(r.passed(1e-5), what + ": " + r);
    }

    @Test
    void piecesAndStepsEqualOnePass() {
        TitansMagBlock blk = block(DataType.FLOAT, Backend.CPU, 16, 5, 3);
        int t = 13;
        INDArray x = randn(DataType.FLOAT, 3, 2, t, 16);
        Mixer.Forward<TitansMagBlock.State> whole = blk.forward(x, null, false);
        Mixer.Forward<TitansMagBlock.State> a = blk.forward(x.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 6),
                NDArrayIndex.all()).dup(), null, false);
        Mixer.Forward<TitansMagBlock.State> c = blk.forward(x.get(NDArrayIndex.all(), NDArrayIndex.interval(6, t),
                NDArrayIndex.all()).dup(), a.state(), false);
        close("pieces y", Nd4j.concat(1, a.y(), c.y()), whole.y(), 1e-4);
        TitansMagBlock.State s = blk.initialState(2);
        INDArray[] ys = new INDArray[t];
        for (int i = 0; i < t; i++) {
            Mixer.Step<TitansMagBlock.State> st = blk.step(x.get(NDArrayIndex.all(), NDArrayIndex.point(i),
                    NDArrayIndex.all()).dup(), s);
            ys[i] = st.y().reshape(2, 1, 16);
            s = st.state();
        }
        close("steps y", Nd4j.concat(1, ys), whole.y(), 1e-4);
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
    void persistentTokensMustStayVisible() {
        TitansBlockConfig mem = TitansBlockConfig.of(8, 2);
        var e = assertThrows(IllegalArgumentException.class, () -> new TitansMagBlock(
                AttentionBlockConfig.of(8, 2).withWindow(4), mem, 2, 0));
        assertTrue(e.getMessage().contains("must keep the 2 persistent tokens as global tokens, got globalTokens=0"),
                e.getMessage());
    }
}
