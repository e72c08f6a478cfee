package io.mnemo.core.memory;

/**
 * How the memory follows the gradient of its attentional bias (the "memory learning rule" of Miras).
 *
 * <p>For now: one step of gradient descent, {@code S ← S − η ∇ℓ}, with the step size either fixed
 * at 1 (linear attention, GLA) or supplied per token as {@code beta[B, T, H]} (the delta rules).
 * Momentum (Titans) and multi-step rules extend this interface.
 */
public interface UpdateRule {
    /** Short name used in configs and messages. */
    String name();

    /** True when the step size comes from the token ({@code beta[B, T, H]}); false for η = 1. */
    boolean dataDependentStep();

    /** Plain gradient descent with η = 1. */
    UpdateRule GD = new Gd("gd", false);
    /** Gradient descent with a per-token step size {@code β_t}. */
    UpdateRule GD_BETA = new Gd("gd-beta", true);

    /** Gradient descent. */
    record Gd(String name, boolean dataDependentStep) implements UpdateRule {
        @Override
        public String toString() {
            return name;
        }
    }
}
