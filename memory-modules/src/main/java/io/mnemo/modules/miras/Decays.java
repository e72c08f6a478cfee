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

    static double softplus(double x) {
        return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
    }

    static double sigmoid(double x) {
        return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
    }
}
