package io.mnemo.modules.miras;

/** Multiplicative decays shared by the retention gates, and the scalar functions they use. */
final class Decays {
    private Decays() {}

    static void scalar(double[] a, MemoryShape s, double f) {
        for (int i = 0; i < s.size(); i++) {
            a[i] *= f;
        }
    }

    /** {@code d ← f d}; returns {@code ∂L/∂f = ⟨d, aPrev⟩} (with d on entry). */
    static double scalarVjp(double[] aPrev, MemoryShape s, double f, double[] d) {
        double g = 0;
        for (int i = 0; i < s.size(); i++) {
            g += d[i] * aPrev[i];
            d[i] *= f;
        }
        return g;
    }

    static void columns(double[] a, MemoryShape s, double[] f) {
        int cols = s.cols(0);
        for (int r = 0; r < s.rows(0); r++) {
            for (int c = 0; c < cols; c++) {
                a[r * cols + c] *= f[c];
            }
        }
    }

    static void columnsVjp(double[] aPrev, MemoryShape s, double[] f, double[] d, double[] dGate) {
        int cols = s.cols(0);
        for (int r = 0; r < s.rows(0); r++) {
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                dGate[c] += d[i] * aPrev[i];
                d[i] *= f[c];
            }
        }
    }

    /**
     * {@code x^e} for {@code x > 0}: exact products and one square root when {@code e} is a multiple of
     * 1/2 in [−8, 8] (the Lp/Lq exponents p/2, p/2 − 1, p/2 − 2 of integer p), {@link Math#pow} otherwise.
     * Math.pow dominated the Lp/Lq kernels' profile (about 40 ns a call, P calls per token).
     */
    static double pow(double x, double e) {
        double twoE = 2 * e;
        if (twoE != Math.rint(twoE) || Math.abs(e) > 8) {
            return Math.pow(x, e);
        }
        int halves = (int) twoE;
        int whole = Math.floorDiv(halves, 2);
        double r = 1;
        for (int i = 0; i < Math.abs(whole); i++) {
            r *= x;
        }
        if (whole < 0) {
            r = 1 / r;
        }
        return (halves & 1) != 0 ? r * Math.sqrt(x) : r;
    }

    static double softplus(double x) {
        return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
    }

    static double sigmoid(double x) {
        return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
    }
}
