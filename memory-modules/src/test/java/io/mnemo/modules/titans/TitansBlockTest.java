package io.mnemo.modules.titans;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.GradientCheck;
import io.mnemo.core.Mixer;
import io.mnemo.core.NdBuffers;
import io.mnemo.core.Parameter;
import io.mnemo.core.kernel.Backend;
import java.util.ArrayList;
import java.util.List;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** The Titans layer: finite-difference gradients in double, state carrying, stepping, bad input. */
class TitansBlockTest {
    private static TitansBlockConfig small(int depth, boolean momentum) {
        TitansOpConfig op = TitansOpConfig.defaults().withDepth(depth).withExpansion(2).withMomentum(momentum)
                .withChunkSize(4).withBackend(Backend.REFERENCE);
        return new TitansBlockConfig(6, 2, op, 3, 0.8, true, DataType.DOUBLE, 11);
    }

    private static INDArray randn(DataType t, long seed, long... shape) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.randn(DataType.DOUBLE, shape).castTo(t);
    }

    /** Every array of a block state, in a fixed order (nulls skipped). */
    private static List<INDArray> arrays(TitansBlockState s) {
        List<INDArray> a = new ArrayList<>(s.memory().memory());
        if (s.memory().momentum() != null) {
            a.addAll(s.memory().momentum());
        }
        for (INDArray x : new INDArray[] {s.memory().bufK(), s.memory().bufV(), s.memory().bufTheta(),
                s.memory().bufEta(), s.memory().bufAlpha(), s.convQ(), s.convK(), s.convV()}) {
            if (x != null) {
                a.add(x);
            }
        }
        return a;
    }

    private static double loss(TitansBlock blk, INDArray x, TitansBlockState s0, INDArray ry, List<INDArray> rs) {
        Mixer.Forward<TitansBlockState> f = blk.forward(x, s0, false);
        double l = f.y().mul(ry).sumNumber().doubleValue();
        List<INDArray> fs = arrays(f.state());
        assertEquals(rs.size(), fs.size(), "state arrays");
        for (int i = 0; i < fs.size(); i++) {
            l += fs.get(i).mul(rs.get(i)).sumNumber().doubleValue();
        }
        return l;
    }

    private static void checkArray(String what, INDArray a, INDArray analytic, DoubleSupplier f) {
        double[] x0 = NdBuffers.toDoubles(a);
        long[] shape = a.shape();
        GradientCheck.Result r = GradientCheck.check(xs -> {
            a.assign(NdBuffers.ofDoubles(xs, shape));
            return f.getAsDouble();
        }, x0.clone(), NdBuffers.toDoubles(analytic), 1e-6, 10, 13);
        a.assign(NdBuffers.ofDoubles(x0, shape));
        assertTrue(r.passed(1e-5), what + ": " + r);
    }

    /** From the learned initial memory: every parameter (the initial memory included) and dx. */
    @Test
    void gradientsFromTheLearnedInitialMemoryMatchFiniteDifferences() {
        for (int depth : new int[] {1, 2}) {
            TitansBlock blk = new TitansBlock(small(depth, true));
            int b = 2;
            int t = 7;
            INDArray x = randn(DataType.DOUBLE, 1, b, t, 6).muli(0.5);
            INDArray ry = randn(DataType.DOUBLE, 3, b, t, 6);
            Mixer.Forward<TitansBlockState> probe = blk.forward(x, blk.initialState(b), false);
            List<INDArray> rs = new ArrayList<>();
            long seed = 20;
            for (INDArray a : arrays(probe.state())) {
                rs.add(randn(DataType.DOUBLE, seed++, a.shape()).muli(0.3));
            }
            TitansBlockState s0 = blk.initialState(b);
            Mixer.Forward<TitansBlockState> f = blk.forward(x, s0, true);
            Mixer.Backward<TitansBlockState> bw = blk.backward(f, ry, fromArrays(probe.state(), rs));
            // the loss re-tiles the parameter M0 into a fresh initial state on every evaluation
            DoubleSupplier l = () -> loss(blk, x, blk.initialState(b), ry, rs);
            checkArray("depth " + depth + " dx", x, bw.dx(), l);
            for (Parameter p : blk.parameters()) {
                checkArray("depth " + depth + " " + p.name(), p.value(), p.grad(), l);
            }
            assertTrue(blk.parameters().stream().anyMatch(p -> p.name().startsWith("mem_init_")));
        }
    }

    /** From a carried state with an open chunk: the gradient of every state array, none into M0. */
    @Test
    void gradientsOfACarriedStateWithAnOpenChunkMatchFiniteDifferences() {
        TitansBlock blk = new TitansBlock(small(2, true));
        int b = 2;
        TitansBlockState s0 = blk.forward(randn(DataType.DOUBLE, 5, b, 5, 6), null, false).state().detach();
        assertEquals(1, s0.memory().buffered(), "5 tokens with chunk 4 leave one open");
        INDArray x = randn(DataType.DOUBLE, 6, b, 6, 6).muli(0.5);
        INDArray ry = randn(DataType.DOUBLE, 7, b, 6, 6);
        Mixer.Forward<TitansBlockState> probe = blk.forward(x, s0, false);
        List<INDArray> rs = new ArrayList<>();
        long seed = 40;
        for (INDArray a : arrays(probe.state())) {
            rs.add(randn(DataType.DOUBLE, seed++, a.shape()).muli(0.3));
        }
        Mixer.Forward<TitansBlockState> f = blk.forward(x, s0, true);
        Mixer.Backward<TitansBlockState> bw = blk.backward(f, ry, fromArrays(probe.state(), rs));
        DoubleSupplier l = () -> loss(blk, x, s0, ry, rs);
        List<INDArray> in = arrays(s0);
        List<INDArray> din = arrays(bw.dState());
        assertEquals(in.size(), din.size(), "dState has the incoming state's form");
        for (int i = 0; i < in.size(); i++) {
            checkArray("dState[" + i + "]", in.get(i), din.get(i), l);
        }
        for (Parameter p : blk.parameters()) {
            if (p.name().startsWith("mem_init_")) {
                assertEquals(0.0, p.grad().amaxNumber().doubleValue(), 0.0, p.name() + " gets no gradient");
            }
        }
    }

    private static TitansBlockState fromArrays(TitansBlockState like, List<INDArray> a) {
        int i = 0;
        TitansState m = like.memory();
        List<INDArray> mem = new ArrayList<>();
        for (int l = 0; l < m.memory().size(); l++) {
            mem.add(a.get(i++));
        }
        List<INDArray> mom = null;
        if (m.momentum() != null) {
            mom = new ArrayList<>();
            for (int l = 0; l < m.momentum().size(); l++) {
                mom.add(a.get(i++));
            }
        }
        INDArray[] rest = new INDArray[8];
        INDArray[] src = {m.bufK(), m.bufV(), m.bufTheta(), m.bufEta(), m.bufAlpha(), like.convQ(), like.convK(),
            like.convV()};
        for (int j = 0; j < 8; j++) {
            rest[j] = src[j] == null ? null : a.get(i++);
        }
        return new TitansBlockState(new TitansState(mem, mom, rest[0], rest[1], rest[2], rest[3], rest[4]), rest[5],
                rest[6], rest[7], false);
    }

    @Test
    void piecesAndStepsEqualOnePassAndCpuMatchesReference() {
        TitansOpConfig op = TitansOpConfig.defaults().withChunkSize(8).withBackend(Backend.CPU);
        TitansBlock blk = new TitansBlock(new TitansBlockConfig(16, 2, op, 4, 1.0, true, DataType.FLOAT, 3));
        int t = 21;
        INDArray x = randn(DataType.FLOAT, 9, 2, t, 16);
        Mixer.Forward<TitansBlockState> whole = blk.forward(x, null, false);
        Mixer.Forward<TitansBlockState> a = blk.forward(x.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 11),
                NDArrayIndex.all()).dup(), null, false);
        Mixer.Forward<TitansBlockState> c = blk.forward(x.get(NDArrayIndex.all(), NDArrayIndex.interval(11, t),
                NDArrayIndex.all()).dup(), a.state(), false);
        close("pieces y", Nd4j.concat(1, a.y(), c.y()), whole.y(), 1e-4);
        close("pieces memory", c.state().memory().memory().get(1), whole.state().memory().memory().get(1), 1e-4);
        TitansBlockState s = blk.initialState(2);
        INDArray[] ys = new INDArray[t];
        for (int i = 0; i < t; i++) {
            Mixer.Step<TitansBlockState> st = blk.step(x.get(NDArrayIndex.all(), NDArrayIndex.point(i),
                    NDArrayIndex.all()).dup(), s);
            ys[i] = st.y().reshape(2, 1, 16);
            s = st.state();
        }
        close("steps y", Nd4j.concat(1, ys), whole.y(), 1e-4);
        close("steps momentum", s.memory().momentum().get(0), whole.state().memory().momentum().get(0), 1e-4);

        TitansBlock ref = new TitansBlock(new TitansBlockConfig(16, 2, op.withBackend(Backend.REFERENCE), 4, 1.0, true,
                DataType.DOUBLE, 3));
        Mixer.Forward<TitansBlockState> rf = ref.forward(x.castTo(DataType.DOUBLE), null, true);
        INDArray dy = randn(DataType.DOUBLE, 10, 2, t, 16);
        Mixer.Backward<TitansBlockState> rb = ref.backward(rf, dy, null);
        Mixer.Forward<TitansBlockState> ff = blk.forward(x, null, true);
        Mixer.Backward<TitansBlockState> fb = blk.backward(ff, dy.castTo(DataType.FLOAT), null);
        close("cpu y", ff.y(), rf.y(), 1e-4);
        close("cpu dx", fb.dx(), rb.dx(), 1e-3);
        for (int i = 0; i < blk.parameters().size(); i++) {
            close("cpu d" + blk.parameters().get(i).name(), blk.parameters().get(i).grad(),
                    ref.parameters().get(i).grad(), 1e-3);
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
    void badConfigAndInputAreNamed() {
        var e = assertThrows(IllegalArgumentException.class, () -> new TitansBlockConfig(6, 4,
                TitansOpConfig.defaults(), 4, 1, true, DataType.FLOAT, 0));
        assertEquals("heads=4 does not divide dModel=6", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new TitansBlockConfig(8, 2,
                TitansOpConfig.defaults(), 4, 1, false, DataType.FLOAT, 0));
        assertTrue(e.getMessage().startsWith("a deep memory (depth 2) needs learnedInit"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new TitansBlockConfig(8, 2,
                TitansOpConfig.defaults(), 4, 0, true, DataType.FLOAT, 0));
        assertTrue(e.getMessage().startsWith("thetaMax must be finite and > 0"), e.getMessage());
        TitansBlock blk = new TitansBlock(TitansBlockConfig.of(8, 2));
        e = assertThrows(IllegalArgumentException.class, () -> blk.forward(Nd4j.zeros(DataType.FLOAT, 2, 3, 7), null,
                false));
        assertTrue(e.getMessage().startsWith("x has shape [2, 3, 7], expected [B, T, D]"), e.getMessage());
    }
}
