package io.mnemo.modules.titans;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import io.mnemo.core.Mixer;
import io.mnemo.core.NdBuffers;
import io.mnemo.core.Parameter;
import io.mnemo.core.kernel.Backend;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Titans MAC: forward == pieces == steps; the segment semantics against a hand computation in plain double loops;
 * bad configs and inputs. The finite-difference checks are in {@link TitansMacGradientTest}.
 */
class TitansMacBlockTest {
    static final int D = 8;
    private static final int H = 2;
    private static final int CS = 4;

    static TitansMacConfig config(DataType t, Backend be) {
        TitansOpConfig op = TitansOpConfig.defaults().withExpansion(2).withChunkSize(2).withBackend(be);
        return new TitansMacConfig(D, H, CS, 2, op, 1.0, true, true, be, t, 11);
    }

    static INDArray randn(DataType t, long seed, long... shape) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.randn(DataType.DOUBLE, shape).castTo(t);
    }

    /** Non-trivial norms so that their gradients and the gate are exercised. */
    static void perturbNorms(TitansMacBlock blk, long seed) {
        for (Parameter p : blk.parameters()) {
            if (p.name().startsWith("norm_")) {
                p.value().addi(randn(p.value().dataType(), seed++, p.value().shape()).muli(0.3));
            }
        }
    }

    /** A carried state: perturbed memory, random momentum, an open segment of n0 tokens (none if 0). */
    static TitansMacState carried(TitansMacBlock blk, int b, int n0, long seed) {
        TitansState m0 = blk.initialState(b).memory();
        List<INDArray> mem = new ArrayList<>();
        List<INDArray> mom = new ArrayList<>();
        for (INDArray a : m0.memory()) {
            mem.add(a.add(randn(a.dataType(), seed++, a.shape()).muli(0.1)));
            mom.add(randn(a.dataType(), seed++, a.shape()).muli(0.05));
        }
        INDArray buf = n0 == 0 ? null : randn(DataType.DOUBLE, seed, b, n0, D).muli(0.5);
        return new TitansMacState(new TitansState(mem, mom, null, null, null, null, null), buf, false);
    }

    static TitansMacState randomGrad(TitansMacState like, long seed) {
        List<INDArray> mem = new ArrayList<>();
        List<INDArray> mom = new ArrayList<>();
        for (INDArray a : like.memory().memory()) {
            mem.add(randn(a.dataType(), seed++, a.shape()));
            mom.add(randn(a.dataType(), seed++, a.shape()));
        }
        INDArray buf = like.buffer() == null ? null : randn(like.buffer().dataType(), seed, like.buffer().shape());
        return new TitansMacState(new TitansState(mem, mom, null, null, null, null, null), buf, false);
    }

    static double dot(TitansMacState s, TitansMacState g) {
        double v = 0;
        for (int l = 0; l < s.memory().memory().size(); l++) {
            v += s.memory().memory().get(l).mul(g.memory().memory().get(l)).sumNumber().doubleValue();
            v += s.memory().momentum().get(l).mul(g.memory().momentum().get(l)).sumNumber().doubleValue();
        }
        if (g.buffer() != null) {
            v += s.buffer().mul(g.buffer()).sumNumber().doubleValue();
        }
        return v;
    }

    @Test
    void piecesAndStepsEqualOnePass() {
        TitansOpConfig op = TitansOpConfig.defaults().withExpansion(2).withChunkSize(4).withBackend(Backend.CPU);
        TitansMacBlock blk = new TitansMacBlock(new TitansMacConfig(16, 2, 8, 3, op, 1.0, true, true, Backend.CPU,
                DataType.FLOAT, 3));
        int b = 2;
        int t = 21;
        INDArray x = randn(DataType.FLOAT, 3, b, t, 16);
        Mixer.Forward<TitansMacState> whole = blk.forward(x, null, false);
        int[] cuts = {0, 5, 13, 16, t};
        TitansMacState s = null;
        List<INDArray> ys = new ArrayList<>();
        for (int i = 0; i + 1 < cuts.length; i++) {
            Mixer.Forward<TitansMacState> p = blk.forward(x.get(all(), interval(cuts[i], cuts[i + 1]), all()).dup(), s,
                    false);
            ys.add(p.y());
            s = p.state();
        }
        close("pieces y", Nd4j.concat(1, ys.toArray(new INDArray[0])), whole.y(), 1e-4);
        closeStates("pieces state", s, whole.state());
        TitansMacState st = blk.initialState(b);
        INDArray[] steps = new INDArray[t];
        for (int i = 0; i < t; i++) {
            Mixer.Step<TitansMacState> r = blk.step(x.get(all(), point(i), all()).dup(), st);
            steps[i] = r.y().reshape(b, 1, 16);
            st = r.state();
        }
        close("steps y", Nd4j.concat(1, steps), whole.y(), 1e-4);
        closeStates("steps state", st, whole.state());
        assertEquals(5, whole.state().buffered(), "21 = 2·8 + 5 tokens leave an open segment of 5");
    }

    private static void closeStates(String what, TitansMacState a, TitansMacState e) {
        for (int l = 0; l < e.memory().memory().size(); l++) {
            close(what + " memory[" + l + "]", a.memory().memory().get(l), e.memory().memory().get(l), 1e-4);
            close(what + " momentum[" + l + "]", a.memory().momentum().get(l), e.memory().momentum().get(l), 1e-4);
        }
        close(what + " buffer", a.buffer(), e.buffer(), 1e-6);
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

    // ---------------------------------------------------------------- hand computation of the segment semantics

    /**
     * With θ = 0 and α = 0 the memory never changes, so MAC is attention over [P ‖ M₀(q^M_{≤t}) ‖ x_{≤t}] inside
     * each segment, gated by M₀(q^O(y)): computed here with plain loops (own MLP, own RoPE, own masked softmax).
     */
    @Test
    void frozenMemoryReducesToSegmentAttentionOverRetrievedTokens() {
        TitansMacBlock blk = new TitansMacBlock(config(DataType.DOUBLE, Backend.REFERENCE));
        perturbNorms(blk, 70);
        for (Parameter p : blk.parameters()) {
            if (p.name().equals("w_theta") || p.name().equals("w_alpha")) {
                p.value().assign(0);
            }
            if (p.name().equals("b_theta") || p.name().equals("b_alpha")) {
                p.value().assign(-1000);
            }
        }
        int b = 2;
        int t = 10;
        INDArray x = randn(DataType.DOUBLE, 5, b, t, D);
        INDArray y = blk.forward(x, null, false).y();
        close("frozen MAC", y, hand(blk, x, true), 1e-10);
    }

    /**
     * With a live memory: the same hand computation, the memory update of each completed segment run by the
     * (separately tested) reference memory op on keys/values/queries/gates computed here from the attention
     * output y; checks that y is what is written, that the gate reads the updated memory, and that the next
     * segment retrieves from the memory committed at the segment end.
     */
    @Test
    void liveMemoryMatchesHandComputationWithCommittedSegments() {
        TitansMacBlock blk = new TitansMacBlock(config(DataType.DOUBLE, Backend.REFERENCE));
        perturbNorms(blk, 80);
        int b = 2;
        int t = 11;
        INDArray x = randn(DataType.DOUBLE, 6, b, t, D);
        close("live MAC", blk.forward(x, null, false).y(), hand(blk, x, false), 1e-10);
    }

    private static double[] p(TitansMacBlock blk, String name) {
        for (Parameter q : blk.parameters()) {
            if (q.name().equals(name)) {
                return NdBuffers.toDoubles(q.value());
            }
        }
        throw new AssertionError("no parameter " + name);
    }

    /** Row vector times [in, out] matrix. */
    private static double[] mm(double[] v, double[] w, int out) {
        double[] r = new double[out];
        for (int i = 0; i < v.length; i++) {
            for (int j = 0; j < out; j++) {
                r[j] += v[i] * w[i * out + j];
            }
        }
        return r;
    }

    private static double sig(double z) {
        return 1 / (1 + Math.exp(-z));
    }

    private static double[] siluL2(double[] a, boolean l2) {
        int dh = D / H;
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = a[i] * sig(a[i]);
        }
        if (l2) {
            for (int hh = 0; hh < H; hh++) {
                double s = 1e-6;
                for (int i = 0; i < dh; i++) {
                    s += r[hh * dh + i] * r[hh * dh + i];
                }
                for (int i = 0; i < dh; i++) {
                    r[hh * dh + i] /= Math.sqrt(s);
                }
            }
        }
        return r;
    }

    /** M(q) per head: q + W_2 silu(W_1 q) (depth 2), memory layers [B, H, rows, cols]. */
    private static double[] mlp(double[][] mem, int[][] dims, int bi, double[] q) {
        int dh = D / H;
        double[] out = new double[D];
        for (int hh = 0; hh < H; hh++) {
            double[] a = java.util.Arrays.copyOfRange(q, hh * dh, hh * dh + dh);
            for (int l = 0; l < mem.length; l++) {
                int rows = dims[l][0];
                int cols = dims[l][1];
                int off = (bi * H + hh) * rows * cols;
                double[] z = new double[rows];
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < cols; c++) {
                        z[r] += mem[l][off + r * cols + c] * a[c];
                    }
                    if (l < mem.length - 1) {
                        z[r] = z[r] * sig(z[r]);
                    }
                }
                a = z;
            }
            for (int i = 0; i < dh; i++) {
                out[hh * dh + i] = a[i] + q[hh * dh + i];
            }
        }
        return out;
    }

    /** GPT-NeoX rotary embedding of every head of v at position pos. */
    private static double[] rope(double[] v, int pos) {
        int dh = D / H;
        int half = dh / 2;
        double[] r = v.clone();
        for (int hh = 0; hh < H; hh++) {
            for (int c = 0; c < half; c++) {
                double th = pos * Math.pow(10000.0, -2.0 * c / dh);
                double x1 = v[hh * dh + c];
                double x2 = v[hh * dh + c + half];
                r[hh * dh + c] = x1 * Math.cos(th) - x2 * Math.sin(th);
                r[hh * dh + c + half] = x2 * Math.cos(th) + x1 * Math.sin(th);
            }
        }
        return r;
    }

    private static double[] rmsNorm(double[] v, double[] w) {
        double s = 0;
        for (double a : v) {
            s += a * a;
        }
        double r = 1 / Math.sqrt(s / v.length + 1e-6);
        double[] o = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            o[i] = v[i] * r * w[i];
        }
        return o;
    }

    private static INDArray hand(TitansMacBlock blk, INDArray xArr, boolean frozen) {
        TitansMacConfig cfg = blk.config();
        int b = (int) xArr.size(0);
        int t = (int) xArr.size(1);
        int dh = D / H;
        int np = cfg.persistentTokens();
        double[] wqm = p(blk, "w_qm");
        double[] wq = p(blk, "w_q");
        double[] wk = p(blk, "w_k");
        double[] wv = p(blk, "w_v");
        double[] wao = p(blk, "w_ao");
        double[] pt = p(blk, "persistent");
        double[] wqo = p(blk, "w_qo");
        double[] wkm = p(blk, "w_km");
        double[] wvm = p(blk, "w_vm");
        double[] na = p(blk, "norm_a");
        double[] nm = p(blk, "norm_m");
        double[] wo = p(blk, "w_o");
        String[] gn = {"theta", "eta", "alpha"};
        double[][] gw = new double[3][];
        double[][] gb = new double[3][];
        for (int i = 0; i < 3; i++) {
            gw[i] = p(blk, "w_" + gn[i]);
            gb[i] = p(blk, "b_" + gn[i]);
        }
        double[] x = NdBuffers.toDoubles(xArr);
        double[] out = new double[b * t * D];
        TitansState state = blk.initialState(b).memory();
        MemoryLayout lay = cfg.memory().layout(dh);
        int[][] dims = new int[lay.depth()][];
        for (int l = 0; l < lay.depth(); l++) {
            dims[l] = new int[] {lay.rows(l), lay.cols(l)};
        }
        for (int s0 = 0; s0 < t; s0 += CS) {
            int len = Math.min(CS, t - s0);
            double[][] mem = new double[lay.depth()][];
            for (int l = 0; l < lay.depth(); l++) {
                mem[l] = NdBuffers.toDoubles(state.memory().get(l));
            }
            double[][][] ys = new double[b][len][];
            for (int bi = 0; bi < b; bi++) {
                double[][] xs = new double[len][];
                double[][] hs = new double[len][];
                for (int i = 0; i < len; i++) {
                    xs[i] = java.util.Arrays.copyOfRange(x, (bi * t + s0 + i) * D, (bi * t + s0 + i + 1) * D);
                    hs[i] = mlp(mem, dims, bi, siluL2(mm(xs[i], wqm, D), true));
                }
                for (int i = 0; i < len; i++) {
                    // keys/values visible to query i: P, then (h_u, x_u) for u ≤ i
                    List<double[]> keys = new ArrayList<>();
                    List<double[]> vals = new ArrayList<>();
                    for (int j = 0; j < np; j++) {
                        double[] pj = java.util.Arrays.copyOfRange(pt, j * D, (j + 1) * D);
                        keys.add(rope(mm(pj, wk, D), j));
                        vals.add(mm(pj, wv, D));
                    }
                    for (int u = 0; u <= i; u++) {
                        keys.add(rope(mm(hs[u], wk, D), np + u));
                        vals.add(mm(hs[u], wv, D));
                        keys.add(rope(mm(xs[u], wk, D), np + u));
                        vals.add(mm(xs[u], wv, D));
                    }
                    double[] q = rope(mm(xs[i], wq, D), np + i);
                    double[] o = new double[D];
                    for (int hh = 0; hh < H; hh++) {
                        double[] sc = new double[keys.size()];
                        double mx = Double.NEGATIVE_INFINITY;
                        for (int j = 0; j < keys.size(); j++) {
                            for (int c = 0; c < dh; c++) {
                                sc[j] += q[hh * dh + c] * keys.get(j)[hh * dh + c];
                            }
                            sc[j] /= Math.sqrt(dh);
                            mx = Math.max(mx, sc[j]);
                        }
                        double z = 0;
                        for (int j = 0; j < sc.length; j++) {
                            sc[j] = Math.exp(sc[j] - mx);
                            z += sc[j];
                        }
                        for (int j = 0; j < sc.length; j++) {
                            for (int c = 0; c < dh; c++) {
                                o[hh * dh + c] += sc[j] / z * vals.get(j)[hh * dh + c];
                            }
                        }
                    }
                    ys[bi][i] = mm(o, wao, D);
                }
            }
            // memory inputs from y
            double[][][][] in = new double[3][b][len][];
            double[][][][] gates = new double[3][b][len][];
            for (int bi = 0; bi < b; bi++) {
                for (int i = 0; i < len; i++) {
                    in[0][bi][i] = siluL2(mm(ys[bi][i], wqo, D), true);
                    in[1][bi][i] = siluL2(mm(ys[bi][i], wkm, D), true);
                    in[2][bi][i] = siluL2(mm(ys[bi][i], wvm, D), false);
                    for (int g = 0; g < 3; g++) {
                        double[] z = mm(ys[bi][i], gw[g], H);
                        for (int hh = 0; hh < H; hh++) {
                            z[hh] = sig(z[hh] + gb[g][hh]);
                        }
                        gates[g][bi][i] = z;
                    }
                }
            }
            double[][][] rs = new double[b][len][];
            if (frozen) {
                for (int bi = 0; bi < b; bi++) {
                    for (int i = 0; i < len; i++) {
                        rs[bi][i] = mlp(mem, dims, bi, in[0][bi][i]);
                    }
                }
            } else {
                INDArray[] v = new INDArray[3];
                INDArray[] g = new INDArray[3];
                for (int k = 0; k < 3; k++) {
                    double[] fv = new double[b * len * D];
                    double[] fg = new double[b * len * H];
                    for (int bi = 0; bi < b; bi++) {
                        for (int i = 0; i < len; i++) {
                            System.arraycopy(in[k][bi][i], 0, fv, (bi * len + i) * D, D);
                            System.arraycopy(gates[k][bi][i], 0, fg, (bi * len + i) * H, H);
                        }
                    }
                    v[k] = NdBuffers.ofDoubles(fv, b, len, H, dh);
                    g[k] = NdBuffers.ofDoubles(fg, b, len, H);
                }
                TitansOpConfig ref = cfg.memory().withBackend(Backend.REFERENCE);
                TitansForward f = TitansOps.forward(ref, new TitansInputs(v[0], v[1], v[2], g[0].mul(cfg.thetaMax()),
                        g[1], g[2], state), false);
                double[] r = NdBuffers.toDoubles(f.y());
                for (int bi = 0; bi < b; bi++) {
                    for (int i = 0; i < len; i++) {
                        rs[bi][i] = java.util.Arrays.copyOfRange(r, (bi * len + i) * D, (bi * len + i + 1) * D);
                    }
                }
                if (len == CS) {
                    state = f.finalState();
                }
            }
            for (int bi = 0; bi < b; bi++) {
                for (int i = 0; i < len; i++) {
                    double[] a = rmsNorm(ys[bi][i], na);
                    double[] m = rmsNorm(rs[bi][i], nm);
                    double[] u = new double[D];
                    for (int c = 0; c < D; c++) {
                        u[c] = a[c] * sig(m[c]);
                    }
                    System.arraycopy(mm(u, wo, D), 0, out, (bi * t + s0 + i) * D, D);
                }
            }
        }
        return NdBuffers.ofDoubles(out, b, t, D);
    }

    // ---------------------------------------------------------------- validation

    @Test
    void badConfigsAreRejected() {
        TitansOpConfig op = TitansOpConfig.defaults().withChunkSize(4);
        var e = assertThrows(IllegalArgumentException.class, () -> new TitansMacConfig(16, 2, 6, 2, op, 1.0, true, true,
                Backend.CPU, DataType.FLOAT, 1));
        assertTrue(e.getMessage().contains("segmentLength=6 must be a multiple of the memory's chunkSize=4"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new TitansMacConfig(16, 3, 8, 2, op, 1.0, true, true,
                Backend.CPU, DataType.FLOAT, 1));
        assertTrue(e.getMessage().contains("heads=3"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new TitansMacConfig(16, 2, 8, -1, op, 1.0, true, true,
                Backend.CPU, DataType.FLOAT, 1));
        assertTrue(e.getMessage().contains("persistentTokens must be >= 0, got -1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new TitansMacConfig(6, 2, 8, 2, op, 1.0, true, true,
                Backend.CPU, DataType.FLOAT, 1));
        assertTrue(e.getMessage().contains("rope needs an even head dimension"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new TitansMacConfig(16, 2, 8, 2, op, 1.0, false, true,
                Backend.CPU, DataType.FLOAT, 1));
        assertTrue(e.getMessage().contains("needs learnedInit"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new TitansMacConfig(16, 2, 0, 2, op, 1.0, true, true,
                Backend.CPU, DataType.FLOAT, 1));
        assertTrue(e.getMessage().contains("segmentLength must be > 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new TitansMacConfig(16, 2, 8, 2, op, 0, true, true,
                Backend.CPU, DataType.FLOAT, 1));
        assertTrue(e.getMessage().contains("thetaMax"), e.getMessage());
        assertThrows(NullPointerException.class, () -> new TitansMacConfig(16, 2, 8, 2, null, 1.0, true, true,
                Backend.CPU, DataType.FLOAT, 1));
    }

    @Test
    void badInputsAreRejected() {
        TitansMacBlock blk = new TitansMacBlock(config(DataType.FLOAT, Backend.CPU));
        var e = assertThrows(IllegalArgumentException.class, () -> blk.forward(Nd4j.zeros(DataType.FLOAT, 2, 3, D + 1),
                null, false));
        assertTrue(e.getMessage().contains("x"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> blk.forward(Nd4j.zeros(DataType.DOUBLE, 2, 3, D), null,
                false));
        assertTrue(e.getMessage().contains("data type"), e.getMessage());
        TitansMacState s = blk.initialState(2);
        TitansMacState tooLong = new TitansMacState(s.memory(), Nd4j.zeros(DataType.FLOAT, 2, CS, D), false);
        e = assertThrows(IllegalArgumentException.class, () -> blk.forward(Nd4j.zeros(DataType.FLOAT, 2, 1, D), tooLong,
                false));
        assertTrue(e.getMessage().contains("state.buffer holds 4 tokens, expected 0 < n < segmentLength=4"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> blk.forward(Nd4j.zeros(DataType.FLOAT, 3, 1, D), s,
                false));
        assertTrue(e.getMessage().contains("state.memory"), e.getMessage());
        Mixer.Forward<TitansMacState> f = blk.forward(Nd4j.zeros(DataType.FLOAT, 2, 3, D), null, false);
        e = assertThrows(IllegalArgumentException.class, () -> blk.backward(f, Nd4j.zeros(DataType.FLOAT, 2, 3, D),
                null));
        assertTrue(e.getMessage().contains("training=true"), e.getMessage());
        Mixer.Forward<TitansMacState> ft = blk.forward(Nd4j.zeros(DataType.FLOAT, 2, 3, D), null, true);
        e = assertThrows(IllegalArgumentException.class, () -> blk.backward(ft, Nd4j.zeros(DataType.FLOAT, 2, 4, D),
                null));
        assertTrue(e.getMessage().contains("dy"), e.getMessage());
        Mixer.Forward<TitansMacState> f0 = blk.forward(Nd4j.zeros(DataType.FLOAT, 2, 0, D), s, false);
        assertEquals(0, f0.y().size(1));
    }
}
