package io.mnemo.modules.attention;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.kernel.VecOps;
import io.mnemo.core.kernel.VectorSupport;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The {@code cpu} backend: streaming (online) softmax per query row in float, after FlashAttention
 * (Dao et al. 2022; Dao 2023, FlashAttention-2, Algorithms 1 and 2) and Milakov &amp; Gimelshein 2018
 * ("Online normalizer calculation for softmax"). Row updates go through {@link VecOps} (Vector API when
 * available).
 *
 * <p>Forward, per query row i: keys are visited in blocks of {@value #KEY_BLOCK} over the (at most two)
 * visible runs {@code [0, min(G, lo))} and {@code [lo, P+i]}, {@code lo = max(0, P+i−w+1)} (0 when
 * {@code w = 0}), so windowed attention costs O(Tq·(w+G)) work. A running maximum {@code m}, normaliser
 * {@code l} and accumulator {@code acc[Dv]} are rescaled once per block when the maximum grows:
 * <pre>
 *   m' = max(m, max_j s_j);  l = e^{m−m'} l + Σ_j e^{s_j−m'};  acc = e^{m−m'} acc + Σ_j e^{s_j−m'} v_j
 *   o_i = acc / l;   lse_i = m + log l   (saved)
 * </pre>
 * Backward recomputes {@code p_ij = exp(scale q_i·k_j − lse_i)} from the saved lse (no score matrix is stored):
 * <pre>
 *   D_i = dO_i·o_i;  dv_j += p_ij dO_i;  ds_ij = p_ij (dO_i·v_j − D_i);
 *   dq_i += scale ds_ij k_j;  dk_j += scale ds_ij q_i
 * </pre>
 *
 * <p>Layout: each (batch, head) gets contiguous copies of its keys and values and their transposes
 * {@code Kᵀ [Dk, Tk]}, {@code Vᵀ [Dv, Tk]}, so that a block of scores {@code s[0, n) = Σ_c q_c Kᵀ[c, jb..jb+n)}
 * (and {@code dO_i·v_j} in the backward) is a run of axpys with no horizontal reductions; blocks shorter than
 * {@value #TRANSPOSED_MIN} keys (small windows) use dot products instead. Forward runs in parallel over
 * (batch, head, block of query rows), backward over (batch, head), whose gradient rows are disjoint.
 * Arithmetic is in float whatever the input type.
 */
public final class CpuAttentionKernel implements AttentionKernel {
    static final int KEY_BLOCK = 64;
    private static final int TRANSPOSED_MIN = 16;
    private static final int ROW_BLOCK = 32;
    private final VecOps ops = VectorSupport.ops();

    /** One (batch, head): keys {@code [Tk, Dk]}, values {@code [Tk, Dv]} and their transposes. */
    record Head(float[] k, float[] v, float[] kt, float[] vt) {}

    /** Flat float copies of q, o and the per-row lse, the per-head key/value layouts, the scale. */
    record Saved(float[] q, float[] o, float[] lse, Head[] heads, float scale) {}

    @Override
    public AttentionForward forward(AttentionOpConfig cfg, AttentionDims d, AttentionInputs in, boolean save) {
        float[] q = NdBuffers.toFloats(in.q());
        // transposes pay off when several query rows share them (or a backward follows), not for one decode step
        boolean transposed = save || d.tq() >= TRANSPOSED_MIN;
        Head[] heads = heads(d, NdBuffers.toFloats(in.k()), NdBuffers.toFloats(in.v()), transposed, save);
        float[] o = new float[d.b() * d.tq() * d.h() * d.dv()];
        float[] lse = new float[d.b() * d.tq() * d.h()];
        float scale = (float) cfg.scaleFor(d.dk());
        int rowBlocks = (d.tq() + ROW_BLOCK - 1) / ROW_BLOCK;
        IntStream.range(0, d.b() * d.h() * rowBlocks).parallel().forEach(task -> {
            int bh = task / rowBlocks;
            int i0 = (task % rowBlocks) * ROW_BLOCK;
            int b = bh / d.h();
            int h = bh % d.h();
            float[] qs = new float[d.dk()];
            float[] acc = new float[d.dv()];
            float[] sc = new float[KEY_BLOCK];
            for (int i = i0; i < Math.min(d.tq(), i0 + ROW_BLOCK); i++) {
                int row = d.qrow(b, i, h);
                ops.scaleTo(d.dk(), scale, q, row * d.dk(), qs, 0);
                lse[row] = row(cfg, d, heads[bh], i, qs, acc, sc);
                System.arraycopy(acc, 0, o, row * d.dv(), d.dv());
            }
        });
        DataType t = in.q().dataType();
        return new AttentionForward(NdBuffers.of(t, o, d.b(), d.tq(), d.h(), d.dv()),
                NdBuffers.of(t, lse, d.b(), d.tq(), d.h()), cfg, d, in, save ? new Saved(q, o, lse, heads, scale) : null);
    }

    /** Per-head contiguous keys/values and their transposes ({@code kt} if asked, {@code vt} for a backward). */
    private static Head[] heads(AttentionDims d, float[] k, float[] v, boolean withKt, boolean withVt) {
        Head[] out = new Head[d.b() * d.h()];
        int tk = d.tk();
        int dk = d.dk();
        int dv = d.dv();
        IntStream.range(0, out.length).parallel().forEach(bh -> {
            int b = bh / d.h();
            int h = bh % d.h();
            float[] kh = new float[tk * dk];
            float[] vh = new float[tk * dv];
            float[] kt = withKt ? new float[dk * tk] : null;
            float[] vt = withVt ? new float[dv * tk] : null;
            for (int j = 0; j < tk; j++) {
                int r = d.krow(b, j, h);
                System.arraycopy(k, r * dk, kh, j * dk, dk);
                System.arraycopy(v, r * dv, vh, j * dv, dv);
                if (withKt) {
                    for (int c = 0; c < dk; c++) {
                        kt[c * tk + j] = kh[j * dk + c];
                    }
                }
                if (withVt) {
                    for (int c = 0; c < dv; c++) {
                        vt[c * tk + j] = vh[j * dv + c];
                    }
                }
            }
            out[bh] = new Head(kh, vh, kt, vt);
        });
        return out;
    }

    /**
     * {@code s[0, n) = x · rows [jb, jb+n) of M} for M given as rows {@code m [Tk, dim]} and, unless null,
     * transposed {@code mt [dim, Tk]}.
     */
    private void scores(int dim, int tk, float[] x, int xo, float[] m, float[] mt, int jb, int n, float[] s) {
        if (mt != null && n >= TRANSPOSED_MIN) {
            Arrays.fill(s, 0, n, 0f);
            for (int c = 0; c < dim; c++) {
                ops.axpy(n, x[xo + c], mt, c * tk + jb, s, 0);
            }
        } else {
            for (int j = 0; j < n; j++) {
                s[j] = ops.dot(dim, x, xo, m, (jb + j) * dim);
            }
        }
    }

    /** Online softmax over the visible keys of one query row; leaves {@code o_i} in acc, returns lse_i. */
    private float row(AttentionOpConfig cfg, AttentionDims d, Head hd, int i, float[] qs, float[] acc, float[] sc) {
        int dv = d.dv();
        int a = d.prefix() + i;
        int lo = cfg.windowStart(a);
        int g = cfg.globalRun(lo);
        Arrays.fill(acc, 0f);
        float m = Float.NEGATIVE_INFINITY;
        float l = 0f;
        for (int run = 0; run < 2; run++) {
            int from = run == 0 ? 0 : lo;
            int to = run == 0 ? g : a + 1;
            for (int jb = from; jb < to; jb += KEY_BLOCK) {
                int n = Math.min(to, jb + KEY_BLOCK) - jb;
                scores(d.dk(), d.tk(), qs, 0, hd.k(), hd.kt(), jb, n, sc);
                float bm = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < n; j++) {
                    bm = Math.max(bm, sc[j]);
                }
                if (bm > m) {
                    // the running maximum grows: rescale what was accumulated under the old one
                    float corr = m == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(m - bm);
                    l *= corr;
                    ops.scale(dv, corr, acc, 0);
                    m = bm;
                }
                for (int j = 0; j < n; j++) {
                    float p = (float) Math.exp(sc[j] - m);
                    l += p;
                    ops.axpy(dv, p, hd.v(), (jb + j) * dv, acc, 0);
                }
            }
        }
        ops.scale(dv, 1f / l, acc, 0);
        return m + (float) Math.log(l);
    }

    @Override
    public AttentionGrads backward(AttentionForward fwd, INDArray dO) {
        if (!(fwd.saved() instanceof Saved s)) {
            throw new IllegalArgumentException("backward needs a forward run by the cpu backend with save=true");
        }
        AttentionDims d = fwd.dims();
        AttentionOpConfig cfg = fwd.config();
        float[] g = NdBuffers.toFloats(dO);
        int dk = d.dk();
        int dv = d.dv();
        int tk = d.tk();
        float[] dq = new float[s.q().length];
        float[] dkk = new float[d.b() * tk * d.h() * dk];
        float[] dvv = new float[d.b() * tk * d.h() * dv];
        float scale = s.scale();
        IntStream.range(0, d.b() * d.h()).parallel().forEach(bh -> {
            int b = bh / d.h();
            int h = bh % d.h();
            Head hd = s.heads()[bh];
            float[] dkh = new float[tk * dk];
            float[] dvh = new float[tk * dv];
            float[] qs = new float[dk];
            float[] p = new float[KEY_BLOCK];
            float[] dp = new float[KEY_BLOCK];
            for (int i = 0; i < d.tq(); i++) {
                int row = d.qrow(b, i, h);
                int go = row * dv;
                int qo = row * dk;
                float dsum = ops.dot(dv, g, go, s.o(), go);
                float lse = s.lse()[row];
                ops.scaleTo(dk, scale, s.q(), qo, qs, 0);
                int a = d.prefix() + i;
                int lo = cfg.windowStart(a);
                int gr = cfg.globalRun(lo);
                for (int run = 0; run < 2; run++) {
                    int from = run == 0 ? 0 : lo;
                    int to = run == 0 ? gr : a + 1;
                    for (int jb = from; jb < to; jb += KEY_BLOCK) {
                        int n = Math.min(to, jb + KEY_BLOCK) - jb;
                        scores(dk, tk, qs, 0, hd.k(), hd.kt(), jb, n, p);
                        scores(dv, tk, g, go, hd.v(), hd.vt(), jb, n, dp);
                        for (int j = 0; j < n; j++) {
                            float pj = (float) Math.exp(p[j] - lse);
                            float ds = pj * (dp[j] - dsum);
                            int jj = jb + j;
                            ops.axpy(dv, pj, g, go, dvh, jj * dv);
                            ops.axpy(dk, scale * ds, hd.k(), jj * dk, dq, qo);
                            ops.axpy(dk, ds, qs, 0, dkh, jj * dk);
                        }
                    }
                }
            }
            for (int j = 0; j < tk; j++) {
                int r = d.krow(b, j, h);
                System.arraycopy(dkh, j * dk, dkk, r * dk, dk);
                System.arraycopy(dvh, j * dv, dvv, r * dv, dv);
            }
        });
        DataType t = fwd.inputs().q().dataType();
        return new AttentionGrads(NdBuffers.of(t, dq, d.b(), d.tq(), d.h(), dk),
                NdBuffers.of(t, dkk, d.b(), tk, d.h(), dk), NdBuffers.of(t, dvv, d.b(), tk, d.h(), dv));
    }

    /**
     * One query per sequence over a KV cache and its own token (the decode step of {@link AttentionOps#step}),
     * straight from the cache's {@code [B, P, H, D]} layout: no per-head copies, one materialised score row.
     *
     * @param q {@code [B, H, Dk]}, k {@code [B, H, Dk]}, v {@code [B, H, Dv]} of the new token (position P)
     * @param ck {@code [B, P, H, Dk]}, cv {@code [B, P, H, Dv]}: the cache
     * @return o {@code [B, H, Dv]}
     */
    float[] decode(AttentionOpConfig cfg, int b, int h, int dk, int dv, int p, float[] q, float[] k, float[] v,
            float[] ck, float[] cv) {
        float scale = (float) cfg.scaleFor(dk);
        float[] o = new float[b * h * dv];
        int lo = cfg.windowStart(p);
        int g = cfg.globalRun(lo);
        IntStream.range(0, b * h).parallel().forEach(bh -> {
            int bi = bh / h;
            int hi = bh % h;
            float[] qs = new float[dk];
            ops.scaleTo(dk, scale, q, bh * dk, qs, 0);
            float[] sc = new float[p + 1];
            float m = Float.NEGATIVE_INFINITY;
            for (int run = 0; run < 2; run++) {
                for (int j = run == 0 ? 0 : lo; j < (run == 0 ? g : p + 1); j++) {
                    sc[j] = j < p ? ops.dot(dk, qs, 0, ck, ((bi * p + j) * h + hi) * dk) : ops.dot(dk, qs, 0, k, bh * dk);
                    m = Math.max(m, sc[j]);
                }
            }
            float l = 0f;
            for (int run = 0; run < 2; run++) {
                for (int j = run == 0 ? 0 : lo; j < (run == 0 ? g : p + 1); j++) {
                    float e = (float) Math.exp(sc[j] - m);
                    l += e;
                    if (j < p) {
                        ops.axpy(dv, e, cv, ((bi * p + j) * h + hi) * dv, o, bh * dv);
                    } else {
                        ops.axpy(dv, e, v, bh * dv, o, bh * dv);
                    }
                }
            }
            ops.scale(dv, 1f / l, o, bh * dv);
        });
        return o;
    }
}
