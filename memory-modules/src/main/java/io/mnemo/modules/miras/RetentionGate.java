package io.mnemo.modules.miras;

/**
 * How a Miras memory balances the new write against what it holds (its "retention gate", Behrouz et
 * al. 2025, §5). The generic kernel ({@link MirasOps}) carries, per head, a flat parameter vector
 * {@code A} in the layout of a {@link MemoryShape}, and per token applies
 * <pre>
 *   A_t = retain(A_{t−1}; gate_t) + U_t          U_t from the {@link UpdateRule}
 *   W_t = map(A_t)                               the weights the memory reads with
 * </pre>
 * {@code retain} is linear in {@code A} (a decay; none for plain GD); {@code map} is the retention's
 * normalisation (identity for the L2 family, a q-norm rescaling for Lq, a row softmax for KL, a soft
 * threshold for the elastic net). Inner gradients are taken with respect to {@code W}, so a non-identity
 * map makes the update a mirror-descent / dual-averaging step, as in the paper.
 *
 * <p>Chunking: within a chunk every inner gradient is taken at the chunk-start weights
 * {@code W_0}. For most gates {@code W_0 = map(A_0)}. A gate with {@link #mapsAtCommit()} (the
 * elastic net's proximal step) instead replaces the carried {@code A} by {@code map(A)} when a chunk is
 * committed and uses {@code W_0 = A_0}; with chunk size 1 this is the per-token proximal update
 * {@code W_t = map(decay·W_{t−1} − θ g)}.
 *
 * <p>Gate inputs are decay <b>factors</b> in [0, 1] (not log decays): one per token and head
 * ({@link GateShape#SCALAR}, {@code decay[B, T, H]}) or one per key dimension
 * ({@link GateShape#PER_KEY}, {@code decay[B, T, H, Dk]}, scaling the columns of a single-layer memory).
 */
public interface RetentionGate {
    /** What a token supplies to the gate. */
    enum GateShape {
        /** No gate input. */
        NONE,
        /** One decay factor per token and head, {@code decay[B, T, H]}. */
        SCALAR,
        /** One decay factor per key dimension, {@code decay[B, T, H, Dk]} (single-layer memories only). */
        PER_KEY
    }

    /** Short name used in configs and messages. */
    String name();

    /** The gate input this retention needs. */
    GateShape gateShape();

    /** Applies {@code A ← retain(A; gate)} in place ({@code gate} has length 1, Dk, or is unused). */
    void retain(double[] a, MemoryShape s, double[] gate);

    /**
     * Backward of {@link #retain}: {@code d} holds {@code ∂L/∂retain(A)} on entry and {@code ∂L/∂A} on
     * return; {@code ∂L/∂gate} is accumulated into {@code dGate}.
     *
     * @param aPrev the argument A of the forward call
     */
    void retainVjp(double[] aPrev, MemoryShape s, double[] gate, double[] d, double[] dGate);

    /** True when {@link #map} is not the identity. */
    default boolean mapped() {
        return false;
    }

    /** True when the carried state is replaced by {@code map(A)} at each chunk commit (see the class comment). */
    default boolean mapsAtCommit() {
        return false;
    }

    /** {@code W = map(A)}; the identity by default. */
    default void map(double[] a, MemoryShape s, double[] w) {
        System.arraycopy(a, 0, w, 0, s.size());
    }

    /** Accumulates {@code dA += (∂map/∂A)ᵀ dW}. */
    default void mapVjp(double[] a, MemoryShape s, double[] dW, double[] dA) {
        for (int i = 0; i < s.size(); i++) {
            dA[i] += dW[i];
        }
    }

    /** No forgetting: {@code A_t = A_{t−1} + U_t}. */
    record None() implements RetentionGate {
        @Override
        public String name() {
            return "none";
        }

        @Override
        public GateShape gateShape() {
            return GateShape.NONE;
        }

        @Override
        public void retain(double[] a, MemoryShape s, double[] gate) {}

        @Override
        public void retainVjp(double[] aPrev, MemoryShape s, double[] gate, double[] d, double[] dGate) {}
    }

    /**
     * L2 distance to the previous memory, {@code Ret = ‖W − W_{t−1}‖² / (2θ_t)}: the proximal form of
     * gradient descent, whose one-step solution is the plain GD write {@code W_t = W_{t−1} − θ_t g}. It
     * adds no forgetting of its own (the same update as {@link None}); add a global L2 term by using
     * {@link ScalarDecay} instead.
     */
    record L2Prev() implements RetentionGate {
        @Override
        public String name() {
            return "l2-prev";
        }

        @Override
        public GateShape gateShape() {
            return GateShape.NONE;
        }

        @Override
        public void retain(double[] a, MemoryShape s, double[] gate) {}

        @Override
        public void retainVjp(double[] aPrev, MemoryShape s, double[] gate, double[] d, double[] dGate) {}
    }

    /**
     * Scalar decay (local + global L2 retention): {@code A ← a_t A} with {@code a_t ∈ [0, 1]} per token and
     * head. Titans' {@code 1 − α_t}, the gated delta rule's {@code exp(g_t)}.
     */
    record ScalarDecay() implements RetentionGate {
        @Override
        public String name() {
            return "scalar-decay";
        }

        @Override
        public GateShape gateShape() {
            return GateShape.SCALAR;
        }

        @Override
        public void retain(double[] a, MemoryShape s, double[] gate) {
            Decays.scalar(a, s, gate[0]);
        }

        @Override
        public void retainVjp(double[] aPrev, MemoryShape s, double[] gate, double[] d, double[] dGate) {
            dGate[0] += Decays.scalarVjp(aPrev, s, gate[0], d);
        }
    }

    /**
     * Vector decay over the key dimension (GLA): {@code W[:, i] ← a_{t,i} W[:, i]} for the memory's single
     * layer {@code W [Dv, Dk]}.
     */
    record VectorDecay() implements RetentionGate {
        @Override
        public String name() {
            return "vector-decay";
        }

        @Override
        public GateShape gateShape() {
            return GateShape.PER_KEY;
        }

        @Override
        public void retain(double[] a, MemoryShape s, double[] gate) {
            Decays.columns(a, s, gate);
        }

        @Override
        public void retainVjp(double[] aPrev, MemoryShape s, double[] gate, double[] d, double[] dGate) {
            Decays.columnsVjp(aPrev, s, gate, d, dGate);
        }
    }

    /**
     * Elastic net: L2 retention (the scalar decay {@code a_t}) plus an L1 penalty λ‖W‖₁, whose proximal
     * step is the soft threshold {@code S_λ(x) = sign(x) max(|x| − λ, 0)}, replaced by the smooth
     * surrogate {@code S(x) = τ softplus((x − λ)/τ) − τ softplus((−x − λ)/τ)} (exact as τ → 0; the
     * identity for λ = 0). Per token (chunk size 1): {@code W_t = S(a_t W_{t−1} − θ_t g_t)}; with chunks
     * the threshold is applied when a chunk is committed ({@link #mapsAtCommit()}).
     *
     * @param lambda the threshold λ ≥ 0
     * @param tau the smoothing temperature τ > 0
     */
    record ElasticNet(double lambda, double tau) implements RetentionGate {
        public ElasticNet {
            if (!(lambda >= 0) || Double.isInfinite(lambda)) {
                throw new IllegalArgumentException("lambda must be finite and >= 0, got lambda=" + lambda);
            }
            if (!(tau > 0) || Double.isInfinite(tau)) {
                throw new IllegalArgumentException("tau must be finite and > 0, got tau=" + tau);
            }
        }

        @Override
        public String name() {
            return "elastic-net";
        }

        @Override
        public GateShape gateShape() {
            return GateShape.SCALAR;
        }

        @Override
        public void retain(double[] a, MemoryShape s, double[] gate) {
            Decays.scalar(a, s, gate[0]);
        }

        @Override
        public void retainVjp(double[] aPrev, MemoryShape s, double[] gate, double[] d, double[] dGate) {
            dGate[0] += Decays.scalarVjp(aPrev, s, gate[0], d);
        }

        @Override
        public boolean mapped() {
            return true;
        }

        @Override
        public boolean mapsAtCommit() {
            return true;
        }

        @Override
        public void map(double[] a, MemoryShape s, double[] w) {
            for (int i = 0; i < s.size(); i++) {
                w[i] = tau * (Decays.softplus((a[i] - lambda) / tau) - Decays.softplus((-a[i] - lambda) / tau));
            }
        }

        @Override
        public void mapVjp(double[] a, MemoryShape s, double[] dW, double[] dA) {
            for (int i = 0; i < s.size(); i++) {
                dA[i] += dW[i] * (Decays.sigmoid((a[i] - lambda) / tau) + Decays.sigmoid((-a[i] - lambda) / tau));
            }
        }
    }

    /**
     * Lq retention (Moneta): {@code A_t = a_t A_{t−1} − θ_t g_t}, {@code W_t = A_t / ‖A_t‖_q^{q−2}} per
     * layer, with the smoothed norm {@code ‖A‖_q^q ≈ N = Σ_i (A_i² + ε)^{q/2}}, so
     * {@code W = A · N^{−(q−2)/q}}. For q = 2 the map is exactly the identity (L2 retention).
     *
     * @param q the exponent, ≥ 1 (Moneta uses 4)
     * @param eps the smoothing ε > 0 of |·|
     */
    record Lq(double q, double eps) implements RetentionGate {
        public Lq {
            if (!(q >= 1) || Double.isInfinite(q)) {
                throw new IllegalArgumentException("q must be a finite number >= 1, got q=" + q);
            }
            if (!(eps > 0) || Double.isInfinite(eps)) {
                throw new IllegalArgumentException("eps must be finite and > 0, got eps=" + eps);
            }
        }

        @Override
        public String name() {
            return "lq";
        }

        @Override
        public GateShape gateShape() {
            return GateShape.SCALAR;
        }

        @Override
        public void retain(double[] a, MemoryShape s, double[] gate) {
            Decays.scalar(a, s, gate[0]);
        }

        @Override
        public void retainVjp(double[] aPrev, MemoryShape s, double[] gate, double[] d, double[] dGate) {
            dGate[0] += Decays.scalarVjp(aPrev, s, gate[0], d);
        }

        @Override
        public boolean mapped() {
            return q != 2;
        }

        private double n(double[] a, int from, int to) {
            double n = 0;
            for (int i = from; i < to; i++) {
                n += Decays.pow(a[i] * a[i] + eps, 0.5 * q);
            }
            return n;
        }

        @Override
        public void map(double[] a, MemoryShape s, double[] w) {
            double r = (q - 2) / q;
            for (int l = 0; l < s.depth(); l++) {
                int from = s.offset(l);
                int to = s.offset(l + 1);
                double f = Math.pow(n(a, from, to), -r);
                for (int i = from; i < to; i++) {
                    w[i] = f * a[i];
                }
            }
        }

        @Override
        public void mapVjp(double[] a, MemoryShape s, double[] dW, double[] dA) {
            double r = (q - 2) / q;
            for (int l = 0; l < s.depth(); l++) {
                int from = s.offset(l);
                int to = s.offset(l + 1);
                double n = n(a, from, to);
                double f = Math.pow(n, -r);
                double adw = 0;
                for (int i = from; i < to; i++) {
                    adw += a[i] * dW[i];
                }
                // W_i = a_i N^{−r}: dA_j = N^{−r} dW_j − r N^{−r−1} · q (a_j² + ε)^{q/2−1} a_j · Σ_i a_i dW_i
                double c = -r * f / n * q * adw;
                for (int j = from; j < to; j++) {
                    dA[j] += f * dW[j] + c * Decays.pow(a[j] * a[j] + eps, 0.5 * q - 1) * a[j];
                }
            }
        }
    }

    /**
     * KL retention on the simplex (Memora): {@code W_t = c · softmax(a_t log W_{t−1} − θ_t g_t)} row-wise for
     * every layer. The carried state is the logits {@code A} ({@code W = c · softmax_rows(A)}); since the
     * softmax ignores a per-row constant, {@code A_t = a_t A_{t−1} − θ_t g_t} is the same update. Every row
     * of every {@code W} is on the simplex scaled by c.
     *
     * @param scale the row sum c > 0 (1: the probability simplex)
     */
    record Kl(double scale) implements RetentionGate {
        public Kl {
            if (!(scale > 0) || Double.isInfinite(scale)) {
                throw new IllegalArgumentException("scale must be finite and > 0, got scale=" + scale);
            }
        }

        @Override
        public String name() {
            return "kl";
        }

        @Override
        public GateShape gateShape() {
            return GateShape.SCALAR;
        }

        @Override
        public void retain(double[] a, MemoryShape s, double[] gate) {
            Decays.scalar(a, s, gate[0]);
        }

        @Override
        public void retainVjp(double[] aPrev, MemoryShape s, double[] gate, double[] d, double[] dGate) {
            dGate[0] += Decays.scalarVjp(aPrev, s, gate[0], d);
        }

        @Override
        public boolean mapped() {
            return true;
        }

        @Override
        public void map(double[] a, MemoryShape s, double[] w) {
            for (int l = 0; l < s.depth(); l++) {
                int cols = s.cols(l);
                for (int r = 0; r < s.rows(l); r++) {
                    int o = s.offset(l) + r * cols;
                    double mx = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < cols; j++) {
                        mx = Math.max(mx, a[o + j]);
                    }
                    double z = 0;
                    for (int j = 0; j < cols; j++) {
                        w[o + j] = Math.exp(a[o + j] - mx);
                        z += w[o + j];
                    }
                    for (int j = 0; j < cols; j++) {
                        w[o + j] *= scale / z;
                    }
                }
            }
        }

        @Override
        public void mapVjp(double[] a, MemoryShape s, double[] dW, double[] dA) {
            double[] w = new double[s.size()];
            map(a, s, w);
            for (int l = 0; l < s.depth(); l++) {
                int cols = s.cols(l);
                for (int r = 0; r < s.rows(l); r++) {
                    int o = s.offset(l) + r * cols;
                    // W = c p: dA_j = p_j c (dW_j − Σ_i p_i dW_i) = W_j (dW_j − Σ_i W_i dW_i / c)
                    double dot = 0;
                    for (int j = 0; j < cols; j++) {
                        dot += w[o + j] * dW[o + j];
                    }
                    dot /= scale;
                    for (int j = 0; j < cols; j++) {
                        dA[o + j] += w[o + j] * (dW[o + j] - dot);
                    }
                }
            }
        }
    }
}
