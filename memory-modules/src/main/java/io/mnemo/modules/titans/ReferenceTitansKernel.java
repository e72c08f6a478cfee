package io.mnemo.modules.titans;

import io.mnemo.core.NdBuffers;
import io.mnemo.modules.titans.Tape.Var;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The {@code reference} backend: the definition of the Titans memory written per chunk and per token
 * in double precision, on a small reverse-mode {@link Tape}, so that its backward (including the
 * second-order terms through the inner gradient) owes nothing to the cpu kernel's hand derivation.
 * Follows Behrouz et al., "Titans: Learning to Memorize at Test Time" (2024), eqs. 9–15; see
 * docs/modules/titans.md. Per batch element and head, with {@code M_0} the memory at the chunk start:
 * <pre>
 *   g_t = ∇_W ½‖M_0(k_t) − v_t‖²                 (taken at the chunk start: mini-batch GD)
 *   g_t ← g_t · min(1, c / ‖g_t‖)                (optional clamp, norm over all weights of the head)
 *   S_t = η_t S_{t−1} − θ_t g_t                  (momentum; without it S_t = −θ_t g_t)
 *   M_t = (1 − α_t) M_{t−1} + S_t
 *   y_t = M_t(q_t)   (PER_TOKEN)   or   M_0(q_t)   (COMMITTED)
 * </pre>
 * Slow and exact; the ground truth of tests.
 */
public final class ReferenceTitansKernel implements TitansKernel {

    /** The taped computation of one (batch, head). */
    private static final class Head {
        Var[] mem0;
        Var[] mom0;
        Var[] k;
        Var[] v;
        Var[] theta;
        Var[] eta;
        Var[] alpha;
        /** Indexed by virtual token; null for buffered tokens. */
        Var[] q;
        Var[] y;
        Var[] memFinal;
        Var[] momFinal;
    }

    @Override
    public TitansForward forward(TitansOpConfig cfg, TitansDims d, TitansInputs in, boolean save) {
        TitansSeq s = TitansSeq.of(cfg, d, in);
        MemoryLayout m = s.m;
        int p = m.size();
        double[] y = new double[d.b() * d.t() * d.h() * d.d()];
        double[] mem = new double[s.mem0.length];
        double[] mom = s.mom0 == null ? null : new double[s.mom0.length];
        for (int b = 0; b < d.b(); b++) {
            for (int h = 0; h < d.h(); h++) {
                Head r = run(s, b, h, new Tape());
                for (int t = s.n0; t < s.tv; t++) {
                    System.arraycopy(r.y[t].v, 0, y, s.out(b, t, h), d.d());
                }
                int bh = b * d.h() + h;
                for (int l = 0; l < m.depth(); l++) {
                    System.arraycopy(r.memFinal[l].v, 0, mem, bh * p + m.offset(l), r.memFinal[l].v.length);
                    if (mom != null) {
                        System.arraycopy(r.momFinal[l].v, 0, mom, bh * p + m.offset(l), r.momFinal[l].v.length);
                    }
                }
            }
        }
        DataType type = in.q().dataType();
        return new TitansForward(NdBuffers.of(type, y, d.b(), d.t(), d.h(), d.d()), s.finalState(type, mem, mom), cfg,
                d, in, save ? s : null);
    }

    @Override
    public TitansGrads backward(TitansForward fwd, INDArray dY, TitansState dFinalState) {
        if (!(fwd.saved() instanceof TitansSeq s)) {
            throw new IllegalArgumentException("backward needs a forward run by the reference backend with save=true");
        }
        TitansDims d = s.d;
        MemoryLayout m = s.m;
        int p = m.size();
        TitansSeq.Adjoints a = s.new Adjoints(dFinalState);
        double[] dy = dY == null || dY.length() == 0 ? null : NdBuffers.toDoubles(dY);
        for (int b = 0; b < d.b(); b++) {
            for (int h = 0; h < d.h(); h++) {
                Tape tape = new Tape();
                Head r = run(s, b, h, tape);
                int bh = b * d.h() + h;
                // seed: dY on the outputs, dFinal on the final memory/momentum and on the outgoing buffer
                if (dy != null) {
                    for (int t = s.n0; t < s.tv; t++) {
                        addInto(r.y[t].grad(), dy, s.out(b, t, h));
                    }
                }
                for (int l = 0; l < m.depth(); l++) {
                    addInto(r.memFinal[l].grad(), a.dMem, bh * p + m.offset(l));
                    if (a.dMom != null) {
                        addInto(r.momFinal[l].grad(), a.dMom, bh * p + m.offset(l));
                    }
                }
                tape.backward();
                for (int l = 0; l < m.depth(); l++) {
                    copyGrad(r.mem0[l], a.dMem, bh * p + m.offset(l));
                    if (a.dMom != null) {
                        copyGrad(r.mom0[l], a.dMom, bh * p + m.offset(l));
                    }
                }
                for (int t = 0; t < s.tv; t++) {
                    // the outgoing buffer's seed is already in the adjoint arrays: add, don't overwrite
                    addGrad(r.k[t], a.dk, s.vec(b, t, h));
                    addGrad(r.v[t], a.dv, s.vec(b, t, h));
                    addGrad(r.theta[t], a.dTheta, s.gate(b, t, h));
                    addGrad(r.alpha[t], a.dAlpha, s.gate(b, t, h));
                    if (a.dEta != null) {
                        addGrad(r.eta[t], a.dEta, s.gate(b, t, h));
                    }
                    if (t >= s.n0) {
                        addGrad(r.q[t], a.dq, s.out(b, t, h));
                    }
                }
            }
        }
        return a.toGrads(fwd.inputs().q().dataType());
    }

    /** Builds the tape of one (batch, head) over the virtual sequence. */
    private static Head run(TitansSeq s, int b, int h, Tape tape) {
        TitansOpConfig cfg = s.cfg;
        MemoryLayout m = s.m;
        int depth = m.depth();
        int dd = m.d();
        int bh = b * s.d.h() + h;
        Head r = new Head();
        r.mem0 = new Var[depth];
        r.mom0 = cfg.momentum() ? new Var[depth] : null;
        for (int l = 0; l < depth; l++) {
            r.mem0[l] = tape.leaf(s.mem0, bh * m.size() + m.offset(l), m.rows(l), m.cols(l));
            if (r.mom0 != null) {
                r.mom0[l] = tape.leaf(s.mom0, bh * m.size() + m.offset(l), m.rows(l), m.cols(l));
            }
        }
        r.k = new Var[s.tv];
        r.v = new Var[s.tv];
        r.theta = new Var[s.tv];
        r.eta = new Var[s.tv];
        r.alpha = new Var[s.tv];
        r.q = new Var[s.tv];
        r.y = new Var[s.tv];
        for (int t = 0; t < s.tv; t++) {
            r.k[t] = tape.leaf(s.k, s.vec(b, t, h), dd, 1);
            r.v[t] = tape.leaf(s.v, s.vec(b, t, h), dd, 1);
            r.theta[t] = tape.scalar(s.theta[s.gate(b, t, h)]);
            r.alpha[t] = tape.scalar(s.alpha[s.gate(b, t, h)]);
            if (cfg.momentum()) {
                r.eta[t] = tape.scalar(s.eta[s.gate(b, t, h)]);
            }
            if (t >= s.n0) {
                r.q[t] = tape.leaf(s.q, s.out(b, t, h), dd, 1);
            }
        }
        int c = cfg.chunkSize();
        Var[] mem = r.mem0;
        Var[] mom = r.mom0;
        for (int cs = 0; cs < s.tv; cs += c) {
            int ce = Math.min(cs + c, s.tv);
            boolean complete = ce - cs == c;
            Var[] m0 = mem;
            if (!complete && cfg.readMode() == TitansReadMode.COMMITTED) {
                // the open chunk is not written yet and nobody reads its writes
                for (int t = Math.max(cs, s.n0); t < ce; t++) {
                    r.y[t] = apply(tape, cfg, m0, r.q[t]);
                }
                break;
            }
            boolean chunkGates = cfg.gates() == TitansGateGranularity.CHUNK;
            Var thetaC = chunkGates ? tape.mean(Arrays.asList(r.theta).subList(cs, ce)) : null;
            Var etaC = chunkGates && cfg.momentum() ? tape.mean(Arrays.asList(r.eta).subList(cs, ce)) : null;
            Var alphaC = chunkGates ? tape.mean(Arrays.asList(r.alpha).subList(cs, ce)) : null;
            Var[] mr = mem.clone();
            Var[] sr = mom == null ? new Var[depth] : mom.clone();
            for (int t = cs; t < ce; t++) {
                Var th = chunkGates ? thetaC : r.theta[t];
                Var al = chunkGates ? alphaC : r.alpha[t];
                Var et = !cfg.momentum() ? null : chunkGates ? etaC : r.eta[t];
                Var[] g = innerGradient(tape, cfg, m0, r.k[t], r.v[t]);
                Var u = th;
                if (cfg.clamp()) {
                    List<Var> sq = new ArrayList<>();
                    for (Var gl : g) {
                        sq.add(tape.sumSq(gl));
                    }
                    u = tape.scale(th, tape.clampFactor(tape.sum(sq), cfg.maxGradNorm()));
                }
                Var keep = tape.oneMinus(al);
                for (int l = 0; l < depth; l++) {
                    Var stepL = tape.neg(tape.scale(u, g[l]));
                    sr[l] = et == null ? stepL : tape.add(tape.scale(et, sr[l]), stepL);
                    mr[l] = tape.add(tape.scale(keep, mr[l]), sr[l]);
                }
                if (t >= s.n0) {
                    r.y[t] = apply(tape, cfg, cfg.readMode() == TitansReadMode.PER_TOKEN ? mr : m0, r.q[t]);
                }
            }
            if (complete) {
                mem = mr;
                mom = mom == null ? null : sr;
            }
        }
        r.memFinal = mem;
        r.momFinal = mom;
        return r;
    }

    /** {@code M(x)}: {@code W x} for depth 1, {@code x + W_L σ(… σ(W_1 x))} for depth ≥ 2. */
    static Var apply(Tape tape, TitansOpConfig cfg, Var[] w, Var x) {
        Var a = x;
        for (int l = 0; l < w.length; l++) {
            Var z = tape.matvec(w[l], a);
            a = l < w.length - 1 ? tape.act(cfg.activation(), z) : z;
        }
        return w.length >= 2 ? tape.add(x, a) : a;
    }

    /** Per-layer {@code ∇_{W_l} ½‖M(k) − v‖²} at the weights w, by backpropagation through M. */
    private static Var[] innerGradient(Tape tape, TitansOpConfig cfg, Var[] w, Var k, Var v) {
        int depth = w.length;
        Var[] in = new Var[depth];
        Var[] z = new Var[depth];
        in[0] = k;
        for (int l = 0; l < depth; l++) {
            z[l] = tape.matvec(w[l], in[l]);
            if (l < depth - 1) {
                in[l + 1] = tape.act(cfg.activation(), z[l]);
            }
        }
        Var out = depth >= 2 ? tape.add(k, z[depth - 1]) : z[depth - 1];
        Var delta = tape.sub(out, v);
        Var[] g = new Var[depth];
        g[depth - 1] = tape.outer(delta, in[depth - 1]);
        for (int l = depth - 2; l >= 0; l--) {
            delta = tape.mul(tape.matTvec(w[l + 1], delta), tape.actD1(cfg.activation(), z[l]));
            g[l] = tape.outer(delta, in[l]);
        }
        return g;
    }

    private static void addInto(double[] dst, double[] src, int off) {
        for (int i = 0; i < dst.length; i++) {
            dst[i] += src[off + i];
        }
    }

    private static void copyGrad(Var x, double[] dst, int off) {
        if (x.hasGrad()) {
            System.arraycopy(x.grad(), 0, dst, off, x.v.length);
        } else {
            java.util.Arrays.fill(dst, off, off + x.v.length, 0.0);
        }
    }

    private static void addGrad(Var x, double[] dst, int off) {
        if (x == null || !x.hasGrad()) {
            return;
        }
        double[] g = x.grad();
        for (int i = 0; i < g.length; i++) {
            dst[off + i] += g[i];
        }
    }
}
