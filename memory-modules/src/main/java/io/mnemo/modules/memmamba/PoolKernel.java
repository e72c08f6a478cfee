package io.mnemo.modules.memmamba;

/**
 * The per-token parts of MemMamba (Wang et al. 2025, "MemMamba: Rethinking Memory Patterns in State
 * Space Model", §4: note block, cross-token and cross-layer attention) as plain Java loops in double
 * precision: the note pools' write/evict decisions and the softmax attention of one query over at
 * most {@code L·K} pool entries. Everything else (projections, norms, the Mamba-1 blocks) runs as
 * whole-sequence ND4J ops in {@link MemMambaStack}.
 *
 * <p>All arrays are row-major: token rows {@code r = b·T + t}, incoming pool rows {@code b·K + slot}.
 */
final class PoolKernel {
    private PoolKernel() {}

    /**
     * Which summaries each pool slot holds before every token of a call, and the write statistics.
     * {@code src[((b·(T+1) + t)·K) + slot]} is the source of a slot in the snapshot taken <em>before</em>
     * token t writes ({@code t = T} is the final pool): a token index {@code ≥ 0} of this call, or
     * {@code −(k+1)} for slot k of the incoming pool. {@code cnt[b·(T+1) + t]} is the fill count of that
     * snapshot. The snapshot before token t+1 is the pool <em>after</em> token t's write.
     */
    record Schedule(int b, int t, int k, int[] src, int[] cnt, double[] finalScores, int writes, int evictions,
            int drops, int maxFill, double margin) {
        int count(int bi, int ti) {
            return cnt[bi * (t + 1) + ti];
        }

        int source(int bi, int ti, int slot) {
            return src[(bi * (t + 1) + ti) * k + slot];
        }
    }

    /**
     * Replays the note block's discrete decisions. Token t writes when {@code score[t] > tau1}: into a
     * free slot if there is one, else FIFO evicts slot 0 (the oldest), PRIORITY evicts the lowest
     * stored score (the oldest among equal ones) if {@code score[t]} is strictly higher and otherwise
     * drops the note. Entries keep write order. Deterministic in its inputs, so forward and backward
     * see the same decisions.
     *
     * @param score {@code [B·T]} importance scores i_t
     * @param n0 {@code [B]} fill counts of the incoming pools
     * @param sc0 {@code [B·K]} scores of the incoming entries
     */
    static Schedule schedule(double[] score, int b, int t, int k, PoolPolicy policy, double tau1, int[] n0,
            double[] sc0) {
        int[] src = new int[b * (t + 1) * k];
        int[] cnt = new int[b * (t + 1)];
        double[] fin = new double[b * k];
        int writes = 0;
        int evictions = 0;
        int drops = 0;
        int maxFill = 0;
        // the smallest distance of a decision quantity from what it is compared with
        double margin = Double.POSITIVE_INFINITY;
        int[] s = new int[k];
        double[] pr = new double[k];
        for (int bi = 0; bi < b; bi++) {
            int n = n0[bi];
            for (int j = 0; j < n; j++) {
                s[j] = -(j + 1);
                pr[j] = sc0[bi * k + j];
            }
            for (int ti = 0; ti <= t; ti++) {
                int snap = bi * (t + 1) + ti;
                System.arraycopy(s, 0, src, snap * k, n);
                cnt[snap] = n;
                maxFill = Math.max(maxFill, n);
                if (ti == t) {
                    break;
                }
                double v = score[bi * t + ti];
                if (!Double.isInfinite(tau1)) {
                    margin = Math.min(margin, Math.abs(v - tau1));
                }
                if (!(v > tau1)) {
                    continue;
                }
                if (n < k) {
                    s[n] = ti;
                    pr[n] = v;
                    n++;
                    writes++;
                    continue;
                }
                int victim = 0;
                if (policy == PoolPolicy.PRIORITY) {
                    for (int j = 1; j < k; j++) {
                        if (pr[j] < pr[victim]) {
                            victim = j;
                        }
                    }
                    margin = Math.min(margin, Math.abs(v - pr[victim]));
                    for (int j = 0; j < k; j++) {
                        if (j != victim) {
                            margin = Math.min(margin, Math.abs(pr[j] - pr[victim]));
                        }
                    }
                    if (!(v > pr[victim])) {
                        drops++;
                        continue;
                    }
                }
                // remove the victim, keep the others in write order, append the new note
                System.arraycopy(s, victim + 1, s, victim, k - 1 - victim);
                System.arraycopy(pr, victim + 1, pr, victim, k - 1 - victim);
                s[k - 1] = ti;
                pr[k - 1] = v;
                writes++;
                evictions++;
            }
            System.arraycopy(pr, 0, fin, bi * k, n);
        }
        return new Schedule(b, t, k, src, cnt, fin, writes, evictions, drops, maxFill, margin);
    }

    /**
     * The keys and values one query attends to: each entry is a row of width Ds in one of several
     * arrays (this call's token summaries or the incoming pool, of one or more layers), with the
     * matching gradient arrays for the backward (null in the forward).
     */
    static final class Entries {
        final double[][] k;
        final double[][] v;
        final double[][] dk;
        final double[][] dv;
        final int[] off;
        final double[] p;
        final double[] dp;
        int n;

        Entries(int capacity) {
            k = new double[capacity][];
            v = new double[capacity][];
            dk = new double[capacity][];
            dv = new double[capacity][];
            off = new int[capacity];
            p = new double[capacity];
            dp = new double[capacity];
        }

        void clear() {
            n = 0;
        }

        /**
         * Adds the entries of snapshot {@code (bi, ti)} of {@code s}: token sources index
         * {@code kTok/vTok} at row {@code bi·T + src}, incoming ones {@code kIn/vIn} at row {@code bi·K + slot}.
         */
        void addSnapshot(Schedule s, int bi, int ti, int ds, double[] kTok, double[] vTok, double[] dkTok,
                double[] dvTok, double[] kIn, double[] vIn, double[] dkIn, double[] dvIn) {
            int c = s.count(bi, ti);
            for (int slot = 0; slot < c; slot++) {
                int code = s.source(bi, ti, slot);
                if (code >= 0) {
                    add(kTok, vTok, dkTok, dvTok, (bi * s.t() + code) * ds);
                } else {
                    add(kIn, vIn, dkIn, dvIn, (bi * s.k() + (-code - 1)) * ds);
                }
            }
        }

        private void add(double[] ka, double[] va, double[] dka, double[] dva, int o) {
            k[n] = ka;
            v[n] = va;
            dk[n] = dka;
            dv[n] = dva;
            off[n] = o;
            n++;
        }
    }

    /** Softmax weights of head h into {@code e.p}: {@code p_e ∝ exp(scale · q_h · k_{e,h})}. */
    private static void softmax(Entries e, double[] q, int qOff, int h, int dh, double scale) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < e.n; i++) {
            double[] ka = e.k[i];
            int ko = e.off[i] + h * dh;
            double s = 0;
            for (int d = 0; d < dh; d++) {
                s += q[qOff + h * dh + d] * ka[ko + d];
            }
            s *= scale;
            e.p[i] = s;
            max = Math.max(max, s);
        }
        double z = 0;
        for (int i = 0; i < e.n; i++) {
            e.p[i] = Math.exp(e.p[i] - max);
            z += e.p[i];
        }
        for (int i = 0; i < e.n; i++) {
            e.p[i] /= z;
        }
    }

    /**
     * Multi-head softmax attention of one query over the entries:
     * {@code out_h = Σ_e softmax_e(scale · q_h·k_{e,h}) v_{e,h}} for each head h (width dh); writes
     * {@code heads·dh} values at {@code outOff}. Requires {@code e.n ≥ 1}.
     */
    static void attend(Entries e, double[] q, int qOff, int heads, int dh, double scale, double[] out, int outOff) {
        for (int h = 0; h < heads; h++) {
            softmax(e, q, qOff, h, dh, scale);
            for (int d = 0; d < dh; d++) {
                double s = 0;
                for (int i = 0; i < e.n; i++) {
                    s += e.p[i] * e.v[i][e.off[i] + h * dh + d];
                }
                out[outOff + h * dh + d] = s;
            }
        }
    }

    /**
     * Backward of {@link #attend}: recomputes the weights, then adds {@code ∂/∂q} into {@code dq} at
     * {@code qOff} and {@code ∂/∂k_e, ∂/∂v_e} into the entries' gradient arrays, given {@code dOut} at
     * {@code dOff}: {@code dv_e += p_e dO}, {@code ds_e = p_e (dO·v_e − Σ_f p_f dO·v_f)},
     * {@code dq += scale Σ_e ds_e k_e}, {@code dk_e += scale ds_e q}.
     */
    static void attendBackward(Entries e, double[] q, int qOff, int heads, int dh, double scale, double[] dOut,
            int dOff, double[] dq) {
        double[] dp = e.dp;
        for (int h = 0; h < heads; h++) {
            softmax(e, q, qOff, h, dh, scale);
            int ho = h * dh;
            double mean = 0;
            for (int i = 0; i < e.n; i++) {
                double[] va = e.v[i];
                double[] dva = e.dv[i];
                int o = e.off[i] + ho;
                double s = 0;
                for (int d = 0; d < dh; d++) {
                    double g = dOut[dOff + ho + d];
                    s += g * va[o + d];
                    dva[o + d] += e.p[i] * g;
                }
                dp[i] = s;
                mean += e.p[i] * s;
            }
            for (int i = 0; i < e.n; i++) {
                double ds = e.p[i] * (dp[i] - mean) * scale;
                double[] ka = e.k[i];
                double[] dka = e.dk[i];
                int o = e.off[i] + ho;
                for (int d = 0; d < dh; d++) {
                    dq[qOff + ho + d] += ds * ka[o + d];
                    dka[o + d] += ds * q[qOff + ho + d];
                }
            }
        }
    }
}
