package io.mnemo.modules.attention;

import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;

import io.mnemo.core.NdBuffers;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Broadcast;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The {@code nd4j} backend: attention as batched ND4J matmuls over {@code B·H}, one block of
 * {@code queryBlock} queries at a time (the query-block tiling of FlashAttention, Dao et al. 2022, with
 * whole key ranges per block instead of key tiles). It is the path used on ND4J's CUDA backend.
 *
 * <p>A query block {@code [i0, i1)} needs the keys {@code [lo, P+i1)} with {@code lo} the window start of its
 * first query (0 for full attention), plus the global run {@code [0, min(G, lo))}; those are gathered
 * (two views, concatenated when the global run is not empty), scored with one batched matmul, masked with an
 * additive {@code [qb, nk]} matrix of 0 / −∞ (the causal and window edges inside the block), and turned into
 * probabilities with a row max, exp and row sum. Memory per block is {@code B·H·qb·nk}: {@code nk ≤ qb + w − 1 + G}
 * when windowed, {@code ≤ Tk} otherwise. Forward keeps o and the per-row lse; backward recomputes each block's
 * probabilities from the lse:
 * <pre>
 *   P = exp(S − lse);  dV_sel += Pᵀ dO;  dP = dO V_selᵀ;  dS = P ∘ (dP − rowsum(dO ∘ O));
 *   dQ = scale dS K_sel;  dK_sel += scale dSᵀ Q
 * </pre>
 * and scatters {@code dK_sel}, {@code dV_sel} back onto the key rows they came from. Arithmetic is in the data
 * type of q.
 */
public final class Nd4jAttentionKernel implements AttentionKernel {

    /** Head-major copies {@code [B·H, T, D]} of the inputs and outputs, and the lse {@code [B·H, Tq]}. */
    record Saved(INDArray q, INDArray k, INDArray v, INDArray o, INDArray lse, double scale) {}

    /** Keys of one query block: the global run {@code [0, g)} and the local run {@code [lo, hi)}. */
    private record Keys(int g, int lo, int hi) {
        int count() {
            return g + hi - lo;
        }

        int index(int c) {
            return c < g ? c : lo + c - g;
        }
    }

    @Override
    public AttentionForward forward(AttentionOpConfig cfg, AttentionDims d, AttentionInputs in, boolean save) {
        DataType dt = in.q().dataType();
        if (d.tq() == 0) {
            return new AttentionForward(Nd4j.create(dt, d.b(), 0, d.h(), d.dv()), Nd4j.create(dt, d.b(), 0, d.h()), cfg,
                    d, in, save ? new Saved(null, null, null, null, null, 0) : null);
        }
        int bh = d.b() * d.h();
        INDArray q = headMajor(in.q(), bh, d.tq(), d.dk());
        INDArray k = headMajor(in.k(), bh, d.tk(), d.dk());
        INDArray v = headMajor(in.v(), bh, d.tk(), d.dv());
        INDArray o = Nd4j.create(dt, bh, d.tq(), d.dv());
        INDArray lse = Nd4j.create(dt, bh, d.tq());
        double scale = cfg.scaleFor(d.dk());
        for (int i0 = 0; i0 < d.tq(); i0 += cfg.queryBlock()) {
            int i1 = Math.min(d.tq(), i0 + cfg.queryBlock());
            Keys ks = keys(cfg, d, i0, i1);
            INDArray kSel = select(k, ks);
            INDArray vSel = select(v, ks);
            INDArray s = scores(cfg, d, q, kSel, ks, i0, i1, scale);
            INDArray m = s.max(2);
            Broadcast.sub(s, m, s, 0, 1);
            Transforms.exp(s, false);
            INDArray l = s.sum(2);
            Broadcast.div(s, l, s, 0, 1);
            o.get(all(), interval(i0, i1), all()).assign(Nd4j.matmul(s, vSel));
            lse.get(all(), interval(i0, i1)).assign(m.addi(Transforms.log(l, false)));
        }
        INDArray oOut = o.reshape(d.b(), d.h(), d.tq(), d.dv()).permute(0, 2, 1, 3).dup('c');
        INDArray lseOut = lse.reshape(d.b(), d.h(), d.tq()).permute(0, 2, 1).dup('c');
        return new AttentionForward(oOut, lseOut, cfg, d, in, save ? new Saved(q, k, v, o, lse, scale) : null);
    }

    @Override
    public AttentionGrads backward(AttentionForward fwd, INDArray dO) {
        if (!(fwd.saved() instanceof Saved s)) {
            throw new IllegalArgumentException("backward needs a forward run by the nd4j backend with save=true");
        }
        AttentionDims d = fwd.dims();
        AttentionOpConfig cfg = fwd.config();
        DataType dt = fwd.inputs().q().dataType();
        int bh = d.b() * d.h();
        INDArray dq = Nd4j.zeros(dt, bh, d.tq(), d.dk());
        INDArray dk = Nd4j.zeros(dt, bh, d.tk(), d.dk());
        INDArray dv = Nd4j.zeros(dt, bh, d.tk(), d.dv());
        if (d.tq() > 0) {
            INDArray g = headMajor(dO.castTo(dt), bh, d.tq(), d.dv());
            INDArray rowDot = g.mul(s.o()).sum(2); // D_i = dO_i·o_i  [B·H, Tq]
            for (int i0 = 0; i0 < d.tq(); i0 += cfg.queryBlock()) {
                int i1 = Math.min(d.tq(), i0 + cfg.queryBlock());
                Keys ks = keys(cfg, d, i0, i1);
                INDArray kSel = select(s.k(), ks);
                INDArray vSel = select(s.v(), ks);
                INDArray p = scores(cfg, d, s.q(), kSel, ks, i0, i1, s.scale());
                Broadcast.sub(p, s.lse().get(all(), interval(i0, i1)), p, 0, 1);
                Transforms.exp(p, false);
                INDArray gb = g.get(all(), interval(i0, i1), all());
                scatterAdd(dv, Nd4j.matmul(p, gb, null, true, false, false), ks);
                INDArray ds = Nd4j.matmul(gb, vSel, null, false, true, false);
                Broadcast.sub(ds, rowDot.get(all(), interval(i0, i1)), ds, 0, 1);
                ds.muli(p);
                dq.get(all(), interval(i0, i1), all()).assign(Nd4j.matmul(ds, kSel).muli(s.scale()));
                INDArray qb = s.q().get(all(), interval(i0, i1), all());
                scatterAdd(dk, Nd4j.matmul(ds, qb, null, true, false, false).muli(s.scale()), ks);
            }
        }
        return new AttentionGrads(tokenMajor(dq, d, d.tq(), d.dk()), tokenMajor(dk, d, d.tk(), d.dk()),
                tokenMajor(dv, d, d.tk(), d.dv()));
    }

    /** The key runs query block {@code [i0, i1)} needs. */
    private static Keys keys(AttentionOpConfig cfg, AttentionDims d, int i0, int i1) {
        int lo = cfg.windowStart(d.prefix() + i0);
        return new Keys(cfg.globalRun(lo), lo, d.prefix() + i1);
    }

    /** Scaled, masked scores {@code [B·H, i1−i0, nk]} of a query block against its selected keys. */
    private static INDArray scores(AttentionOpConfig cfg, AttentionDims d, INDArray q, INDArray kSel, Keys ks, int i0,
            int i1, double scale) {
        INDArray s = Nd4j.matmul(q.get(all(), interval(i0, i1), all()), kSel, null, false, true, false).muli(scale);
        int qb = i1 - i0;
        int nk = ks.count();
        double[] mask = new double[qb * nk];
        boolean any = false;
        for (int r = 0; r < qb; r++) {
            int a = d.prefix() + i0 + r;
            for (int c = 0; c < nk; c++) {
                if (!cfg.visible(a, ks.index(c))) {
                    mask[r * nk + c] = Double.NEGATIVE_INFINITY;
                    any = true;
                }
            }
        }
        if (any) {
            Broadcast.add(s, NdBuffers.of(s.dataType(), mask, qb, nk), s, 1, 2);
        }
        return s;
    }

    private static INDArray select(INDArray x, Keys ks) {
        INDArray local = x.get(all(), interval(ks.lo(), ks.hi()), all());
        return ks.g() == 0 ? local : Nd4j.concat(1, x.get(all(), interval(0, ks.g()), all()), local);
    }

    private static void scatterAdd(INDArray dst, INDArray part, Keys ks) {
        if (ks.g() > 0) {
            dst.get(all(), interval(0, ks.g()), all()).addi(part.get(all(), interval(0, ks.g()), all()));
        }
        dst.get(all(), interval(ks.lo(), ks.hi()), all())
                .addi(part.get(all(), interval(ks.g(), ks.count()), all()));
    }

    /** {@code [B, T, H, D] -> [B·H, T, D]}, c-ordered. */
    private static INDArray headMajor(INDArray x, int bh, int t, int dim) {
        return x.permute(0, 2, 1, 3).dup('c').reshape('c', bh, t, dim);
    }

    /** {@code [B·H, T, D] -> [B, T, H, D]}, c-ordered. */
    private static INDArray tokenMajor(INDArray x, AttentionDims d, int t, int dim) {
        return x.reshape('c', d.b(), d.h(), t, dim).permute(0, 2, 1, 3).dup('c');
    }
}
