package io.mnemo.modules.miras;

/** Small dense helpers over row-major matrices stored at an offset of a flat array. */
final class Mat {
    private Mat() {}

    /** {@code y = W x} for {@code W [m, n]} at offset o. */
    static void mv(double[] w, int o, int m, int n, double[] x, double[] y) {
        for (int i = 0; i < m; i++) {
            double s = 0;
            int r = o + i * n;
            for (int j = 0; j < n; j++) {
                s += w[r + j] * x[j];
            }
            y[i] = s;
        }
    }

    /** {@code y += Wᵀ x} for {@code W [m, n]} at offset o, x of length m. */
    static void addMtv(double[] w, int o, int m, int n, double[] x, double[] y) {
        for (int i = 0; i < m; i++) {
            double xi = x[i];
            int r = o + i * n;
            for (int j = 0; j < n; j++) {
                y[j] += w[r + j] * xi;
            }
        }
    }

    /** {@code W += a bᵀ} for {@code W [m, n]} at offset o. */
    static void addOuter(double[] w, int o, double[] a, double[] b, int m, int n) {
        for (int i = 0; i < m; i++) {
            double ai = a[i];
            int r = o + i * n;
            for (int j = 0; j < n; j++) {
                w[r + j] += ai * b[j];
            }
        }
    }
}
