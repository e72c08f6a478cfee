package io.mnemo.core.memory;

import java.util.Objects;

/**
 * The ground truth for every matrix memory: the per-token recurrence of an {@link AssociativeMemory}
 * in double precision, written for reading, not speed. All arrays are flat, c-ordered, in the layout
 * of {@link SeqDims}.
 *
 * <p>Per batch element and head, for t = 0 … T−1 (flash-linear-attention's semantics, DESIGN.md §4):
 * <pre>
 *   S̃     = retain(S, gate_t)                           decay before the write
 *   pred  = S̃ᵀ k_t,  g = ∂ℓ(pred, v_t)/∂pred
 *   S     = S̃ − η_t k_t gᵀ                              η_t = 1 or β_t
 *   o_t   = Sᵀ (scale · q_t)                            read after the write
 * </pre>
 * The backward pass runs the same loop in reverse with every state kept.
 */
public final class MatrixMemoryReference {
    private MatrixMemoryReference() {}

    /**
     * Inputs.
     *
     * @param q {@code [B, T, H, Dk]}
     * @param k {@code [B, T, H, Dk]}
     * @param v {@code [B, T, H, Dv]}
     * @param gate log decays {@code [B, T, H]} (scalar) or {@code [B, T, H, Dk]} (per key); null without retention
     * @param beta step sizes {@code [B, T, H]}; null when η = 1
     * @param scale multiplies q
     * @param initialState {@code [B, H, Dk, Dv]}, or null for zeros
     */
    public record Inputs(double[] q, double[] k, double[] v, double[] gate, double[] beta, double scale,
            double[] initialState) {}

    /** Output {@code o[B, T, H, Dv]} and final state {@code [B, H, Dk, Dv]}. */
    public record Output(double[] o, double[] finalState) {}

    /** Gradients with respect to every input; {@code dGate}/{@code dBeta} are null when unused. */
    public record Grads(double[] dq, double[] dk, double[] dv, double[] dGate, double[] dBeta,
            double[] dInitialState) {}

    /** Runs the recurrence. */
    public static Output forward(AssociativeMemory mem, SeqDims d, Inputs in) {
        check(mem, d, in);
        double[] o = new double[d.b() * d.t() * d.h() * d.dv()];
        double[] fin = new double[d.b() * d.h() * d.stateSize()];
        for (int b = 0; b < d.b(); b++) {
            for (int h = 0; h < d.h(); h++) {
                double[][] states = run(mem, d, in, b, h, o);
                System.arraycopy(states[0], 0, fin, (b * d.h() + h) * d.stateSize(), d.stateSize());
            }
        }
        return new Output(o, fin);
    }

    /**
     * Exact gradients of {@code Σ o·dO + Σ finalState·dFinal}.
     *
     * @param dO {@code [B, T, H, Dv]}, or null for zeros
     * @param dFinal {@code [B, H, Dk, Dv]}, or null for zeros
     */
    public static Grads backward(AssociativeMemory mem, SeqDims d, Inputs in, double[] dO, double[] dFinal) {
        check(mem, d, in);
        int dk = d.dk();
        int dv = d.dv();
        int ss = d.stateSize();
        boolean perKey = mem.retention().gateShape() == RetentionGate.GateShape.PER_KEY;
        boolean hasGate = mem.retention().gateShape() != RetentionGate.GateShape.NONE;
        boolean hasBeta = mem.rule().dataDependentStep();
        Grads g = new Grads(new double[in.q().length], new double[in.k().length], new double[in.v().length],
                hasGate ? new double[in.gate().length] : null, hasBeta ? new double[in.beta().length] : null,
                new double[d.b() * d.h() * ss]);
        double[] qv = new double[dk];
        double[] kv = new double[dk];
        double[] vv = new double[dv];
        double[] gv = new double[perKey ? dk : 1];
        double[] pred = new double[dv];
        double[] grad = new double[dv];
        double[] dgrad = new double[dv];
        double[] dpred = new double[dv];
        double[] dvv = new double[dv];
        double[] dgate = new double[perKey ? dk : 1];
        double[] sTilde = new double[ss];
        double[] dS = new double[ss];
        double[] dPrev = new double[ss];
        for (int b = 0; b < d.b(); b++) {
            for (int h = 0; h < d.h(); h++) {
                // all states: states[t + 1] = S_t, states[0] = initial state
                double[][] states = new double[d.t() + 1][];
                runAll(mem, d, in, b, h, states);
                java.util.Arrays.fill(dS, 0);
                if (dFinal != null) {
                    System.arraycopy(dFinal, (b * d.h() + h) * ss, dS, 0, ss);
                }
                for (int t = d.t() - 1; t >= 0; t--) {
                    int tok = d.tok(b, t, h);
                    load(in, d, tok, qv, kv, vv, gv, perKey, hasGate);
                    double eta = hasBeta ? in.beta()[tok] : 1.0;
                    double[] sPrev = states[t];
                    double[] sNow = states[t + 1];
                    System.arraycopy(sPrev, 0, sTilde, 0, ss);
                    mem.retention().apply(sTilde, dk, dv, gv);
                    predict(sTilde, kv, dk, dv, pred);
                    mem.bias().gradient(pred, vv, grad);
                    // o_t = S_tᵀ (scale q): dS += scale q ⊗ dO_t ; dq = scale S_t dO_t
                    if (dO != null) {
                        int oo = tok * dv;
                        for (int i = 0; i < dk; i++) {
                            double acc = 0;
                            for (int j = 0; j < dv; j++) {
                                dS[i * dv + j] += in.scale() * qv[i] * dO[oo + j];
                                acc += sNow[i * dv + j] * dO[oo + j];
                            }
                            g.dq()[tok * dk + i] += in.scale() * acc;
                        }
                    }
                    // S_t = S̃ − η k gᵀ
                    double dEta = 0;
                    java.util.Arrays.fill(dgrad, 0);
                    for (int i = 0; i < dk; i++) {
                        double dki = 0;
                        for (int j = 0; j < dv; j++) {
                            double ds = dS[i * dv + j];
                            dEta -= ds * kv[i] * grad[j];
                            dki -= eta * ds * grad[j];
                            dgrad[j] -= eta * ds * kv[i];
                        }
                        g.dk()[tok * dk + i] += dki;
                    }
                    if (hasBeta) {
                        g.dBeta()[tok] += dEta;
                    }
                    // g = ∂ℓ(pred, v)/∂pred
                    java.util.Arrays.fill(dpred, 0);
                    java.util.Arrays.fill(dvv, 0);
                    mem.bias().gradientVjp(pred, vv, dgrad, dpred, dvv);
                    for (int j = 0; j < dv; j++) {
                        g.dv()[tok * dv + j] += dvv[j];
                    }
                    // pred = S̃ᵀ k: dS̃ += k ⊗ dpred ; dk += S̃ dpred   (dS now holds dS̃)
                    for (int i = 0; i < dk; i++) {
                        double dki = 0;
                        for (int j = 0; j < dv; j++) {
                            dS[i * dv + j] += kv[i] * dpred[j];
                            dki += sTilde[i * dv + j] * dpred[j];
                        }
                        g.dk()[tok * dk + i] += dki;
                    }
                    // S̃ = retain(S_{t−1})
                    java.util.Arrays.fill(dgate, 0);
                    mem.retention().applyVjp(sPrev, dS, dk, dv, gv, dPrev, dgate);
                    System.arraycopy(dPrev, 0, dS, 0, ss);
                    if (hasGate) {
                        if (perKey) {
                            for (int i = 0; i < dk; i++) {
                                g.dGate()[tok * dk + i] += dgate[i];
                            }
                        } else {
                            g.dGate()[tok] += dgate[0];
                        }
                    }
                }
                System.arraycopy(dS, 0, g.dInitialState(), (b * d.h() + h) * ss, ss);
            }
        }
        return g;
    }

    /** Runs one (b, h) sequence; writes o; returns {final state}. */
    private static double[][] run(AssociativeMemory mem, SeqDims d, Inputs in, int b, int h, double[] o) {
        double[][] states = new double[d.t() + 1][];
        runAll(mem, d, in, b, h, states);
        int dk = d.dk();
        int dv = d.dv();
        double[] qv = new double[dk];
        for (int t = 0; t < d.t(); t++) {
            int tok = d.tok(b, t, h);
            for (int i = 0; i < dk; i++) {
                qv[i] = in.scale() * in.q()[tok * dk + i];
            }
            double[] s = states[t + 1];
            for (int j = 0; j < dv; j++) {
                double acc = 0;
                for (int i = 0; i < dk; i++) {
                    acc += s[i * dv + j] * qv[i];
                }
                o[tok * dv + j] = acc;
            }
        }
        return new double[][] {states[d.t()]};
    }

    /** Fills states[0..T] for one (b, h). */
    private static void runAll(AssociativeMemory mem, SeqDims d, Inputs in, int b, int h, double[][] states) {
        int dk = d.dk();
        int dv = d.dv();
        int ss = d.stateSize();
        boolean perKey = mem.retention().gateShape() == RetentionGate.GateShape.PER_KEY;
        boolean hasGate = mem.retention().gateShape() != RetentionGate.GateShape.NONE;
        double[] s = new double[ss];
        if (in.initialState() != null) {
            System.arraycopy(in.initialState(), (b * d.h() + h) * ss, s, 0, ss);
        }
        states[0] = s.clone();
        double[] qv = new double[dk];
        double[] kv = new double[dk];
        double[] vv = new double[dv];
        double[] gv = new double[perKey ? dk : 1];
        double[] pred = new double[dv];
        double[] grad = new double[dv];
        for (int t = 0; t < d.t(); t++) {
            int tok = d.tok(b, t, h);
            load(in, d, tok, qv, kv, vv, gv, perKey, hasGate);
            double eta = mem.rule().dataDependentStep() ? in.beta()[tok] : 1.0;
            mem.retention().apply(s, dk, dv, gv);
            predict(s, kv, dk, dv, pred);
            mem.bias().gradient(pred, vv, grad);
            for (int i = 0; i < dk; i++) {
                for (int j = 0; j < dv; j++) {
                    s[i * dv + j] -= eta * kv[i] * grad[j];
                }
            }
            states[t + 1] = s.clone();
        }
    }

    private static void load(Inputs in, SeqDims d, int tok, double[] qv, double[] kv, double[] vv, double[] gv,
            boolean perKey, boolean hasGate) {
        System.arraycopy(in.q(), tok * d.dk(), qv, 0, d.dk());
        System.arraycopy(in.k(), tok * d.dk(), kv, 0, d.dk());
        System.arraycopy(in.v(), tok * d.dv(), vv, 0, d.dv());
        if (hasGate) {
            if (perKey) {
                System.arraycopy(in.gate(), tok * d.dk(), gv, 0, d.dk());
            } else {
                gv[0] = in.gate()[tok];
            }
        }
    }

    private static void predict(double[] s, double[] k, int dk, int dv, double[] pred) {
        for (int j = 0; j < dv; j++) {
            double acc = 0;
            for (int i = 0; i < dk; i++) {
                acc += s[i * dv + j] * k[i];
            }
            pred[j] = acc;
        }
    }

    private static void check(AssociativeMemory mem, SeqDims d, Inputs in) {
        Objects.requireNonNull(mem, "memory");
        if (mem.architecture() != MemoryArchitecture.MATRIX) {
            throw new IllegalArgumentException("MatrixMemoryReference needs the matrix architecture, got "
                    + mem.architecture());
        }
        int n = d.b() * d.t() * d.h();
        req("q", in.q(), n * d.dk());
        req("k", in.k(), n * d.dk());
        req("v", in.v(), n * d.dv());
        switch (mem.retention().gateShape()) {
            case NONE -> { }
            case SCALAR -> req("g", in.gate(), n);
            case PER_KEY -> req("gk", in.gate(), n * d.dk());
        }
        if (mem.rule().dataDependentStep()) {
            req("beta", in.beta(), n);
        }
        if (in.initialState() != null) {
            req("initial_state", in.initialState(), d.b() * d.h() * d.stateSize());
        }
    }

    private static void req(String name, double[] a, int n) {
        if (a == null || a.length != n) {
            throw new IllegalArgumentException(name + " has " + (a == null ? "no data" : a.length + " elements")
                    + ", expected " + n);
        }
    }
}
