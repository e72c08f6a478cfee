package io.mnemo.modules.titans;

/**
 * The hidden activation {@code σ} of a deep (depth ≥ 2) Titans memory, with the first and second
 * derivatives that the exact backward needs (the inner gradient contains {@code σ'}, so the outer
 * gradient contains {@code σ''}).
 */
public enum TitansActivation {
    /** {@code silu(x) = x·sigmoid(x)}; the default (the Titans paper uses SiLU in its blocks). */
    SILU,
    /**
     * The tanh approximation of GELU, {@code ½x(1 + tanh(√(2/π)(x + 0.044715x³)))}. titans-pytorch's
     * {@code MemoryMLP} uses the exact (erf) GELU; the two differ by less than about 1e-3.
     */
    GELU_TANH;

    private static final double K = Math.sqrt(2.0 / Math.PI);
    private static final double A = 0.044715;

    /** {@code σ(x)}. */
    public double value(double x) {
        if (this == SILU) {
            return x * sigmoid(x);
        }
        return 0.5 * x * (1 + tanh(K * (x + A * x * x * x)));
    }

    /** {@code σ'(x)}. */
    public double d1(double x) {
        if (this == SILU) {
            double s = sigmoid(x);
            return s * (1 + x * (1 - s));
        }
        double th = tanh(K * (x + A * x * x * x));
        double du = K * (1 + 3 * A * x * x);
        return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * du;
    }

    /** {@code σ''(x)}. */
    public double d2(double x) {
        if (this == SILU) {
            double s = sigmoid(x);
            double ds = s * (1 - s);
            // d/dx [s + x s (1 − s)] = ds + s(1 − s) + x ds (1 − 2s)
            return 2 * ds + x * ds * (1 - 2 * s);
        }
        double th = tanh(K * (x + A * x * x * x));
        double sech2 = 1 - th * th;
        double du = K * (1 + 3 * A * x * x);
        double ddu = K * 6 * A * x;
        // σ' = ½(1 + th) + ½ x sech²(u) u';  d/dx: ½ sech² u' + ½ sech² u' + ½ x (−2 th sech² u'² + sech² u'')
        return sech2 * du + 0.5 * x * sech2 * (ddu - 2 * th * du * du);
    }

    /**
     * tanh through {@link Math#exp} (an intrinsic; {@code Math.tanh} is not, and it was 18 % of a Moneta
     * training profile). Odd Taylor series below 1e-4, where {@code (e − 1)/(e + 1)} would lose digits.
     */
    static double tanh(double x) {
        double ax = Math.abs(x);
        if (ax < 1e-4) {
            return x * (1 - x * x / 3);
        }
        if (ax > 20) {
            return Math.signum(x);
        }
        double e = Math.exp(2 * ax);
        double t = (e - 1) / (e + 1);
        return x < 0 ? -t : t;
    }

    private static double sigmoid(double x) {
        return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
    }
}
