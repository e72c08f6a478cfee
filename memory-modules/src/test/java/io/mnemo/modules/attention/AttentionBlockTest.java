package io.mnemo.modules.attention;

import static io.mnemo.modules.attention.AttentionTestData.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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

/** The attention block: finite-difference gradients in double (dx, parameters, dState), state carrying, stepping. */
class AttentionBlockTest {
    private static double dot(INDArray a, INDArray b) {
        return a.castTo(DataType.DOUBLE).mul(b.castTo(DataType.DOUBLE)).sumNumber().doubleValue();
    }

    private static INDArray tokens(INDArray x, int from, int to) {
        return x.get(NDArrayIndex.all(), NDArrayIndex.interval(from, to), NDArrayIndex.all()).dup('c');
    }

    /**
     * Loss {@code Σ y·R + Σ keys'·Rk + Σ values'·Rv} of a forward from the cache (k0, v0) at position pos0:
     * exercises dx, every parameter, the incoming cache and the returned cache.
     */
    private static double loss(AttentionBlock blk, INDArray x, INDArray k0, INDArray v0, long pos0, INDArray ry,
            INDArray rk, INDArray rv) {
        AttentionBlockConfig c = blk.config();
        KvCache s0 = KvCache.of(k0, v0, pos0, c.window(), c.window() == 0 ? 0 : c.globalTokens());
        Mixer.Forward<KvCache> f = blk.forward(x, s0, false);
        return dot(f.y(), ry) + dot(f.state().keys(), rk) + dot(f.state().values(), rv);
    }

    @ParameterizedTest(name = "w={0} G={1} rope={2} prefix={3}")
    @CsvSource({"0,0,true,5", "3,1,true,6", "2,0,false,4", "4,2,true,0", "3,3,true,2"})
    void gradientsMatchFiniteDifferences(int w, int g, boolean rope, int prefix) {
        AttentionBlockConfig cfg = new AttentionBlockConfig(6, 2, 4, w, g, rope, 100.0, Backend.REFERENCE,
                DataType.DOUBLE, 5);
        AttentionBlock blk = new AttentionBlock(cfg);
        int b = 2;
        int t = 7;
        KvCache s0 = blk.forward(AttentionTestData.randn(DataType.DOUBLE, 8, b, prefix, 6), null, false).state();
        INDArray k0 = s0.keys();
        INDArray v0 = s0.values();
        long pos0 = s0.position();
        INDArray x = AttentionTestData.randn(DataType.DOUBLE, 1, b, t, 6);
        INDArray ry = AttentionTestData.randn(DataType.DOUBLE, 3, b, t, 6);
        Mixer.Forward<KvCache> f = blk.forward(x, KvCache.of(k0, v0, pos0, cfg.window(), s0.globalTokens()), true);
        INDArray rk = AttentionTestData.randn(DataType.DOUBLE, 4, f.state().keys().shape());
        INDArray rv = AttentionTestData.randn(DataType.DOUBLE, 6, f.state().values().shape());
        KvCache dOut = KvCache.of(rk, rv, f.state().position(), cfg.window(), f.state().globalTokens());
        Mixer.Backward<KvCache> bw = blk.backward(f, ry, dOut);
        String ctx = "w=" + w + " G=" + g + " rope=" + rope + " prefix=" + prefix;
        assertEquals(s0.size(), bw.dState().size(), ctx + " dState size");
        DoubleSupplier l = () -> loss(blk, x, k0, v0, pos0, ry, rk, rv);
        check(ctx + " dx", x, bw.dx(), l);
        if (s0.size() > 0) {
            check(ctx + " d cache keys", k0, bw.dState().keys(), l);
            check(ctx + " d cache values", v0, bw.dState().values(), l);
        }
        for (Parameter p : blk.parameters()) {
            check(ctx + " " + p.name(), p.value(), p.grad(), l);
        }
    }

    /** Central differences on every element of {@code a} (perturbed in place). */
    private static void check(String what, INDArray a, INDArray analytic, DoubleSupplier f) {
        double[] x0 = NdBuffers.toDoubles(a);
        long[] shape = a.shape();
        GradientCheck.Result r = GradientCheck.check(xs -> {
            a.assign(NdBuffers.ofDoubles(xs, shape));
            return f.getAsDouble();
        }, x0.clone(), NdBuffers.toDoubles(analytic), 1e-6, 25, 9);
        a.assign(NdBuffers.ofDoubles(x0, shape));
        assertTrue(r.passed(1e-7), what + ": " + r);
    }

    @ParameterizedTest(name = "{0} w={1} G={2}")
    @CsvSource({"CPU,0,0", "CPU,5,0", "CPU,4,2", "ND4J,0,0", "ND4J,5,2"})
    void piecesAndStepsEqualOnePass(Backend backend, int w, int g) {
        AttentionBlockConfig cfg = AttentionBlockConfig.of(16, 2).withWindow(w).withGlobalTokens(g)
                .withBackend(backend);
        AttentionBlock blk = new AttentionBlock(cfg);
        int b = 2;
        int t = 13;
        String ctx = backend + " w=" + w + " G=" + g;
        INDArray x = AttentionTestData.randn(DataType.FLOAT, 5, b, t, 16);
        Mixer.Forward<KvCache> whole = blk.forward(x, null, false);

        KvCache s = null;
        INDArray[] parts = new INDArray[3];
        int[] cuts = {0, 6, 7, t};
        for (int i = 0; i < 3; i++) {
            Mixer.Forward<KvCache> f = blk.forward(tokens(x, cuts[i], cuts[i + 1]), s, false);
            parts[i] = f.y();
            s = f.state();
        }
        assertClose(ctx + " pieces y", Nd4j.concat(1, parts), whole.y(), 1e-5);
        assertClose(ctx + " pieces cache keys", s.keys(), whole.state().keys(), 1e-6);
        assertClose(ctx + " pieces cache values", s.values(), whole.state().values(), 1e-6);
        assertEquals(t, s.position());

        KvCache st = blk.initialState(b);
        INDArray[] ys = new INDArray[t];
        for (int i = 0; i < t; i++) {
            Mixer.Step<KvCache> r = blk.step(x.get(NDArrayIndex.all(), NDArrayIndex.point(i), NDArrayIndex.all()).dup(),
                    st);
            ys[i] = r.y().reshape(b, 1, 16);
            st = r.state();
        }
        assertClose(ctx + " steps y", Nd4j.concat(1, ys), whole.y(), 1e-5);
        assertClose(ctx + " steps cache keys", st.keys(), whole.state().keys(), 1e-6);
    }

    @Test
    void windowStateStaysBounded() {
        int w = 8;
        int g = 2;
        AttentionBlock blk = new AttentionBlock(AttentionBlockConfig.of(8, 2).withWindow(w).withGlobalTokens(g)
                .withBackend(Backend.CPU));
        INDArray x = AttentionTestData.randn(DataType.FLOAT, 2, 1, 300, 8);
        KvCache s = blk.initialState(1);
        for (int i = 0; i < 100; i++) {
            s = blk.step(x.get(NDArrayIndex.all(), NDArrayIndex.point(i), NDArrayIndex.all()).dup(), s).state();
            assertTrue(s.size() <= g + w - 1, "size " + s.size() + " after " + (i + 1) + " tokens");
            assertTrue(s.capacity() <= g + Math.max(16, 2 * (w - 1)), "capacity " + s.capacity());
        }
        assertEquals(g + w - 1, s.size());
        KvCache big = blk.forward(x, null, false).state();
        assertEquals(g + w - 1, big.size());
        assertTrue(big.capacity() <= g + Math.max(16, 2 * (w - 1)), "capacity after one long forward " + big.capacity());
        // full attention keeps everything, with amortised doubling
        AttentionBlock full = new AttentionBlock(AttentionBlockConfig.of(8, 2).withBackend(Backend.CPU));
        KvCache f = full.forward(x, null, false).state();
        assertEquals(300, f.size());
    }

    @Test
    void emptySequenceAndBadInput() {
        AttentionBlock blk = new AttentionBlock(AttentionBlockConfig.of(16, 4).withWindow(4));
        KvCache s = blk.forward(AttentionTestData.randn(DataType.FLOAT, 1, 3, 5, 16), null, false).state();
        Mixer.Forward<KvCache> f = blk.forward(Nd4j.create(DataType.FLOAT, 3, 0, 16), s, true);
        assertArrayEquals(new long[] {3, 0, 16}, f.y().shape());
        assertClose("state", f.state().keys(), s.keys(), 0);
        Mixer.Backward<KvCache> bw = blk.backward(f, Nd4j.create(DataType.FLOAT, 3, 0, 16), null);
        assertEquals(s.size(), bw.dState().size());
        var e = assertThrows(IllegalArgumentException.class, () -> blk.forward(Nd4j.zeros(DataType.FLOAT, 3, 5, 12),
                null, false));
        assertTrue(e.getMessage().startsWith("x has shape [3, 5, 12], expected [B, T, D]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> blk.forward(Nd4j.zeros(DataType.FLOAT, 2, 5, 16),
                s, false));
        assertTrue(e.getMessage().startsWith("state is KvCache[B=3"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> AttentionBlockConfig.of(10, 3));
        assertEquals("heads=3 does not divide dModel=10", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> AttentionBlockConfig.of(12, 4));
        assertEquals("headDim=3 must be even for rotary embedding", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> AttentionBlockConfig.of(16, 4).withWindow(-3));
        assertEquals("window must be >= 0 (0 = full causal attention), got -3", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> blk.backward(blk.forward(
                AttentionTestData.randn(DataType.FLOAT, 1, 3, 5, 16), null, false), Nd4j.zeros(DataType.FLOAT, 3, 5, 16),
                null));
        assertEquals("backward needs a forward pass run with training=true", e.getMessage());
    }
}
