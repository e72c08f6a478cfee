package io.mnemo.modules.mamba;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.kernel.Backend;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * SSD checked three ways: against a direct double translation of the chunked algorithm of
 * {@code ssd_minimal_discrete} (segment sums, diagonal blocks, chunk states, inter-chunk recurrence,
 * state to output — written here with loops, independent of the linear kernels), against the per-step
 * recurrence, and its gradients against central differences.
 */
class SsdTest {
    /** Inputs as double[]: x [B,L,H,P], a [B,L,H], b/c [B,L,G,N], s0 [B,H,P,N]. */
    record In(int bs, int l, int h, int p, int g, int n, double[] x, double[] a, double[] b, double[] c, double[] s0) {
        INDArray nd(double[] v, DataType t, int... shape) {
            long[] s = new long[shape.length];
            for (int i = 0; i < shape.length; i++) {
                s[i] = shape[i];
            }
            return Nd4j.createFromArray(v).reshape(s).castTo(t);
        }

        INDArray x(DataType t) {
            return nd(x, t, bs, l, h, p);
        }

        INDArray a(DataType t) {
            return nd(a, t, bs, l, h);
        }

        INDArray b(DataType t) {
            return nd(b, t, bs, l, g, n);
        }

        INDArray c(DataType t) {
            return nd(c, t, bs, l, g, n);
        }

        INDArray s0(DataType t) {
            return s0 == null ? null : nd(s0, t, bs, h, p, n);
        }
    }

    static In random(int bs, int l, int h, int p, int g, int n, boolean init, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] x = new double[bs * l * h * p];
        double[] a = new double[bs * l * h];
        double[] b = new double[bs * l * g * n];
        double[] c = new double[bs * l * g * n];
        for (int i = 0; i < x.length; i++) {
            x[i] = r.nextGaussian();
        }
        for (int i = 0; i < a.length; i++) {
            a[i] = -0.02 - 0.5 * r.nextDouble(); // Δ·A with A < 0
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = r.nextGaussian() * 0.5;
            c[i] = r.nextGaussian() * 0.5;
        }
        double[] s0 = null;
        if (init) {
            s0 = new double[bs * h * p * n];
            for (int i = 0; i < s0.length; i++) {
                s0[i] = r.nextGaussian();
            }
        }
        return new In(bs, l, h, p, g, n, x, a, b, c, s0);
    }

    /** Returns {y [B,L,H,P], final [B,H,P,N]} from the per-step recurrence H_t = e^{A_t} H + X_t B_tᵀ, y = H C. */
    static double[][] recurrence(In in) {
        double[] y = new double[in.bs * in.l * in.h * in.p];
        double[] fin = new double[in.bs * in.h * in.p * in.n];
        for (int bi = 0; bi < in.bs; bi++) {
            for (int hi = 0; hi < in.h; hi++) {
                int gi = hi / (in.h / in.g);
                double[][] st = new double[in.p][in.n];
                for (int pi = 0; pi < in.p; pi++) {
                    for (int ni = 0; ni < in.n; ni++) {
                        st[pi][ni] = in.s0 == null ? 0 : in.s0[((bi * in.h + hi) * in.p + pi) * in.n + ni];
                    }
                }
                for (int t = 0; t < in.l; t++) {
                    double dec = Math.exp(in.a[(bi * in.l + t) * in.h + hi]);
                    int bo = ((bi * in.l + t) * in.g + gi) * in.n;
                    for (int pi = 0; pi < in.p; pi++) {
                        double xv = in.x[((bi * in.l + t) * in.h + hi) * in.p + pi];
                        double acc = 0;
                        for (int ni = 0; ni < in.n; ni++) {
                            st[pi][ni] = dec * st[pi][ni] + xv * in.b[bo + ni];
                            acc += st[pi][ni] * in.c[bo + ni];
                        }
                        y[((bi * in.l + t) * in.h + hi) * in.p + pi] = acc;
                    }
                }
                for (int pi = 0; pi < in.p; pi++) {
                    for (int ni = 0; ni < in.n; ni++) {
                        fin[((bi * in.h + hi) * in.p + pi) * in.n + ni] = st[pi][ni];
                    }
                }
            }
        }
        return new double[][] {y, fin};
    }

    /**
     * The four steps of ssd_minimal_discrete per (batch, head), chunk length {@code q} (the last chunk may
     * be shorter): Y_diag = (L ∘ C Bᵀ) X with L = exp(segsum(A)); chunk states from decayed B·X; the
     * recurrence over chunk states; Y_off = (C · state) · exp(cumsum A).
     */
    static double[][] chunked(In in, int q) {
        double[] y = new double[in.bs * in.l * in.h * in.p];
        double[] fin = new double[in.bs * in.h * in.p * in.n];
        for (int bi = 0; bi < in.bs; bi++) {
            for (int hi = 0; hi < in.h; hi++) {
                int gi = hi / (in.h / in.g);
                double[][] prev = new double[in.p][in.n];
                for (int pi = 0; pi < in.p; pi++) {
                    for (int ni = 0; ni < in.n; ni++) {
                        prev[pi][ni] = in.s0 == null ? 0 : in.s0[((bi * in.h + hi) * in.p + pi) * in.n + ni];
                    }
                }
                for (int c0 = 0; c0 < in.l; c0 += q) {
                    int len = Math.min(q, in.l - c0);
                    double[] cum = new double[len];
                    double run = 0;
                    for (int i = 0; i < len; i++) {
                        run += in.a[(bi * in.l + c0 + i) * in.h + hi];
                        cum[i] = run;
                    }
                    // 1. diagonal block and 4. state-to-output, per output row i
                    for (int i = 0; i < len; i++) {
                        int ci = ((bi * in.l + c0 + i) * in.g + gi) * in.n;
                        for (int pi = 0; pi < in.p; pi++) {
                            double acc = 0;
                            for (int s = 0; s <= i; s++) {
                                int bo = ((bi * in.l + c0 + s) * in.g + gi) * in.n;
                                double cb = 0;
                                for (int ni = 0; ni < in.n; ni++) {
                                    cb += in.c[ci + ni] * in.b[bo + ni];
                                }
                                acc += Math.exp(cum[i] - cum[s]) * cb * in.x[((bi * in.l + c0 + s) * in.h + hi) * in.p + pi];
                            }
                            double off = 0;
                            for (int ni = 0; ni < in.n; ni++) {
                                off += in.c[ci + ni] * prev[pi][ni];
                            }
                            y[((bi * in.l + c0 + i) * in.h + hi) * in.p + pi] = acc + Math.exp(cum[i]) * off;
                        }
                    }
                    // 2. the chunk's own state and 3. the inter-chunk recurrence
                    double total = cum[len - 1];
                    double[][] next = new double[in.p][in.n];
                    for (int pi = 0; pi < in.p; pi++) {
                        for (int ni = 0; ni < in.n; ni++) {
                            double acc = Math.exp(total) * prev[pi][ni];
                            for (int s = 0; s < len; s++) {
                                int bo = ((bi * in.l + c0 + s) * in.g + gi) * in.n;
                                acc += Math.exp(total - cum[s]) * in.b[bo + ni]
                                        * in.x[((bi * in.l + c0 + s) * in.h + hi) * in.p + pi];
                            }
                            next[pi][ni] = acc;
                        }
                    }
                    prev = next;
                }
                for (int pi = 0; pi < in.p; pi++) {
                    for (int ni = 0; ni < in.n; ni++) {
                        fin[((bi * in.h + hi) * in.p + pi) * in.n + ni] = prev[pi][ni];
                    }
                }
            }
        }
        return new double[][] {y, fin};
    }

    static void close(String what, double[] expected, INDArray actual, double tol) {
        double[] a = NdBuffers.toDoubles(actual.castTo(DataType.DOUBLE).dup('c'));
        assertTrue(a.length == expected.length, what + ": length " + a.length + " vs " + expected.length);
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            assertTrue(Double.isFinite(a[i]), what + ": non-finite at " + i);
            num = Math.max(num, Math.abs(a[i] - expected[i]));
            den = Math.max(den, Math.abs(expected[i]));
        }
        assertTrue(num <= tol * Math.max(1, den), what + ": max abs error " + num + " (max |expected| " + den + ")");
    }

    @ParameterizedTest
    @CsvSource({"1,1,16", "7,1,4", "63,2,16", "100,4,64", "100,1,7"})
    void chunkedAlgorithmRecurrenceAndEveryBackendAgree(int l, int g, int blockLen) {
        In in = random(2, l, 4, 5, g, 3, true, 11L * l + g);
        double[][] rec = recurrence(in);
        double[][] chk = chunked(in, blockLen);
        close("chunked y vs recurrence", rec[0], Nd4j.createFromArray(chk[0]), 1e-12);
        close("chunked state vs recurrence", rec[1], Nd4j.createFromArray(chk[1]), 1e-12);
        for (Backend be : new Backend[] {Backend.REFERENCE, Backend.CPU, Backend.ND4J}) {
            DataType t = be == Backend.REFERENCE ? DataType.DOUBLE : DataType.FLOAT;
            double tol = t == DataType.DOUBLE ? 1e-10 : 2e-4;
            Ssd.Result r = Ssd.forward(in.x(t), in.a(t), in.b(t), in.c(t), blockLen, in.s0(t), be, false);
            close(be + " y", chk[0], r.y(), tol);
            close(be + " final state", chk[1], r.finalState(), tol);
        }
    }

    private static double loss(In in, INDArray x, INDArray a, INDArray b, INDArray c, INDArray s0, INDArray wy,
            INDArray ws) {
        Ssd.Result r = Ssd.forward(x, a, b, c, 4, s0, Backend.REFERENCE, false);
        return r.y().mul(wy).sumNumber().doubleValue() + r.finalState().mul(ws).sumNumber().doubleValue();
    }

    @Test
    void gradientsMatchFiniteDifferencesAndFloatBackendsMatchReference() {
        In in = random(2, 9, 4, 3, 2, 2, true, 5);
        DataType d = DataType.DOUBLE;
        INDArray x = in.x(d);
        INDArray a = in.a(d);
        INDArray b = in.b(d);
        INDArray c = in.c(d);
        INDArray s0 = in.s0(d);
        INDArray wy = Nd4j.rand(d, x.shape()).subi(0.5);
        INDArray ws = Nd4j.rand(d, s0.shape()).subi(0.5);
        Ssd.Result f = Ssd.forward(x, a, b, c, 4, s0, Backend.REFERENCE, true);
        Ssd.Grads gr = Ssd.backward(f, wy, ws);
        INDArray[] ins = {x, a, b, c, s0};
        INDArray[] an = {gr.dX(), gr.dA(), gr.dB(), gr.dC(), gr.dInitialState()};
        String[] names = {"dX", "dA", "dB", "dC", "dInitialState"};
        for (int k = 0; k < ins.length; k++) {
            assertArrayEquals(ins[k].shape(), an[k].shape(), names[k] + " shape");
            INDArray flat = ins[k].reshape(-1);
            INDArray anFlat = an[k].dup('c').reshape(-1);
            for (int i = 0; i < flat.length(); i++) {
                double v = flat.getDouble(i);
                double eps = 1e-6;
                flat.putScalar(i, v + eps);
                double lp = loss(in, x, a, b, c, s0, wy, ws);
                flat.putScalar(i, v - eps);
                double lm = loss(in, x, a, b, c, s0, wy, ws);
                flat.putScalar(i, v);
                double fd = (lp - lm) / (2 * eps);
                double got = anFlat.getDouble(i);
                assertTrue(Math.abs(fd - got) <= 1e-6 * Math.max(1, Math.abs(fd)),
                        names[k] + "[" + i + "]: analytic " + got + " vs finite differences " + fd);
            }
        }
        for (Backend be : new Backend[] {Backend.CPU, Backend.ND4J}) {
            DataType t = DataType.FLOAT;
            Ssd.Result ff = Ssd.forward(x.castTo(t), a.castTo(t), b.castTo(t), c.castTo(t), 4, s0.castTo(t), be, true);
            Ssd.Grads g2 = Ssd.backward(ff, wy.castTo(t), ws.castTo(t));
            INDArray[] fl = {g2.dX(), g2.dA(), g2.dB(), g2.dC(), g2.dInitialState()};
            for (int k = 0; k < fl.length; k++) {
                close(be + " " + names[k], NdBuffers.toDoubles(an[k].dup('c')), fl[k], 2e-4);
            }
        }
    }

    @Test
    void stepsAndPiecesEqualOnePass() {
        In in = random(2, 13, 4, 3, 2, 4, true, 9);
        DataType t = DataType.FLOAT;
        Ssd.Result whole = Ssd.forward(in.x(t), in.a(t), in.b(t), in.c(t), 8, in.s0(t), Backend.CPU, false);
        INDArray st = in.s0(t);
        for (int i = 0; i < in.l; i++) {
            Ssd.Result r = Ssd.step(slice(in.x(t), i), slice(in.a(t), i), slice(in.b(t), i), slice(in.c(t), i), st,
                    Backend.CPU);
            st = r.finalState();
            close("step y at " + i, NdBuffers.toDoubles(slice(whole.y(), i).dup('c')), r.y().reshape(slice(whole.y(), i).shape()), 1e-5);
        }
        close("state after steps", NdBuffers.toDoubles(whole.finalState().castTo(DataType.DOUBLE)), st, 1e-5);
        Ssd.Result first = Ssd.forward(range(in.x(t), 0, 6), range(in.a(t), 0, 6), range(in.b(t), 0, 6),
                range(in.c(t), 0, 6), 8, in.s0(t), Backend.ND4J, false);
        Ssd.Result second = Ssd.forward(range(in.x(t), 6, 13), range(in.a(t), 6, 13), range(in.b(t), 6, 13),
                range(in.c(t), 6, 13), 8, first.finalState(), Backend.ND4J, false);
        close("pieces y", NdBuffers.toDoubles(range(whole.y(), 6, 13).castTo(DataType.DOUBLE)), second.y(), 1e-5);
        close("pieces state", NdBuffers.toDoubles(whole.finalState().castTo(DataType.DOUBLE)), second.finalState(), 1e-5);
    }

    private static INDArray slice(INDArray a, int t) {
        INDArray s = a.get(NDArrayIndex.all(), NDArrayIndex.point(t));
        return s.dup('c');
    }

    private static INDArray range(INDArray a, int from, int to) {
        return a.get(NDArrayIndex.all(), NDArrayIndex.interval(from, to)).dup('c');
    }

    @Test
    void badInputsAreNamed() {
        In in = random(1, 5, 4, 3, 2, 2, false, 1);
        DataType t = DataType.FLOAT;
        var e = assertThrows(IllegalArgumentException.class,
                () -> Ssd.forward(in.x(t), in.a(t), in.nd(in.b, t, 1, 5, 2, 2).reshape(1, 5, 4), in.c(t), 4, null,
                        Backend.CPU, false));
        assertTrue(e.getMessage().startsWith("B has shape [1, 5, 4], expected [B, L, G, N]"), e.getMessage());
        In three = random(1, 5, 4, 3, 3, 2, false, 1);
        e = assertThrows(IllegalArgumentException.class, () -> Ssd.forward(three.x(t), three.a(t), three.b(t),
                three.c(t), 4, null, Backend.CPU, false));
        assertTrue(e.getMessage().contains("G=3 groups, which does not divide the H=4 heads"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Ssd.forward(in.x(t), in.a(t), in.b(t), in.c(t), 0,
                null, Backend.CPU, false));
        assertTrue(e.getMessage().contains("blockLen must be > 0, got 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Ssd.forward(in.x(t), in.a(t), in.b(t), in.c(t), 4,
                Nd4j.zeros(t, 1, 4, 2, 3), Backend.CPU, false));
        assertTrue(e.getMessage().startsWith("initial_states has shape [1, 4, 2, 3], expected [B, H, P, N]"),
                e.getMessage());
    }
}
