package io.mnemo.modules.miras;

import java.util.Objects;

/**
 * The inner objective of a Miras memory (its "attentional bias", Behrouz et al. 2025, "It's All
 * Connected", §3–4): a per-token loss {@code ℓ(p, v)} between the memory's prediction
 * {@code p = M(k)} and the value {@code v}, both of length {@code Dv}, with everything the outer
 * backward pass needs because the memory update itself is differentiated:
 * <ul>
 *   <li>{@link #loss} — {@code ℓ};</li>
 *   <li>{@link #gradient} — {@code g = ∂ℓ/∂p};</li>
 *   <li>{@link #gradientVjp} — the derivative of that gradient applied to a vector {@code u}: the
 *       Hessian-vector product {@code (∂g/∂p) u} (the Hessian is symmetric), {@code (∂g/∂v)ᵀ u} and
 *       {@code ∂⟨g, u⟩/∂θ} for a data-dependent parameter θ (e.g. Huber's {@code δ_t}).</li>
 * </ul>
 * A bias with {@link #tokenParameter()} receives one scalar per token ({@code param[B, T, H]} in
 * {@link MirasInputs}); the others ignore {@code param}. Implementations must be immutable and
 * thread-safe; they are named in configs through {@link MirasComponents}.
 */
public interface AttentionalBias {
    /** Short name used in configs and messages. */
    String name();

    /** True when the bias reads a per-token parameter ({@code param[B, T, H]}). */
    default boolean tokenParameter() {
        return false;
    }

    /** {@code ℓ(p, v; param)}. */
    double loss(double[] p, double[] v, double param);

    /** Writes {@code g = ∂ℓ/∂p} into {@code g} (length Dv). */
    void gradient(double[] p, double[] v, double param, double[] g);

    /**
     * For the gradient {@code g(p, v, param)} and a vector {@code u}: accumulates
     * {@code dP += (∂g/∂p) u} and {@code dV += (∂g/∂v)ᵀ u}, and returns {@code ∂⟨g, u⟩/∂param}
     * (0 without a token parameter).
     */
    double gradientVjp(double[] p, double[] v, double param, double[] u, double[] dP, double[] dV);

    /** Dot-product bias {@code ℓ = −⟨p, v⟩}: the Hebbian write of linear attention, {@code g = −v}. */
    record Dot() implements AttentionalBias {
        @Override
        public String name() {
            return "dot";
        }

        @Override
        public double loss(double[] p, double[] v, double param) {
            double s = 0;
            for (int j = 0; j < v.length; j++) {
                s -= p[j] * v[j];
            }
            return s;
        }

        @Override
        public void gradient(double[] p, double[] v, double param, double[] g) {
            for (int j = 0; j < v.length; j++) {
                g[j] = -v[j];
            }
        }

        @Override
        public double gradientVjp(double[] p, double[] v, double param, double[] u, double[] dP, double[] dV) {
            for (int j = 0; j < v.length; j++) {
                dV[j] -= u[j];
            }
            return 0;
        }
    }

    /** L2 regression {@code ℓ = ½‖p − v‖²}: the delta rule, {@code g = p − v}. */
    record L2() implements AttentionalBias {
        @Override
        public String name() {
            return "l2";
        }

        @Override
        public double loss(double[] p, double[] v, double param) {
            double s = 0;
            for (int j = 0; j < v.length; j++) {
                double e = p[j] - v[j];
                s += 0.5 * e * e;
            }
            return s;
        }

        @Override
        public void gradient(double[] p, double[] v, double param, double[] g) {
            for (int j = 0; j < v.length; j++) {
                g[j] = p[j] - v[j];
            }
        }

        @Override
        public double gradientVjp(double[] p, double[] v, double param, double[] u, double[] dP, double[] dV) {
            for (int j = 0; j < v.length; j++) {
                dP[j] += u[j];
                dV[j] -= u[j];
            }
            return 0;
        }
    }

    /**
     * Lp regression (Moneta's bias) with the smooth surrogate {@code |x| ≈ s(x) = sqrt(x² + ε)}:
     * {@code ℓ = (1/p) Σ_i s(e_i)^p}, {@code e = p − v}, so {@code g_i = s(e_i)^{p−2} e_i} and
     * {@code ∂g_i/∂e_i = s^{p−4} ((p−1) e_i² + ε)}. For p = 2 the gradient is exactly the L2 one;
     * for p = 1 it is the smooth sign {@code e/sqrt(e² + ε)}.
     *
     * @param p the exponent, ≥ 1 (the paper's Moneta uses 3)
     * @param eps the smoothing ε > 0 of |·| (e.g. 1e-6)
     */
    record Lp(double p, double eps) implements AttentionalBias {
        public Lp {
            if (!(p >= 1) || Double.isInfinite(p)) {
                throw new IllegalArgumentException("p must be a finite number >= 1, got p=" + p);
            }
            if (!(eps > 0) || Double.isInfinite(eps)) {
                throw new IllegalArgumentException("eps must be finite and > 0, got eps=" + eps);
            }
        }

        @Override
        public String name() {
            return "lp";
        }

        @Override
        public double loss(double[] pr, double[] v, double param) {
            double s = 0;
            for (int j = 0; j < v.length; j++) {
                double e = pr[j] - v[j];
                s += Decays.pow(e * e + eps, 0.5 * p);
            }
            return s / p;
        }

        @Override
        public void gradient(double[] pr, double[] v, double param, double[] g) {
            for (int j = 0; j < v.length; j++) {
                double e = pr[j] - v[j];
                g[j] = Decays.pow(e * e + eps, 0.5 * p - 1) * e;
            }
        }

        @Override
        public double gradientVjp(double[] pr, double[] v, double param, double[] u, double[] dP, double[] dV) {
            for (int j = 0; j < v.length; j++) {
                double e = pr[j] - v[j];
                double s2 = e * e + eps;
                double h = Decays.pow(s2, 0.5 * p - 2) * ((p - 1) * e * e + eps);
                dP[j] += h * u[j];
                dV[j] -= h * u[j];
            }
            return 0;
        }
    }

    /**
     * Huber loss (Yaad's bias), {@code e = p − v}, with threshold δ fixed or given per token
     * ({@code δ_t = param}, which must be > 0). {@link Mode#COORDINATE}:
     * {@code ℓ = Σ_i h_δ(e_i)}, {@code h_δ(x) = ½x²} for {@code |x| ≤ δ}, else {@code δ(|x| − ½δ)}, so
     * {@code g_i = clamp(e_i, −δ, δ)}. {@link Mode#NORM}: {@code ℓ = h_δ(‖e‖)}, so {@code g = e} inside the
     * ball and {@code δ e/‖e‖} outside. The second derivative is piecewise (exact away from the kink).
     *
     * @param mode coordinate-wise or on the Euclidean norm
     * @param delta the fixed δ > 0, or NaN when {@code dataDependent}
     * @param dataDependent true to read {@code δ_t} per token from {@code param}
     */
    record Huber(Mode mode, double delta, boolean dataDependent) implements AttentionalBias {
        /** Where the threshold applies. */
        public enum Mode {
            /** Per coordinate of {@code p − v}. */
            COORDINATE,
            /** On the L2 norm of {@code p − v}. */
            NORM
        }

        public Huber {
            Objects.requireNonNull(mode, "mode");
            if (dataDependent) {
                if (!Double.isNaN(delta)) {
                    throw new IllegalArgumentException("delta must be NaN when dataDependent=true (δ_t comes from the "
                            + "token parameter), got delta=" + delta);
                }
            } else if (!(delta > 0) || Double.isInfinite(delta)) {
                throw new IllegalArgumentException("delta must be finite and > 0, got delta=" + delta);
            }
        }

        /** Fixed threshold δ. */
        public static Huber fixed(Mode mode, double delta) {
            return new Huber(mode, delta, false);
        }

        /** Threshold {@code δ_t} from the token parameter. */
        public static Huber perToken(Mode mode) {
            return new Huber(mode, Double.NaN, true);
        }

        @Override
        public String name() {
            return "huber";
        }

        @Override
        public boolean tokenParameter() {
            return dataDependent;
        }

        private double d(double param) {
            if (!dataDependent) {
                return delta;
            }
            if (!(param > 0) || Double.isInfinite(param)) {
                throw new IllegalArgumentException("the Huber threshold delta_t must be finite and > 0, got " + param);
            }
            return param;
        }

        private static double norm(double[] p, double[] v) {
            double s = 0;
            for (int j = 0; j < v.length; j++) {
                double e = p[j] - v[j];
                s += e * e;
            }
            return Math.sqrt(s);
        }

        @Override
        public double loss(double[] p, double[] v, double param) {
            double dl = d(param);
            if (mode == Mode.NORM) {
                double n = norm(p, v);
                return n <= dl ? 0.5 * n * n : dl * (n - 0.5 * dl);
            }
            double s = 0;
            for (int j = 0; j < v.length; j++) {
                double a = Math.abs(p[j] - v[j]);
                s += a <= dl ? 0.5 * a * a : dl * (a - 0.5 * dl);
            }
            return s;
        }

        @Override
        public void gradient(double[] p, double[] v, double param, double[] g) {
            double dl = d(param);
            if (mode == Mode.NORM) {
                double n = norm(p, v);
                double f = n <= dl ? 1.0 : dl / n;
                for (int j = 0; j < v.length; j++) {
                    g[j] = f * (p[j] - v[j]);
                }
                return;
            }
            for (int j = 0; j < v.length; j++) {
                g[j] = Math.max(-dl, Math.min(dl, p[j] - v[j]));
            }
        }

        @Override
        public double gradientVjp(double[] p, double[] v, double param, double[] u, double[] dP, double[] dV) {
            double dl = d(param);
            double dParam = 0;
            if (mode == Mode.NORM) {
                double n = norm(p, v);
                if (n <= dl) {
                    for (int j = 0; j < v.length; j++) {
                        dP[j] += u[j];
                        dV[j] -= u[j];
                    }
                    return 0;
                }
                double eu = 0;
                for (int j = 0; j < v.length; j++) {
                    eu += (p[j] - v[j]) * u[j];
                }
                // g = δ e/n: ∂g/∂e u = (δ/n)(u − e ⟨e, u⟩/n²), ∂⟨g, u⟩/∂δ = ⟨e, u⟩/n
                for (int j = 0; j < v.length; j++) {
                    double h = dl / n * (u[j] - (p[j] - v[j]) * eu / (n * n));
                    dP[j] += h;
                    dV[j] -= h;
                }
                return dataDependent ? eu / n : 0;
            }
            for (int j = 0; j < v.length; j++) {
                double e = p[j] - v[j];
                if (Math.abs(e) <= dl) {
                    dP[j] += u[j];
                    dV[j] -= u[j];
                } else {
                    dParam += Math.signum(e) * u[j];
                }
            }
            return dataDependent ? dParam : 0;
        }
    }

    /**
     * Robust to a bounded value shift: {@code ℓ = max_{‖Δv‖ ≤ Δ} ½‖p − v − Δv‖² = ½(‖e‖ + Δ)²} with
     * the smoothed norm {@code n = sqrt(‖e‖² + ε)}, {@code e = p − v}. Then {@code g = (1 + Δ/n) e} and
     * {@code ∂g/∂e u = (1 + Δ/n) u − Δ e ⟨e, u⟩/n³}. With Δ = 0 the gradient is exactly the L2 one.
     *
     * @param shift the radius Δ ≥ 0 of the value perturbation
     * @param eps the smoothing ε > 0 of the norm
     */
    record ValueShift(double shift, double eps) implements AttentionalBias {
        public ValueShift {
            if (!(shift >= 0) || Double.isInfinite(shift)) {
                throw new IllegalArgumentException("shift must be finite and >= 0, got shift=" + shift);
            }
            if (!(eps > 0) || Double.isInfinite(eps)) {
                throw new IllegalArgumentException("eps must be finite and > 0, got eps=" + eps);
            }
        }

        @Override
        public String name() {
            return "value-shift";
        }

        private double n(double[] p, double[] v) {
            double s = eps;
            for (int j = 0; j < v.length; j++) {
                double e = p[j] - v[j];
                s += e * e;
            }
            return Math.sqrt(s);
        }

        @Override
        public double loss(double[] p, double[] v, double param) {
            double r = n(p, v) + shift;
            return 0.5 * r * r;
        }

        @Override
        public void gradient(double[] p, double[] v, double param, double[] g) {
            double f = 1 + shift / n(p, v);
            for (int j = 0; j < v.length; j++) {
                g[j] = f * (p[j] - v[j]);
            }
        }

        @Override
        public double gradientVjp(double[] p, double[] v, double param, double[] u, double[] dP, double[] dV) {
            double n = n(p, v);
            double eu = 0;
            for (int j = 0; j < v.length; j++) {
                eu += (p[j] - v[j]) * u[j];
            }
            double f = 1 + shift / n;
            double c = shift * eu / (n * n * n);
            for (int j = 0; j < v.length; j++) {
                double h = f * u[j] - c * (p[j] - v[j]);
                dP[j] += h;
                dV[j] -= h;
            }
            return 0;
        }
    }
}
