package io.mnemo.modules.titans;

import java.util.ArrayList;
import java.util.List;

/**
 * A minimal reverse-mode tape over small double matrices, used by the reference backend so that its
 * backward is independent of the cpu kernel's hand derivation. Every operation records a closure
 * that adds the output's gradient into its inputs' gradients; {@link #backward()} runs them in
 * reverse order. Second-order terms (the outer gradient through the inner gradient) need nothing
 * special: the inner gradient is itself built from taped operations.
 */
final class Tape {
    /** A value {@code [rows, cols]} (row-major) with its gradient, allocated on first use. */
    static final class Var {
        final double[] v;
        final int rows;
        final int cols;
        private double[] g;

        Var(double[] v, int rows, int cols) {
            this.v = v;
            this.rows = rows;
            this.cols = cols;
        }

        double[] grad() {
            if (g == null) {
                g = new double[v.length];
            }
            return g;
        }

        boolean hasGrad() {
            return g != null;
        }

        double scalar() {
            return v[0];
        }
    }

    private final List<Runnable> back = new ArrayList<>();

    /** A leaf (input) holding {@code v}. */
    Var leaf(double[] v, int rows, int cols) {
        return new Var(v, rows, cols);
    }

    /** A leaf copied from {@code src[off .. off + rows·cols)}. */
    Var leaf(double[] src, int off, int rows, int cols) {
        double[] v = new double[rows * cols];
        System.arraycopy(src, off, v, 0, v.length);
        return new Var(v, rows, cols);
    }

    /** A scalar leaf. */
    Var scalar(double x) {
        return new Var(new double[] {x}, 1, 1);
    }

    private Var record(Var out, Runnable bw) {
        back.add(() -> {
            if (out.hasGrad()) {
                bw.run();
            }
        });
        return out;
    }

    /** {@code W x} for {@code W [m, n]}, {@code x [n, 1]}. */
    Var matvec(Var w, Var x) {
        int m = w.rows;
        int n = w.cols;
        double[] y = new double[m];
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (int j = 0; j < n; j++) {
                s += w.v[i * n + j] * x.v[j];
            }
            y[i] = s;
        }
        Var out = new Var(y, m, 1);
        return record(out, () -> {
            double[] gy = out.grad();
            double[] gw = w.grad();
            double[] gx = x.grad();
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    gw[i * n + j] += gy[i] * x.v[j];
                    gx[j] += w.v[i * n + j] * gy[i];
                }
            }
        });
    }

    /** {@code Wᵀ x} for {@code W [m, n]}, {@code x [m, 1]}. */
    Var matTvec(Var w, Var x) {
        int m = w.rows;
        int n = w.cols;
        double[] y = new double[n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                y[j] += w.v[i * n + j] * x.v[i];
            }
        }
        Var out = new Var(y, n, 1);
        return record(out, () -> {
            double[] gy = out.grad();
            double[] gw = w.grad();
            double[] gx = x.grad();
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    gw[i * n + j] += x.v[i] * gy[j];
                    gx[i] += w.v[i * n + j] * gy[j];
                }
            }
        });
    }

    /** {@code a bᵀ} for column vectors a {@code [m]}, b {@code [n]}. */
    Var outer(Var a, Var b) {
        int m = a.v.length;
        int n = b.v.length;
        double[] y = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                y[i * n + j] = a.v[i] * b.v[j];
            }
        }
        Var out = new Var(y, m, n);
        return record(out, () -> {
            double[] gy = out.grad();
            double[] ga = a.grad();
            double[] gb = b.grad();
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    ga[i] += gy[i * n + j] * b.v[j];
                    gb[j] += gy[i * n + j] * a.v[i];
                }
            }
        });
    }

    /** {@code a + b}. */
    Var add(Var a, Var b) {
        double[] y = new double[a.v.length];
        for (int i = 0; i < y.length; i++) {
            y[i] = a.v[i] + b.v[i];
        }
        Var out = new Var(y, a.rows, a.cols);
        return record(out, () -> {
            double[] gy = out.grad();
            double[] ga = a.grad();
            double[] gb = b.grad();
            for (int i = 0; i < y.length; i++) {
                ga[i] += gy[i];
                gb[i] += gy[i];
            }
        });
    }

    /** {@code a − b}. */
    Var sub(Var a, Var b) {
        double[] y = new double[a.v.length];
        for (int i = 0; i < y.length; i++) {
            y[i] = a.v[i] - b.v[i];
        }
        Var out = new Var(y, a.rows, a.cols);
        return record(out, () -> {
            double[] gy = out.grad();
            double[] ga = a.grad();
            double[] gb = b.grad();
            for (int i = 0; i < y.length; i++) {
                ga[i] += gy[i];
                gb[i] -= gy[i];
            }
        });
    }

    /** {@code s · x} for a scalar s. */
    Var scale(Var s, Var x) {
        double c = s.scalar();
        double[] y = new double[x.v.length];
        for (int i = 0; i < y.length; i++) {
            y[i] = c * x.v[i];
        }
        Var out = new Var(y, x.rows, x.cols);
        return record(out, () -> {
            double[] gy = out.grad();
            double[] gx = x.grad();
            double gs = 0;
            for (int i = 0; i < y.length; i++) {
                gx[i] += c * gy[i];
                gs += x.v[i] * gy[i];
            }
            s.grad()[0] += gs;
        });
    }

    /** {@code −x}. */
    Var neg(Var x) {
        double[] y = new double[x.v.length];
        for (int i = 0; i < y.length; i++) {
            y[i] = -x.v[i];
        }
        Var out = new Var(y, x.rows, x.cols);
        return record(out, () -> {
            double[] gy = out.grad();
            double[] gx = x.grad();
            for (int i = 0; i < y.length; i++) {
                gx[i] -= gy[i];
            }
        });
    }

    /** Elementwise {@code a ⊙ b}. */
    Var mul(Var a, Var b) {
        double[] y = new double[a.v.length];
        for (int i = 0; i < y.length; i++) {
            y[i] = a.v[i] * b.v[i];
        }
        Var out = new Var(y, a.rows, a.cols);
        return record(out, () -> {
            double[] gy = out.grad();
            double[] ga = a.grad();
            double[] gb = b.grad();
            for (int i = 0; i < y.length; i++) {
                ga[i] += gy[i] * b.v[i];
                gb[i] += gy[i] * a.v[i];
            }
        });
    }

    /** Elementwise {@code σ(z)}. */
    Var act(TitansActivation f, Var z) {
        double[] y = new double[z.v.length];
        for (int i = 0; i < y.length; i++) {
            y[i] = f.value(z.v[i]);
        }
        Var out = new Var(y, z.rows, z.cols);
        return record(out, () -> {
            double[] gy = out.grad();
            double[] gz = z.grad();
            for (int i = 0; i < y.length; i++) {
                gz[i] += gy[i] * f.d1(z.v[i]);
            }
        });
    }

    /** Elementwise {@code σ'(z)} (its gradient uses {@code σ''}). */
    Var actD1(TitansActivation f, Var z) {
        double[] y = new double[z.v.length];
        for (int i = 0; i < y.length; i++) {
            y[i] = f.d1(z.v[i]);
        }
        Var out = new Var(y, z.rows, z.cols);
        return record(out, () -> {
            double[] gy = out.grad();
            double[] gz = z.grad();
            for (int i = 0; i < y.length; i++) {
                gz[i] += gy[i] * f.d2(z.v[i]);
            }
        });
    }

    /** Scalar {@code Σ x²}. */
    Var sumSq(Var x) {
        double s = 0;
        for (double e : x.v) {
            s += e * e;
        }
        Var out = new Var(new double[] {s}, 1, 1);
        return record(out, () -> {
            double gy = out.grad()[0];
            double[] gx = x.grad();
            for (int i = 0; i < x.v.length; i++) {
                gx[i] += 2 * x.v[i] * gy;
            }
        });
    }

    /** Scalar {@code Σ_i a_i} of scalars. */
    Var sum(List<Var> xs) {
        double s = 0;
        for (Var x : xs) {
            s += x.scalar();
        }
        Var out = new Var(new double[] {s}, 1, 1);
        return record(out, () -> {
            double gy = out.grad()[0];
            for (Var x : xs) {
                x.grad()[0] += gy;
            }
        });
    }

    /** Scalar mean of scalars. */
    Var mean(List<Var> xs) {
        Var s = sum(xs);
        return scale(scalar(1.0 / xs.size()), s);
    }

    /** Scalar {@code 1 − a}. */
    Var oneMinus(Var a) {
        Var out = new Var(new double[] {1 - a.scalar()}, 1, 1);
        return record(out, () -> a.grad()[0] -= out.grad()[0]);
    }

    /**
     * Scalar clamp factor {@code min(1, c / sqrt(n2))} for a squared norm n2: multiplying a gradient by it
     * limits the gradient's norm to c. Its derivative is {@code −c/2 · n2^{−3/2}} where the clamp is active.
     */
    Var clampFactor(Var n2, double c) {
        double norm = Math.sqrt(n2.scalar());
        boolean active = norm > c;
        Var out = new Var(new double[] {active ? c / norm : 1.0}, 1, 1);
        return record(out, () -> {
            if (active) {
                n2.grad()[0] += out.grad()[0] * (-0.5 * c / (norm * norm * norm));
            }
        });
    }

    /** Runs the recorded closures in reverse order; seed the outputs' {@link Var#grad()} first. */
    void backward() {
        for (int i = back.size() - 1; i >= 0; i--) {
            back.get(i).run();
        }
    }
}
