package io.mnemo.modules.titans;

import static io.mnemo.core.NdBuffers.concatTokens;

import io.mnemo.core.NdBuffers;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One call's problem in flat double arrays, shared by the backends: the <em>virtual sequence</em> is the
 * open chunk's buffered tokens followed by this call's tokens, so chunk boundaries fall at multiples
 * of C of the virtual index {@code tv}. Only this call's tokens ({@code tv ≥ n0}) are read; the
 * tokens after the last complete chunk become the outgoing buffer.
 *
 * <p>Layouts: k, v {@code [B, TV, H, D]}; q and y {@code [B, T, H, D]}; gates {@code [B, TV, H]};
 * memory and momentum {@code [B·H, P]} flattened by {@link MemoryLayout}.
 */
final class TitansSeq {
    final TitansOpConfig cfg;
    final MemoryLayout m;
    final TitansDims d;
    final int tv;
    final int n0;
    final double[] q;
    final double[] k;
    final double[] v;
    final double[] theta;
    final double[] eta;
    final double[] alpha;
    final double[] mem0;
    final double[] mom0;

    private TitansSeq(TitansOpConfig cfg, TitansDims d, double[] q, double[] k, double[] v, double[] theta,
            double[] eta, double[] alpha, double[] mem0, double[] mom0) {
        this.cfg = cfg;
        this.m = cfg.layout(d.d());
        this.d = d;
        this.tv = d.virtualLength();
        this.n0 = d.buffered();
        this.q = q;
        this.k = k;
        this.v = v;
        this.theta = theta;
        this.eta = eta;
        this.alpha = alpha;
        this.mem0 = mem0;
        this.mom0 = mom0;
    }

    /** Packs validated inputs. */
    static TitansSeq of(TitansOpConfig cfg, TitansDims d, TitansInputs in) {
        TitansState s = in.initialState();
        int n0 = d.buffered();
        int hd = d.h() * d.d();
        MemoryLayout m = cfg.layout(d.d());
        double[] mem0;
        double[] mom0 = null;
        if (s == null) {
            mem0 = new double[d.b() * d.h() * m.size()];
            mom0 = cfg.momentum() ? new double[mem0.length] : null;
        } else {
            mem0 = flatten(s.memory(), m, d.b() * d.h());
            mom0 = s.momentum() == null ? null : flatten(s.momentum(), m, d.b() * d.h());
        }
        return new TitansSeq(cfg, d, doubles(in.q()),
                concatTokens(n0 == 0 ? null : s.bufK(), n0, in.k(), d.t(), d.b(), hd),
                concatTokens(n0 == 0 ? null : s.bufV(), n0, in.v(), d.t(), d.b(), hd),
                concatTokens(n0 == 0 ? null : s.bufTheta(), n0, in.theta(), d.t(), d.b(), d.h()),
                cfg.momentum() ? concatTokens(n0 == 0 ? null : s.bufEta(), n0, in.eta(), d.t(), d.b(), d.h()) : null,
                concatTokens(n0 == 0 ? null : s.bufAlpha(), n0, in.alpha(), d.t(), d.b(), d.h()), mem0, mom0);
    }

    /** Number of virtual tokens in complete chunks (committed by this call). */
    int committedEnd() {
        return tv / cfg.chunkSize() * cfg.chunkSize();
    }

    /** Index of (b, tv, h) in a {@code [B, TV, H]} array. */
    int gate(int b, int t, int h) {
        return (b * tv + t) * d.h() + h;
    }

    /** Offset of (b, tv, h) in a {@code [B, TV, H, D]} array. */
    int vec(int b, int t, int h) {
        return gate(b, t, h) * d.d();
    }

    /** Offset of virtual token tv ≥ n0 in q and y {@code [B, T, H, D]}. */
    int out(int b, int t, int h) {
        return ((b * d.t() + t - n0) * d.h() + h) * d.d();
    }

    /** The outgoing state from flat memory and momentum {@code [B·H, P]}. */
    TitansState finalState(DataType type, double[] mem, double[] mom) {
        int e = committedEnd();
        int n = tv - e;
        int hd = d.h() * d.d();
        return new TitansState(unflatten(type, mem, m, d.b(), d.h()), mom == null ? null : unflatten(type, mom, m, d.b(), d.h()),
                n == 0 ? null : NdBuffers.of(type, range(k, e, n, hd), d.b(), n, d.h(), d.d()),
                n == 0 ? null : NdBuffers.of(type, range(v, e, n, hd), d.b(), n, d.h(), d.d()),
                n == 0 ? null : NdBuffers.of(type, range(theta, e, n, d.h()), d.b(), n, d.h()),
                n == 0 || eta == null ? null : NdBuffers.of(type, range(eta, e, n, d.h()), d.b(), n, d.h()),
                n == 0 ? null : NdBuffers.of(type, range(alpha, e, n, d.h()), d.b(), n, d.h()));
    }

    /** Adjoints of the virtual sequence, seeded with the outgoing buffer's gradient. */
    final class Adjoints {
        final double[] dq = new double[q.length];
        final double[] dk = new double[k.length];
        final double[] dv = new double[v.length];
        final double[] dTheta = new double[theta.length];
        final double[] dEta = eta == null ? null : new double[eta.length];
        final double[] dAlpha = new double[alpha.length];
        /** {@code [B·H, P]}: seeded with dFinal memory, the incoming memory's gradient after backward. */
        final double[] dMem = new double[mem0.length];
        final double[] dMom = mom0 == null ? null : new double[mom0.length];

        Adjoints(TitansState dFinal) {
            if (dFinal == null) {
                return;
            }
            if (dFinal.memory() != null) {
                addFlat(dFinal.memory(), dMem);
            }
            if (dFinal.momentum() != null && dMom != null) {
                addFlat(dFinal.momentum(), dMom);
            }
            int e = committedEnd();
            int n = tv - e;
            if (n > 0) {
                int hd = d.h() * d.d();
                addRange(dFinal.bufK(), dk, e, n, hd);
                addRange(dFinal.bufV(), dv, e, n, hd);
                addRange(dFinal.bufTheta(), dTheta, e, n, d.h());
                if (dEta != null) {
                    addRange(dFinal.bufEta(), dEta, e, n, d.h());
                }
                addRange(dFinal.bufAlpha(), dAlpha, e, n, d.h());
            }
        }

        private void addFlat(List<INDArray> layers, double[] dst) {
            double[] f = flatten(layers, m, d.b() * d.h());
            for (int i = 0; i < f.length; i++) {
                dst[i] += f[i];
            }
        }

        private void addRange(INDArray a, double[] dst, int from, int n, int inner) {
            if (a == null) {
                return;
            }
            double[] x = NdBuffers.toDoubles(a);
            for (int b = 0; b < d.b(); b++) {
                for (int i = 0; i < n * inner; i++) {
                    dst[(b * tv + from) * inner + i] += x[b * n * inner + i];
                }
            }
        }

        /** The gradients in the inputs' shapes, split at n0 into this call's tokens and the incoming buffer. */
        TitansGrads toGrads(DataType type) {
            int hd = d.h() * d.d();
            int t = d.t();
            TitansState dInit = new TitansState(unflatten(type, dMem, m, d.b(), d.h()),
                    dMom == null ? null : unflatten(type, dMom, m, d.b(), d.h()),
                    n0 == 0 ? null : NdBuffers.of(type, range(dk, 0, n0, hd), d.b(), n0, d.h(), d.d()),
                    n0 == 0 ? null : NdBuffers.of(type, range(dv, 0, n0, hd), d.b(), n0, d.h(), d.d()),
                    n0 == 0 ? null : NdBuffers.of(type, range(dTheta, 0, n0, d.h()), d.b(), n0, d.h()),
                    n0 == 0 || dEta == null ? null : NdBuffers.of(type, range(dEta, 0, n0, d.h()), d.b(), n0, d.h()),
                    n0 == 0 ? null : NdBuffers.of(type, range(dAlpha, 0, n0, d.h()), d.b(), n0, d.h()));
            return new TitansGrads(NdBuffers.of(type, dq, d.b(), t, d.h(), d.d()),
                    NdBuffers.of(type, range(dk, n0, t, hd), d.b(), t, d.h(), d.d()),
                    NdBuffers.of(type, range(dv, n0, t, hd), d.b(), t, d.h(), d.d()),
                    NdBuffers.of(type, range(dTheta, n0, t, d.h()), d.b(), t, d.h()),
                    dEta == null ? null : NdBuffers.of(type, range(dEta, n0, t, d.h()), d.b(), t, d.h()),
                    NdBuffers.of(type, range(dAlpha, n0, t, d.h()), d.b(), t, d.h()), dInit);
        }
    }

    /** Tokens [from, from + n) of a virtual {@code [B, TV, inner]} array as {@code [B, n, inner]}. */
    private double[] range(double[] a, int from, int n, int inner) {
        return NdBuffers.tokenRange(a, d.b(), tv, from, n, inner);
    }

    private static double[] doubles(INDArray a) {
        return a.length() == 0 ? new double[0] : NdBuffers.toDoubles(a);
    }


    /** Layers {@code [B, H, rows, cols]} to {@code [B·H, P]}. */
    static double[] flatten(List<INDArray> layers, MemoryLayout m, int bh) {
        int p = m.size();
        double[] out = new double[bh * p];
        for (int l = 0; l < m.depth(); l++) {
            if (layers.get(l) == null) {
                continue;
            }
            double[] x = NdBuffers.toDoubles(layers.get(l));
            int sz = m.rows(l) * m.cols(l);
            for (int i = 0; i < bh; i++) {
                System.arraycopy(x, i * sz, out, i * p + m.offset(l), sz);
            }
        }
        return out;
    }

    /** {@code [B·H, P]} to layers {@code [B, H, rows, cols]}. */
    static List<INDArray> unflatten(DataType type, double[] flat, MemoryLayout m, int b, int h) {
        int p = m.size();
        List<INDArray> out = new ArrayList<>();
        for (int l = 0; l < m.depth(); l++) {
            int sz = m.rows(l) * m.cols(l);
            double[] x = new double[b * h * sz];
            for (int i = 0; i < b * h; i++) {
                System.arraycopy(flat, i * p + m.offset(l), x, i * sz, sz);
            }
            out.add(NdBuffers.of(type, x, b, h, m.rows(l), m.cols(l)));
        }
        return out;
    }
}
