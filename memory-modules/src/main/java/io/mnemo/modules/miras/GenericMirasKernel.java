package io.mnemo.modules.miras;

import io.mnemo.core.NdBuffers;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The generic Miras kernel in double precision: any (architecture, bias, retention, rule) through
 * their public contracts, with a hand-written backward that composes the components' own derivatives
 * (including the second-order term through the inner gradient, {@link MemoryArchitecture#innerGradientVjp}).
 * Follows Behrouz et al. 2025 ("It's All Connected"), in the chunked form of Titans (Behrouz et al.
 * 2024, eqs. 9–15); see docs/modules/miras.md. Per batch element and head, for each chunk with
 * carried states {@code A_0, S_0}:
 * <pre>
 *   W_0 = map(A_0)          (or A_0 for a gate that maps at commit)
 *   g_t = ∇_W ℓ(M_{W_0}(k_t), v_t; param_t)            inner gradient at the chunk start
 *   A_t = retain(A_{t−1}; decay_t) + U_t,   (U_t, S_t) = rule(S_{t−1}, g_t, θ_t, η_t)
 *   y_t = M_{map(A_t)}(q_t)                            read after the write
 *   commit at a full chunk: A ← A_C (or map(A_C)), S ← S_C
 * </pre>
 * The backward recomputes each chunk from its saved start and runs it in reverse. Slow and exact: the
 * ground truth of the Miras tests and of future fused kernels.
 */
public final class GenericMirasKernel implements MirasKernel {

    @Override
    public MirasForward forward(MirasConfig cfg, MirasDims d, MirasInputs in, boolean save) {
        MirasSeq s = new MirasSeq(cfg, d, in);
        int p = s.s.size();
        double[] y = new double[d.b() * d.t() * d.h() * d.dv()];
        double[] mem = new double[s.mem0.length];
        double[] mom = s.mom0 == null ? null : new double[s.mom0.length];
        for (int b = 0; b < d.b(); b++) {
            for (int h = 0; h < d.h(); h++) {
                Head r = new Head(s, b, h);
                r.forward(y, null);
                int bh = b * d.h() + h;
                System.arraycopy(r.a, 0, mem, bh * p, p);
                if (mom != null) {
                    System.arraycopy(r.sm, 0, mom, bh * p, p);
                }
            }
        }
        DataType type = in.q().dataType();
        return new MirasForward(NdBuffers.of(type, y, d.b(), d.t(), d.h(), d.dv()), s.finalState(type, mem, mom), cfg, d,
                in, save ? s : null);
    }

    @Override
    public MirasGrads backward(MirasForward fwd, INDArray dY, MirasState dFinalState) {
        if (!(fwd.saved() instanceof MirasSeq s)) {
            throw new IllegalArgumentException("backward needs a forward run by the generic kernel with save=true");
        }
        MirasDims d = s.d;
        MirasSeq.Adjoints a = s.new Adjoints(dFinalState);
        double[] dy = dY == null || dY.length() == 0 ? null : NdBuffers.toDoubles(dY);
        for (int b = 0; b < d.b(); b++) {
            for (int h = 0; h < d.h(); h++) {
                new Head(s, b, h).backward(dy, a);
            }
        }
        return a.toGrads(fwd.inputs().q().dataType());
    }

    /** The computation of one (batch, head). */
    private static final class Head {
        final MirasSeq s;
        final MirasConfig cfg;
        final MemoryShape m;
        final MemoryArchitecture arch;
        final AttentionalBias bias;
        final RetentionGate ret;
        final UpdateRule rule;
        final int b;
        final int h;
        final int bh;
        final int p;
        final int c;
        /** Carried (committed) states. */
        double[] a;
        double[] sm;
        final double[] kv;
        final double[] vv;
        final double[] qv;
        final double[] gate;
        final double[] out;

        Head(MirasSeq s, int b, int h) {
            this.s = s;
            this.cfg = s.cfg;
            this.m = s.s;
            this.arch = cfg.architecture();
            this.bias = cfg.bias();
            this.ret = cfg.retention();
            this.rule = cfg.rule();
            this.b = b;
            this.h = h;
            this.bh = b * s.d.h() + h;
            this.p = m.size();
            this.c = cfg.chunkSize();
            this.a = Arrays.copyOfRange(s.mem0, bh * p, (bh + 1) * p);
            this.sm = s.mom0 == null ? new double[p] : Arrays.copyOfRange(s.mom0, bh * p, (bh + 1) * p);
            this.kv = new double[s.d.dk()];
            this.vv = new double[s.d.dv()];
            this.qv = new double[s.d.dk()];
            this.gate = new double[Math.max(1, s.gw)];
            this.out = new double[s.d.dv()];
        }

        void load(int t) {
            int tok = s.tok(b, t, h);
            System.arraycopy(s.k, tok * s.d.dk(), kv, 0, kv.length);
            System.arraycopy(s.v, tok * s.d.dv(), vv, 0, vv.length);
            if (s.gw > 0) {
                System.arraycopy(s.decay, tok * s.gw, gate, 0, s.gw);
            }
            if (t >= s.n0) {
                System.arraycopy(s.q, s.qOff(b, t, h), qv, 0, qv.length);
            }
        }

        double theta(int t) {
            return s.theta[s.tok(b, t, h)];
        }

        double eta(int t) {
            return s.eta == null ? 0 : s.eta[s.tok(b, t, h)];
        }

        double param(int t) {
            return s.param == null ? Double.NaN : s.param[s.tok(b, t, h)];
        }

        /** The chunk-start weights from the carried state. */
        double[] startWeights(double[] a0) {
            double[] w = new double[p];
            if (ret.mapsAtCommit()) {
                System.arraycopy(a0, 0, w, 0, p);
            } else {
                ret.map(a0, m, w);
            }
            return w;
        }

        /**
         * Runs the whole virtual sequence, writing y; leaves the committed states in a, sm. When
         * {@code starts} is given, stores each chunk's starting (A, S) there.
         */
        void forward(double[] y, double[][][] starts) {
            double[] g = new double[p];
            double[] u = new double[p];
            double[] w = new double[p];
            int chunk = 0;
            for (int cs = 0; cs < s.tv; cs += c, chunk++) {
                int ce = Math.min(cs + c, s.tv);
                if (starts != null) {
                    starts[chunk] = new double[][] {a.clone(), sm.clone()};
                }
                double[] w0 = startWeights(a);
                double[] ac = a.clone();
                double[] sc = sm.clone();
                for (int t = cs; t < ce; t++) {
                    load(t);
                    arch.innerGradient(m, w0, kv, vv, param(t), bias, g);
                    ret.retain(ac, m, gate);
                    rule.step(sc, g, theta(t), eta(t), u, p);
                    for (int i = 0; i < p; i++) {
                        ac[i] += u[i];
                    }
                    if (t >= s.n0 && y != null) {
                        ret.map(ac, m, w);
                        arch.apply(m, w, qv, out);
                        System.arraycopy(out, 0, y, s.yOff(b, t, h), out.length);
                    }
                }
                if (ce - cs == c) {
                    if (ret.mapsAtCommit()) {
                        ret.map(ac, m, a);
                    } else {
                        a = ac;
                    }
                    sm = sc;
                }
            }
        }

        void backward(double[] dy, MirasSeq.Adjoints adj) {
            int nChunks = (s.tv + c - 1) / c;
            double[][][] starts = new double[nChunks][][];
            forward(null, starts);
            int dk = s.d.dk();
            int dvSize = s.d.dv();
            double[] dA = Arrays.copyOfRange(adj.dMem, bh * p, (bh + 1) * p);
            double[] dS = adj.dMom == null ? new double[p] : Arrays.copyOfRange(adj.dMom, bh * p, (bh + 1) * p);
            double[] w = new double[p];
            double[] dW = new double[p];
            double[] dG = new double[p];
            double[] dGates = new double[2];
            double[] dGate = new double[Math.max(1, s.gw)];
            double[] dq = new double[dk];
            double[] dkv = new double[dk];
            double[] dvv = new double[dvSize];
            double[] dyv = new double[dvSize];
            // the chunk's intermediates, allocated once and reused by every chunk
            int cmax = Math.min(c, s.tv);
            double[][] acPrev = new double[cmax][p];
            double[][] scPrev = new double[cmax][p];
            double[][] gs = new double[cmax][p];
            double[][] acs = new double[cmax][p];
            double[] u = new double[p];
            for (int chunk = nChunks - 1; chunk >= 0; chunk--) {
                int cs = chunk * c;
                int ce = Math.min(cs + c, s.tv);
                int n = ce - cs;
                boolean complete = n == c;
                double[] a0 = starts[chunk][0];
                double[] s0 = starts[chunk][1];
                double[] w0 = startWeights(a0);
                // recompute the chunk, keeping every intermediate
                double[] ac = a0.clone();
                double[] sc = s0.clone();
                for (int i = 0; i < n; i++) {
                    int t = cs + i;
                    load(t);
                    Arrays.fill(gs[i], 0);
                    arch.innerGradient(m, w0, kv, vv, param(t), bias, gs[i]);
                    System.arraycopy(ac, 0, acPrev[i], 0, p);
                    System.arraycopy(sc, 0, scPrev[i], 0, p);
                    ret.retain(ac, m, gate);
                    rule.step(sc, gs[i], theta(t), eta(t), u, p);
                    for (int j = 0; j < p; j++) {
                        ac[j] += u[j];
                    }
                    System.arraycopy(ac, 0, acs[i], 0, p);
                }
                double[] dAc = new double[p];
                double[] dSc = new double[p];
                double[] passA = null;
                double[] passS = null;
                if (complete) {
                    if (ret.mapsAtCommit()) {
                        ret.mapVjp(acs[n - 1], m, dA, dAc);
                    } else {
                        System.arraycopy(dA, 0, dAc, 0, p);
                    }
                    System.arraycopy(dS, 0, dSc, 0, p);
                } else {
                    // the open chunk is not committed: the outgoing state is the chunk-start state
                    passA = dA.clone();
                    passS = dS.clone();
                }
                double[] dW0 = new double[p];
                for (int i = n - 1; i >= 0; i--) {
                    int t = cs + i;
                    int tok = s.tok(b, t, h);
                    load(t);
                    if (t >= s.n0 && dy != null) {
                        System.arraycopy(dy, s.yOff(b, t, h), dyv, 0, dvSize);
                        ret.map(acs[i], m, w);
                        Arrays.fill(dW, 0);
                        Arrays.fill(dq, 0);
                        arch.applyVjp(m, w, qv, dyv, dW, dq);
                        ret.mapVjp(acs[i], m, dW, dAc);
                        int qo = s.qOff(b, t, h);
                        for (int j = 0; j < dk; j++) {
                            adj.dq[qo + j] += dq[j];
                        }
                    }
                    // A_t = retain(A_{t−1}) + U_t, (U_t, S_t) = rule(S_{t−1}, g_t)
                    Arrays.fill(dG, 0);
                    dGates[0] = 0;
                    dGates[1] = 0;
                    rule.stepVjp(scPrev[i], gs[i], theta(t), eta(t), dAc, dSc, dG, dGates, p);
                    Arrays.fill(dGate, 0);
                    ret.retainVjp(acPrev[i], m, gate, dAc, dGate);
                    adj.dTheta[tok] += dGates[0];
                    if (adj.dEta != null) {
                        adj.dEta[tok] += dGates[1];
                    }
                    if (adj.dDecay != null) {
                        for (int j = 0; j < s.gw; j++) {
                            adj.dDecay[tok * s.gw + j] += dGate[j];
                        }
                    }
                    // g_t = ∇_W ℓ(M_{W_0}(k_t), v_t)
                    Arrays.fill(dkv, 0);
                    Arrays.fill(dvv, 0);
                    double dParam = arch.innerGradientVjp(m, w0, kv, vv, param(t), bias, dG, dW0, dkv, dvv);
                    for (int j = 0; j < dk; j++) {
                        adj.dk[tok * dk + j] += dkv[j];
                    }
                    for (int j = 0; j < dvSize; j++) {
                        adj.dv[tok * dvSize + j] += dvv[j];
                    }
                    if (adj.dParam != null) {
                        adj.dParam[tok] += dParam;
                    }
                }
                // W_0 = map(A_0) (or A_0)
                if (ret.mapsAtCommit()) {
                    for (int j = 0; j < p; j++) {
                        dAc[j] += dW0[j];
                    }
                } else {
                    ret.mapVjp(a0, m, dW0, dAc);
                }
                if (passA != null) {
                    for (int j = 0; j < p; j++) {
                        dAc[j] += passA[j];
                        dSc[j] += passS[j];
                    }
                }
                dA = dAc;
                dS = dSc;
            }
            System.arraycopy(dA, 0, adj.dMem, bh * p, p);
            if (adj.dMom != null) {
                System.arraycopy(dS, 0, adj.dMom, bh * p, p);
            }
        }
    }
}
