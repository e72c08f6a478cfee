package io.mnemo.modules.miras;

/**
 * How the memory follows the gradient of its attentional bias (the "memory learning algorithm" of
 * Miras). Per token, given the inner gradient {@code g_t} (with respect to the memory weights, taken at
 * the chunk-start memory), the rule produces the additive update {@code U_t} of the retention's carried
 * state ({@code A_t = retain(A_{t−1}) + U_t}, see {@link RetentionGate}) and may carry its own state
 * {@code S} of the same size (momentum).
 *
 * <p><b>Extension point.</b> A user rule implements {@link #step} and its exact backward
 * {@link #stepVjp}; it receives the per-token step size {@code θ_t} ({@code theta[B, T, H]}) and, when
 * {@link #momentum()} is true, a second per-token scalar {@code η_t} ({@code eta[B, T, H]}) and a carried
 * vector {@code S}. Rules that need more than one gradient per token (multi-step or implicit updates)
 * do not fit this contract yet: they need the kernel to call the architecture again inside the step.
 */
public interface UpdateRule {
    /** Short name used in configs and messages. */
    String name();

    /** True when the rule reads {@code eta[B, T, H]} and carries a state S (one vector per head, size P). */
    boolean momentum();

    /**
     * One token: writes {@code U} and updates {@code s} in place (ignored without {@link #momentum()}).
     *
     * @param g the inner gradient, length n
     */
    void step(double[] s, double[] g, double theta, double eta, double[] u, int n);

    /**
     * Backward of {@link #step}.
     *
     * @param sPrev the rule state before the step (unused without momentum)
     * @param dU {@code ∂L/∂U}
     * @param dS {@code ∂L/∂s_t} on entry, {@code ∂L/∂s_{t−1}} on return (unused without momentum)
     * @param dG accumulates {@code ∂L/∂g}
     * @param dGates accumulates {@code ∂L/∂θ} into [0] and {@code ∂L/∂η} into [1]
     */
    void stepVjp(double[] sPrev, double[] g, double theta, double eta, double[] dU, double[] dS, double[] dG,
            double[] dGates, int n);

    /** Gradient descent with a per-token step: {@code U_t = −θ_t g_t}. */
    record Gd() implements UpdateRule {
        @Override
        public String name() {
            return "gd";
        }

        @Override
        public boolean momentum() {
            return false;
        }

        @Override
        public void step(double[] s, double[] g, double theta, double eta, double[] u, int n) {
            for (int i = 0; i < n; i++) {
                u[i] = -theta * g[i];
            }
        }

        @Override
        public void stepVjp(double[] sPrev, double[] g, double theta, double eta, double[] dU, double[] dS,
                double[] dG, double[] dGates, int n) {
            double dt = 0;
            for (int i = 0; i < n; i++) {
                dG[i] -= theta * dU[i];
                dt -= dU[i] * g[i];
            }
            dGates[0] += dt;
        }
    }

    /** Gradient descent with momentum (Titans): {@code S_t = η_t S_{t−1} − θ_t g_t}, {@code U_t = S_t}. */
    record Momentum() implements UpdateRule {
        @Override
        public String name() {
            return "momentum";
        }

        @Override
        public boolean momentum() {
            return true;
        }

        @Override
        public void step(double[] s, double[] g, double theta, double eta, double[] u, int n) {
            for (int i = 0; i < n; i++) {
                s[i] = eta * s[i] - theta * g[i];
                u[i] = s[i];
            }
        }

        @Override
        public void stepVjp(double[] sPrev, double[] g, double theta, double eta, double[] dU, double[] dS,
                double[] dG, double[] dGates, int n) {
            double dt = 0;
            double de = 0;
            for (int i = 0; i < n; i++) {
                double ds = dS[i] + dU[i];
                de += ds * sPrev[i];
                dt -= ds * g[i];
                dG[i] -= theta * ds;
                dS[i] = eta * ds;
            }
            dGates[0] += dt;
            dGates[1] += de;
        }
    }
}
