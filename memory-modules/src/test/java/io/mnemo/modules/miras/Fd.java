package io.mnemo.modules.miras;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;
import java.util.function.DoubleSupplier;

/** Central finite differences in double and comparisons that name what differs. */
final class Fd {
    private Fd() {}

    /** {@code ∂f/∂x[i]} for every i by central differences with step h (x is restored). */
    static double[] grad(double[] x, DoubleSupplier f, double h) {
        double[] g = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double x0 = x[i];
            x[i] = x0 + h;
            double fp = f.getAsDouble();
            x[i] = x0 - h;
            double fm = f.getAsDouble();
            x[i] = x0;
            g[i] = (fp - fm) / (2 * h);
        }
        return g;
    }

    /** Asserts |a − b| ≤ tol · max(1, |b|) elementwise. */
    static void close(String what, double[] a, double[] b, double tol) {
        if (a.length != b.length) {
            fail(what + ": lengths " + a.length + " vs " + b.length);
        }
        for (int i = 0; i < a.length; i++) {
            double err = Math.abs(a[i] - b[i]);
            if (!(err <= tol * Math.max(1, Math.abs(b[i])))) {
                fail(what + " differs at " + i + ": " + a[i] + " vs " + b[i] + " (|err|=" + err + ", tol=" + tol + ")");
            }
        }
    }

    static void close(String what, double a, double b, double tol) {
        close(what, new double[] {a}, new double[] {b}, tol);
    }

    static double[] randn(Random r, int n, double s) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = s * r.nextGaussian();
        }
        return x;
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }
}
