package io.mnemo.modules.mamba;

import io.mnemo.core.nn.Fn;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.CumSum;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The {@code nd4j} backend of the selective scan: the chunked form of {@code selective_scan_ref}'s
 * recurrence as large batched ND4J ops (the portable path, the only one on CUDA), a loop over chunks only.
 * Within a chunk of c tokens, with {@code x_s = Δ_s u_s B_s} and the cumulative log decay
 * {@code Lc_t = Σ_{r ≤ t} Δ_r A} (all {@code [B, D, c, N]}):
 * <pre>
 *   W[t, s] = exp(Lc_t − Lc_s)  for s ≤ t, else 0           [B, D, c, c, N]
 *   h_t     = exp(Lc_t) ⊙ h₀ + Σ_s W[t, s] ⊙ x_s
 *   y_t     = ⟨C_t, h_t⟩ (+ D u_t) (· silu(z_t))
 * </pre>
 * and the chunk's last h is the next chunk's h₀. The difference {@code Lc_t − Lc_s} is masked to −∞
 * above the diagonal before the exponential, so no factor {@code exp(−Lc_s)} can overflow.
 *
 * <p>Backward (per chunk, in reverse, recomputing the chunk from its saved h₀), with dH the gradient of
 * every h_t inside the chunk (from y_t, plus the next chunk's dh₀ at the last position):
 * <pre>
 *   dx_s  = Σ_{t ≥ s} W[t, s] ⊙ dH_t        dh₀ = Σ_t exp(Lc_t) ⊙ dH_t
 *   dLc_t = dH_t ⊙ h_t − x_t ⊙ dx_t         d(Δ_r A) = Σ_{t ≥ r} dLc_t  (reverse cumulative sum)
 * </pre>
 * The memory is {@code O(B·D·c²·N)} per chunk (choose c ≈ 32–64) plus one h₀ per chunk. Arithmetic is in
 * the inputs' data type.
 */
public final class Nd4jSelectiveScanKernel implements SelectiveScanKernel {

    /** The h₀ of every chunk. */
    record Saved(List<INDArray> starts) {}

    /** Per-chunk tensors of the forward, recomputed by backward. */
    private record Chunk(INDArray uc, INDArray raw, INDArray dt, INDArray lc, INDArray bc, INDArray cc, INDArray x,
            INDArray w, INDArray h, INDArray y) {}

    @Override
    public SelectiveScanForward forward(SelectiveScanConfig cfg, ScanDims s, SelectiveScanInputs in, boolean save) {
        DataType type = in.u().dataType();
        INDArray out = Nd4j.create(type, s.batch(), s.dim(), s.len());
        INDArray h0 = in.initialState() == null ? Nd4j.zeros(type, s.batch(), s.dim(), s.dstate())
                : in.initialState().dup('c');
        List<INDArray> starts = new ArrayList<>();
        for (int t0 = 0; t0 < s.len(); t0 += cfg.chunkSize()) {
            int t1 = Math.min(s.len(), t0 + cfg.chunkSize());
            if (save) {
                starts.add(h0);
            }
            Chunk c = chunk(cfg, s, in, h0, t0, t1);
            INDArray o = c.y();
            if (in.d() != null) {
                o = o.add(c.uc().mul(in.d().reshape(1, s.dim(), 1)));
            }
            if (in.z() != null) {
                o = o.mul(Fn.silu(time(in.z(), t0, t1)));
            }
            out.get(time(t0, t1)).assign(o);
            h0 = c.h().get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(t1 - t0 - 1), NDArrayIndex.all())
                    .dup('c');
        }
        return new SelectiveScanForward(out, h0, cfg, s, in, save ? new Saved(starts) : null);
    }

    private static INDArrayIndex[] time(int t0, int t1) {
        return new INDArrayIndex[] {NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(t0, t1)};
    }

    /** Tokens [t0, t1) of a {@code [B, D, L]} array. */
    private static INDArray time(INDArray a, int t0, int t1) {
        return a.get(time(t0, t1)).dup('c');
    }

    /**
     * Tokens [t0, t1) of B or C for every channel: {@code [1, D, 1, N]} when shared (it broadcasts), else
     * {@code [B, D, c, N]} with each group repeated over its D/G channels.
     */
    private static INDArray channels(INDArray op, ScanDims s, ScanDims.Operand mode, int t0, int t1) {
        if (mode.shared()) {
            return op.reshape(1, s.dim(), 1, s.dstate());
        }
        int g = mode.groups();
        int c = t1 - t0;
        INDArray v = op.reshape(s.batch(), g, s.dstate(), s.len())
                .get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(t0, t1))
                .permute(0, 1, 3, 2).dup('c').reshape(s.batch(), g, 1, c, s.dstate());
        INDArray rep = Nd4j.ones(op.dataType(), 1, 1, s.dim() / g, 1, 1);
        return v.mul(rep).reshape(s.batch(), s.dim(), c, s.dstate());
    }

    private static Chunk chunk(SelectiveScanConfig cfg, ScanDims s, SelectiveScanInputs in, INDArray h0, int t0,
            int t1) {
        int b = s.batch();
        int d = s.dim();
        int n = s.dstate();
        int c = t1 - t0;
        INDArray uc = time(in.u(), t0, t1);
        INDArray raw = time(in.delta(), t0, t1);
        if (in.deltaBias() != null) {
            raw.addi(in.deltaBias().reshape(1, d, 1));
        }
        INDArray dt = cfg.deltaSoftplus() ? Fn.softplus(raw) : raw;
        INDArray lc = cumsum(dt.reshape(b, d, c, 1).mul(in.a().reshape(1, d, 1, n)), false);
        INDArray bc = channels(in.b(), s, s.bMode(), t0, t1);
        INDArray cc = channels(in.c(), s, s.cMode(), t0, t1);
        INDArray x = dt.mul(uc).reshape(b, d, c, 1).mul(bc);
        INDArray diff = lc.reshape(b, d, c, 1, n).sub(lc.reshape(b, d, 1, c, n)).addi(mask(uc.dataType(), c));
        INDArray w = Transforms.exp(diff, false);
        INDArray h = w.mul(x.reshape(b, d, 1, c, n)).sum(3).addi(Transforms.exp(lc, true).muli(h0.reshape(b, d, 1, n)));
        INDArray y = h.mul(cc).sum(3);
        return new Chunk(uc, raw, dt, lc, bc, cc, x, w, h, y);
    }

    /**
     * Cumulative sum over the time axis (2) of {@code [B, D, c, N]}, forward or reverse
     * ({@code Σ_{r ≥ t}}). The custom op, not {@code INDArray.cumsum}: that one fails on a leading size-1
     * dimension ("Illegal index … out of tads").
     */
    private static INDArray cumsum(INDArray x, boolean reverse) {
        INDArray out = x.ulike();
        Nd4j.exec(new CumSum(x, out, false, reverse, 2));
        return out;
    }

    /** {@code [1, 1, c, c, 1]}: 0 where s ≤ t, −∞ above the diagonal. */
    private static INDArray mask(DataType type, int c) {
        double[] m = new double[c * c];
        for (int t = 0; t < c; t++) {
            for (int u = t + 1; u < c; u++) {
                m[t * c + u] = Double.NEGATIVE_INFINITY;
            }
        }
        return io.mnemo.core.NdBuffers.of(type, m, 1, 1, c, c, 1);
    }

    @Override
    public SelectiveScanGrads backward(SelectiveScanForward fwd, INDArray dOut, INDArray dLastState) {
        if (!(fwd.saved() instanceof Saved sv)) {
            throw new IllegalArgumentException("backward needs a forward run by the nd4j backend with save=true");
        }
        SelectiveScanConfig cfg = fwd.config();
        SelectiveScanInputs in = fwd.inputs();
        ScanDims s = fwd.dims();
        DataType type = in.u().dataType();
        int b = s.batch();
        int d = s.dim();
        int n = s.dstate();
        INDArray du = Nd4j.zeros(type, b, d, s.len());
        INDArray dDelta = Nd4j.zeros(type, b, d, s.len());
        INDArray dz = in.z() == null ? null : Nd4j.zeros(type, b, d, s.len());
        INDArray dA = Nd4j.zeros(type, d, n);
        INDArray dB = Nd4j.zeros(type, in.b().shape());
        INDArray dC = Nd4j.zeros(type, in.c().shape());
        INDArray dD = in.d() == null ? null : Nd4j.zeros(type, d);
        INDArray dBias = in.deltaBias() == null ? null : Nd4j.zeros(type, d);
        INDArray dh = dLastState == null ? Nd4j.zeros(type, b, d, n) : dLastState.castTo(type).dup('c');
        int chunks = sv.starts().size();
        for (int k = chunks - 1; k >= 0; k--) {
            int t0 = k * cfg.chunkSize();
            int t1 = Math.min(s.len(), t0 + cfg.chunkSize());
            int c = t1 - t0;
            Chunk ch = chunk(cfg, s, in, sv.starts().get(k), t0, t1);
            INDArray g = dOut == null ? Nd4j.zeros(type, b, d, c) : time(dOut.castTo(type), t0, t1);
            INDArray gy = g;
            if (in.z() != null) {
                INDArray zc = time(in.z(), t0, t1);
                INDArray y1 = in.d() == null ? ch.y() : ch.y().add(ch.uc().mul(in.d().reshape(1, d, 1)));
                dz.get(time(t0, t1)).assign(Fn.siluBackward(zc, g.mul(y1)));
                gy = g.mul(Fn.silu(zc));
            }
            INDArray duc = Nd4j.zeros(type, b, d, c);
            if (in.d() != null) {
                dD.addi(gy.mul(ch.uc()).sum(0, 2));
                duc.addi(gy.mul(in.d().reshape(1, d, 1)));
            }
            // y_t = ⟨C_t, h_t⟩
            INDArray gy4 = gy.reshape(b, d, c, 1);
            reduceInto(dC, gy4.mul(ch.h()), s, s.cMode(), t0, t1);
            INDArray dH = gy4.mul(ch.cc());
            dH.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(c - 1), NDArrayIndex.all()).addi(dh);
            // h_t = exp(Lc_t) h₀ + Σ_s W[t, s] x_s
            INDArray dx = ch.w().mul(dH.reshape(b, d, c, 1, n)).sum(2);
            dh = Transforms.exp(ch.lc(), true).muli(dH).sum(2);
            INDArray dLc = dH.mul(ch.h()).subi(ch.x().mul(dx));
            INDArray dLa = cumsum(dLc, true);
            // Lc = cumsum(Δ A), x = Δ u B
            INDArray dxB = dx.mul(ch.bc()).sum(3);
            INDArray dDt = dLa.mul(in.a().reshape(1, d, 1, n)).sum(3).addi(dxB.mul(ch.uc()));
            dA.addi(dLa.mul(ch.dt().reshape(b, d, c, 1)).sum(0, 2));
            duc.addi(dxB.mul(ch.dt()));
            reduceInto(dB, dx.mul(ch.dt().mul(ch.uc()).reshape(b, d, c, 1)), s, s.bMode(), t0, t1);
            INDArray dRaw = cfg.deltaSoftplus() ? dDt.mul(Fn.sigmoid(ch.raw())) : dDt;
            dDelta.get(time(t0, t1)).assign(dRaw);
            if (dBias != null) {
                dBias.addi(dRaw.sum(0, 2));
            }
            du.get(time(t0, t1)).assign(duc);
        }
        return new SelectiveScanGrads(du, dDelta, dA, dB, dC, dD, dz, dBias, dh);
    }

    /** Adds a per-channel gradient {@code [B, D, c, N]} into B's or C's own layout at tokens [t0, t1). */
    private static void reduceInto(INDArray target, INDArray perChannel, ScanDims s, ScanDims.Operand mode, int t0,
            int t1) {
        if (mode.shared()) {
            target.addi(perChannel.sum(0, 2));
            return;
        }
        int g = mode.groups();
        int c = t1 - t0;
        INDArray red = perChannel.reshape(s.batch(), g, s.dim() / g, c, s.dstate()).sum(2).permute(0, 1, 3, 2);
        INDArray view = target.reshape(s.batch(), g, s.dstate(), s.len())
                .get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(t0, t1));
        view.addi(red);
    }
}
