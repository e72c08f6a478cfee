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
 * ("Online normalizer calculation for softmax"). Dot products and row updates go through {@link VecOps}
 * (Vector API when available).
 *
 * <p>Forward, per query row i: keys are visited in blocks of {@value #KEY_BLOCK} over the (at most two)
 * visible runs {@code [0, min(G, lo))} and {@code [lo, P+i]}, {@code lo = max(0, P+i−w+1)} (0 when
 * {@code w = 0}), so windowed attention costs O(Tq·(w+G)) dot products. A running maximum {@code m},
 * normaliser {@code l} and accumulator {@code acc[Dv]} are rescaled once per block when the maximum grows:
 * <pre>
 *   m' = max(m, max_j s_j);  l = e^{m−m'} l + Σ_j e^{s_j−m'};  acc = e^{m−m'} acc + Σ_j e^{s_j−m'} v_j
 *   o_i = acc / l;   lse_i = m + log l   (saved)
 * </pre>
 * Backward recomputes {@code p_ij = exp(scale q_i·k_j − lse_i)} from the saved lse (no score matrix is stored):
 * <pre>
 *   D_i = dO_i·o_i;  dv_j += p_ij dO_i;  ds_ij = p_ij (dO_i·v_j − D_i);
 *   dq_i += scale ds_ij k_j;  dk_j += scale ds_ij q_i
 * </pre>
 * Forward runs in parallel over (batch, head, block of query rows), backward over (batch, head), whose
 * gradient rows are disjoint. Arithmetic is in float whatever the input type.
 */
public final class CpuAttentionKernel implements AttentionKernel {
    static final int KEY_BLOCK = 64;
    private static final int ROW_BLOCK = 32;
    private final VecOps ops = VectorSupport.ops();

    /** Flat float copies of the inputs, the output and the per-row lse. */
    record Saved(float[] q, float[] k, float[] v, float[] o, float[] lse, float scale) {}

    @Override
    public AttentionForward forward(AttentionOpConfig cfg, AttentionDims d, AttentionInputs in, boolean save) {
        float[] q = NdBuffers.toFloats(in.q());
        float[] k = NdBuffers.toFloats(in.k());
        float[] v = NdBuffers.toFloats(in.v());
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
                lse[row] = row(cfg, d, q, k, v, scale, b, h, i, qs, acc, sc);
                int oo = row * d.dv();
                System.arraycopy(acc, 0, o, oo, d.dv());
            }
        });
        DataType t = in.q().dataType();
        return new AttentionForward(NdBuffers.of(t, o, d.b(), d.tq(), d.h(), d.dv()),
                NdBuffers.of(t, lse, d.b(), d.tq(), d.h()), cfg, d, in, save ? new Saved(q, k, v, o, lse, scale) : null);
    }

    /** Online softmax over the visible keys of one query row; leaves {@code o_i} in acc, returns lse_i. */
    private float row(AttentionOpConfig cfg, AttentionDims d, float[] q, float[] k, float[] v, float scale, int b,
            int h, int i, float[] qs, float[] acc, float[] sc) {
        int dk = d.dk();
        int dv = d.dv();
        int a = d.prefix() + i;
        int lo = cfg.windowStart(a);
        int g = cfg.globalRun(lo);
        ops.scaleTo(dk, scale, q, d.qrow(b, i, h) * dk, qs, 0);
        Arrays.fill(acc, 0f);
        float m = Float.NEGATIVE_INFINITY;
        float l = 0f;
        for (int run = 0; run < 2; run++) {
            int from = run == 0 ? 0 : lo;
            int to = run == 0 ? g : a + 1;
            for (int jb = from; jb < to; jb += KEY_BLOCK) {
                int je = Math.min(to, jb + KEY_BLOCK);
                float bm = Float.NEGATIVE_INFINITY;
                for (int j = jb; j < je; j++) {
                    float s = ops.dot(dk, qs, 0, k, d.krow(b, j, h) * dk);
                    sc[j - jb] = s;
                    bm = Math.max(bm, s);
                }
                if (bm > m) {
                    // the running maximum grows: rescale what was accumulated under the old one
                    float corr = m == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(m - bm);
                    l *= corr;
                    ops.scale(dv, corr, acc, 0);
                    m = bm;
                }
                for (int j = jb; j < je; j++) {
                    float p = (float) Math.exp(sc[j - jb] - m);
                    l += p;
                    ops.axpy(dv, p, v, d.krow(b, j, h) * dv, acc, 0);
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
        float[] dq = new float[s.q().length];
        float[] dkk = new float[s.k().length];
        float[] dvv = new float[s.v().length];
        float scale = s.scale();
        IntStream.range(0, d.b() * d.h()).parallel().forEach(bh -> {
            int b = bh / d.h();
            int h = bh % d.h();
            float[] qs = new float[dk];
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
                    for (int j = from; j < to; j++) {
                        int kr = d.krow(b, j, h);
                        float p = (float) Math.exp(ops.dot(dk, qs, 0, s.k(), kr * dk) - lse);
                        ops.axpy(dv, p, g, go, dvv, kr * dv);
                        float ds = p * (ops.dot(dv, g, go, s.v(), kr * dv) - dsum);
                        ops.axpy(dk, scale * ds, s.k(), kr * dk, dq, qo);
                        ops.axpy(dk, ds, qs, 0, dkk, kr * dk);
                    }
                }
            }
        });
        DataType t = fwd.inputs().q().dataType();
        return new AttentionGrads(NdBuffers.of(t, dq, d.b(), d.tq(), d.h(), dk),
                NdBuffers.of(t, dkk, d.b(), d.tk(), d.h(), dk), NdBuffers.of(t, dvv, d.b(), d.tk(), d.h(), dv));
    }
}
