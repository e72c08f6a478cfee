package io.mnemo.modules.miras;

import static io.mnemo.core.NdBuffers.concatTokens;

import io.mnemo.core.NdBuffers;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One call's problem in flat double arrays: the <em>virtual sequence</em> is the open chunk's buffered
 * tokens followed by this call's tokens, so chunk boundaries fall at multiples of C of the virtual
 * index. Only this call's tokens ({@code tv ≥ n0}) are read; the tokens after the last complete chunk
 * become the outgoing buffer. Layouts: per-token arrays {@code [B, TV, H, w]} (w = Dk, Dv, 1 or the gate
 * width), q and y {@code [B, T, H, ·]}, memory and momentum {@code [B·H, P]}.
 */
final class MirasSeq {
    final MirasConfig cfg;
    final MemoryShape s;
    final MirasDims d;
    final int tv;
    final int n0;
    /** Width of the decay input per token and head: 0, 1 or Dk. */
    final int gw;
    final double[] q;
    final double[] k;
    final double[] v;
    final double[] theta;
    final double[] eta;
    final double[] decay;
    final double[] param;
    final double[] mem0;
    final double[] mom0;

    MirasSeq(MirasConfig cfg, MirasDims d, MirasInputs in) {
        this.cfg = cfg;
        this.d = d;
        this.s = cfg.shape(d.dk(), d.dv());
        this.tv = d.virtualLength();
        this.n0 = d.buffered();
        this.gw = switch (cfg.retention().gateShape()) {
            case NONE -> 0;
            case SCALAR -> 1;
            case PER_KEY -> d.dk();
        };
        MirasState st = in.initialState();
        MirasBuffer buf = n0 == 0 ? null : st.buffer();
        int b = d.b();
        int h = d.h();
        this.q = doubles(in.q());
        this.k = concatTokens(buf == null ? null : buf.k(), n0, in.k(), d.t(), b, h * d.dk());
        this.v = concatTokens(buf == null ? null : buf.v(), n0, in.v(), d.t(), b, h * d.dv());
        this.theta = concatTokens(buf == null ? null : buf.theta(), n0, in.theta(), d.t(), b, h);
        this.eta = cfg.rule().momentum() ? concatTokens(buf == null ? null : buf.eta(), n0, in.eta(), d.t(), b, h) : null;
        this.decay = gw == 0 ? null : concatTokens(buf == null ? null : buf.decay(), n0, in.decay(), d.t(), b, h * gw);
        this.param = cfg.bias().tokenParameter() ? concatTokens(buf == null ? null : buf.param(), n0, in.param(), d.t(), b, h)
                : null;
        int bh = b * h;
        if (st == null) {
            mem0 = new double[bh * s.size()];
            mom0 = cfg.rule().momentum() ? new double[bh * s.size()] : null;
        } else {
            mem0 = flatten(st.memory(), s, bh);
            mom0 = st.momentum() == null ? null : flatten(st.momentum(), s, bh);
        }
    }

    /** Virtual tokens in complete chunks. */
    int committedEnd() {
        return tv / cfg.chunkSize() * cfg.chunkSize();
    }

    /** Index of (b, t, h) in a {@code [B, TV, H]} array. */
    int tok(int b, int t, int h) {
        return (b * tv + t) * d.h() + h;
    }

    /** Offset of virtual token t ≥ n0 in q {@code [B, T, H, Dk]}. */
    int qOff(int b, int t, int h) {
        return ((b * d.t() + t - n0) * d.h() + h) * d.dk();
    }

    /** Offset of virtual token t ≥ n0 in y {@code [B, T, H, Dv]}. */
    int yOff(int b, int t, int h) {
        return ((b * d.t() + t - n0) * d.h() + h) * d.dv();
    }

    /** The outgoing state from flat memory and momentum. */
    MirasState finalState(DataType type, double[] mem, double[] mom) {
        int e = committedEnd();
        int n = tv - e;
        MirasBuffer buf = n == 0 ? null : buffer(type, e, n, k, v, theta, eta, decay, param);
        return new MirasState(unflatten(type, mem, s, d.b(), d.h()),
                mom == null ? null : unflatten(type, mom, s, d.b(), d.h()), buf);
    }

    private MirasBuffer buffer(DataType type, int from, int n, double[] bk, double[] bv, double[] bt, double[] be,
            double[] bd, double[] bp) {
        int b = d.b();
        int h = d.h();
        return new MirasBuffer(NdBuffers.of(type, range(bk, from, n, h * d.dk()), b, n, h, d.dk()),
                NdBuffers.of(type, range(bv, from, n, h * d.dv()), b, n, h, d.dv()),
                NdBuffers.of(type, range(bt, from, n, h), b, n, h),
                be == null ? null : NdBuffers.of(type, range(be, from, n, h), b, n, h),
                bd == null ? null : gw == 1 ? NdBuffers.of(type, range(bd, from, n, h), b, n, h)
                        : NdBuffers.of(type, range(bd, from, n, h * gw), b, n, h, gw),
                bp == null ? null : NdBuffers.of(type, range(bp, from, n, h), b, n, h));
    }

    /** Adjoints of the virtual sequence, seeded with the gradient of the outgoing state. */
    final class Adjoints {
        final double[] dq = new double[q.length];
        final double[] dk = new double[k.length];
        final double[] dv = new double[v.length];
        final double[] dTheta = new double[theta.length];
        final double[] dEta = eta == null ? null : new double[eta.length];
        final double[] dDecay = decay == null ? null : new double[decay.length];
        final double[] dParam = param == null ? null : new double[param.length];
        /** Seeded with dFinal memory; the incoming memory's gradient after backward. */
        final double[] dMem = new double[mem0.length];
        final double[] dMom = mom0 == null ? null : new double[mom0.length];

        Adjoints(MirasState dFinal) {
            if (dFinal == null) {
                return;
            }
            addFlat(dFinal.memory(), dMem);
            if (dFinal.momentum() != null && dMom != null) {
                addFlat(dFinal.momentum(), dMom);
            }
            int e = committedEnd();
            int n = tv - e;
            MirasBuffer g = dFinal.buffer();
            if (n > 0 && g != null) {
                int h = d.h();
                addRange(g.k(), dk, e, n, h * d.dk());
                addRange(g.v(), dv, e, n, h * d.dv());
                addRange(g.theta(), dTheta, e, n, h);
                addRange(g.eta(), dEta, e, n, h);
                addRange(g.decay(), dDecay, e, n, h * gw);
                addRange(g.param(), dParam, e, n, h);
            }
        }

        private void addFlat(List<INDArray> layers, double[] dst) {
            double[] f = flatten(layers, s, d.b() * d.h());
            for (int i = 0; i < f.length; i++) {
                dst[i] += f[i];
            }
        }

        private void addRange(INDArray a, double[] dst, int from, int n, int inner) {
            if (a == null || dst == null) {
                return;
            }
            double[] x = NdBuffers.toDoubles(a);
            for (int b = 0; b < d.b(); b++) {
                for (int i = 0; i < n * inner; i++) {
                    dst[(b * tv + from) * inner + i] += x[b * n * inner + i];
                }
            }
        }

        MirasGrads toGrads(DataType type) {
            int b = d.b();
            int h = d.h();
            int t = d.t();
            MirasState dInit = new MirasState(unflatten(type, dMem, s, b, h),
                    dMom == null ? null : unflatten(type, dMom, s, b, h),
                    n0 == 0 ? null : buffer(type, 0, n0, dk, dv, dTheta, dEta, dDecay, dParam));
            INDArray dDec = null;
            if (dDecay != null) {
                dDec = gw == 1 ? NdBuffers.of(type, range(dDecay, n0, t, h), b, t, h)
                        : NdBuffers.of(type, range(dDecay, n0, t, h * gw), b, t, h, gw);
            }
            return new MirasGrads(NdBuffers.of(type, dq, b, t, h, d.dk()),
                    NdBuffers.of(type, range(dk, n0, t, h * d.dk()), b, t, h, d.dk()),
                    NdBuffers.of(type, range(dv, n0, t, h * d.dv()), b, t, h, d.dv()),
                    NdBuffers.of(type, range(dTheta, n0, t, h), b, t, h),
                    dEta == null ? null : NdBuffers.of(type, range(dEta, n0, t, h), b, t, h), dDec,
                    dParam == null ? null : NdBuffers.of(type, range(dParam, n0, t, h), b, t, h), dInit);
        }
    }

    /** Tokens [from, from + n) of a virtual {@code [B, TV, inner]} array as {@code [B, n, inner]}. */
    private double[] range(double[] a, int from, int n, int inner) {
        return NdBuffers.tokenRange(a, d.b(), tv, from, n, inner);
    }

    private static double[] doubles(INDArray a) {
        return a.length() == 0 ? new double[0] : NdBuffers.toDoubles(a);
    }


    /** Layers {@code [B, H, rows, cols]} to {@code [B·H, P]} (null layers are zeros). */
    static double[] flatten(List<INDArray> layers, MemoryShape m, int bh) {
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
    static List<INDArray> unflatten(DataType type, double[] flat, MemoryShape m, int b, int h) {
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
