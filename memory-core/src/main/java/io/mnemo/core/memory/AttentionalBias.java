package io.mnemo.core.memory;

/**
 * The inner objective a memory is trained on at every token (the "attentional bias" of Miras):
 * a loss {@code ℓ(pred, v)} between the memory's prediction {@code pred = M(k)} and the value {@code v}.
 *
 * <p>Vectors are length {@code Dv}. Implementations provide the loss, its gradient with respect to
 * the prediction, and the vector-Jacobian product of that gradient, which the outer backward pass
 * needs because the memory update itself is differentiated (DESIGN.md §2, item 5).
 */
public interface AttentionalBias {
    /** Short name used in configs and messages, e.g. {@code "dot"} or {@code "l2"}. */
    String name();

    /** {@code ℓ(pred, v)}. */
    double loss(double[] pred, double[] v);

    /** Writes {@code g = ∂ℓ/∂pred} into {@code g}. */
    void gradient(double[] pred, double[] v, double[] g);

    /**
     * Given {@code u = ∂L/∂g} for the gradient {@code g(pred, v)}, accumulates
     * {@code dPred += (∂g/∂pred)ᵀ u} and {@code dV += (∂g/∂v)ᵀ u}.
     */
    void gradientVjp(double[] pred, double[] v, double[] u, double[] dPred, double[] dV);

    /** True when the gradient does not depend on {@code pred} (the memory is not read before it is written). */
    default boolean predictionFree() {
        return false;
    }

    /** Dot-product bias {@code ℓ = −⟨pred, v⟩}: the write of linear attention, {@code g = −v}. */
    AttentionalBias DOT = new AttentionalBias() {
        @Override
        public String name() {
            return "dot";
        }

        @Override
        public double loss(double[] pred, double[] v) {
            double s = 0;
            for (int j = 0; j < v.length; j++) {
                s -= pred[j] * v[j];
            }
            return s;
        }

        @Override
        public void gradient(double[] pred, double[] v, double[] g) {
            for (int j = 0; j < v.length; j++) {
                g[j] = -v[j];
            }
        }

        @Override
        public void gradientVjp(double[] pred, double[] v, double[] u, double[] dPred, double[] dV) {
            for (int j = 0; j < v.length; j++) {
                dV[j] -= u[j];
            }
        }

        @Override
        public boolean predictionFree() {
            return true;
        }

        @Override
        public String toString() {
            return name();
        }
    };

    /** L2 bias {@code ℓ = ½‖pred − v‖²}: the delta rule, {@code g = pred − v}. */
    AttentionalBias L2 = new AttentionalBias() {
        @Override
        public String name() {
            return "l2";
        }

        @Override
        public double loss(double[] pred, double[] v) {
            double s = 0;
            for (int j = 0; j < v.length; j++) {
                double d = pred[j] - v[j];
                s += 0.5 * d * d;
            }
            return s;
        }

        @Override
        public void gradient(double[] pred, double[] v, double[] g) {
            for (int j = 0; j < v.length; j++) {
                g[j] = pred[j] - v[j];
            }
        }

        @Override
        public void gradientVjp(double[] pred, double[] v, double[] u, double[] dPred, double[] dV) {
            for (int j = 0; j < v.length; j++) {
                dPred[j] += u[j];
                dV[j] -= u[j];
            }
        }

        @Override
        public String toString() {
            return name();
        }
    };
}
