package io.mnemo.core;

import java.util.Random;
import java.util.function.ToDoubleFunction;

/**
 * Finite-difference gradient checks in double precision, for tests of every hand-written backward.
 *
 * <p>Central differences {@code (f(x+εe_i) − f(x−εe_i)) / 2ε} on a sample of coordinates (or all of
 * them), compared with the analytic gradient by {@code |a − n| / max(1, |a|, |n|)}.
 */
public final class GradientCheck {
    private GradientCheck() {}

    /**
     * Worst coordinate of a check.
     *
     * @param maxError the largest {@code |a − n| / max(1, |a|, |n|)} seen
     * @param index the coordinate where it was seen
     * @param analytic the analytic derivative there
     * @param numeric the finite-difference derivative there
     * @param checked how many coordinates were compared
     */
    public record Result(double maxError, int index, double analytic, double numeric, int checked) {
        /** True when {@code maxError <= tol} and nothing was NaN. */
        public boolean passed(double tol) {
            return maxError <= tol && !Double.isNaN(maxError);
        }

        @Override
        public String toString() {
            return String.format("max error %.3e at [%d] (analytic %.9g, numeric %.9g) over %d coordinates",
                    maxError, index, analytic, numeric, checked);
        }
    }

    /**
     * Compares {@code analytic} with central differences of {@code loss} around {@code x}.
     *
     * @param loss the scalar function; it may read {@code x}, which is perturbed in place and restored
     * @param x the point
     * @param analytic the gradient to check, same length as {@code x}
     * @param eps the step, e.g. 1e-6
     * @param maxCoords at most this many coordinates, chosen at random with {@code seed} (all if ≥ length), without repetition
     */
    public static Result check(ToDoubleFunction<double[]> loss, double[] x, double[] analytic, double eps,
            int maxCoords, long seed) {
        if (analytic.length != x.length) {
            throw new IllegalArgumentException("analytic gradient has " + analytic.length + " elements, x has "
                    + x.length);
        }
        int n = x.length;
        int[] idx;
        if (maxCoords >= n) {
            idx = new int[n];
            for (int i = 0; i < n; i++) {
                idx[i] = i;
            }
        } else {
            // a random sample without repetition (partial Fisher–Yates shuffle)
            Random r = new Random(seed);
            int[] all = new int[n];
            for (int i = 0; i < n; i++) {
                all[i] = i;
            }
            for (int i = 0; i < maxCoords; i++) {
                int j = i + r.nextInt(n - i);
                int tmp = all[i];
                all[i] = all[j];
                all[j] = tmp;
            }
            idx = java.util.Arrays.copyOf(all, maxCoords);
        }
        double worst = -1;
        int wi = -1;
        double wa = 0;
        double wn = 0;
        for (int i : idx) {
            double x0 = x[i];
            x[i] = x0 + eps;
            double fp = loss.applyAsDouble(x);
            x[i] = x0 - eps;
            double fm = loss.applyAsDouble(x);
            x[i] = x0;
            double num = (fp - fm) / (2 * eps);
            double a = analytic[i];
            double err = Math.abs(a - num) / Math.max(1.0, Math.max(Math.abs(a), Math.abs(num)));
            if (Double.isNaN(err) || err > worst) {
                worst = err;
                wi = i;
                wa = a;
                wn = num;
                if (Double.isNaN(err)) {
                    break;
                }
            }
        }
        return new Result(worst, wi, wa, wn, idx.length);
    }
}
