package io.mnemo.modules.titans;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.NdBuffers;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** Random Titans inputs and states, the test loss, and comparisons that name what differs. */
final class TitansTestData {
    private TitansTestData() {}

    /**
     * Inputs: q and k L2-normalised (as Titans' block does), v ~ N(0, 0.5²), θ = 0.5·sigmoid(N − 1), η =
     * sigmoid(N + 1), α = 0.2·sigmoid(N − 1); a random memory (N(0, 1/cols)), momentum (N(0, 0.1²)) and
     * {@code buffered} tokens of an open chunk when {@code randomState}, else a null initial state.
     */
    static TitansInputs random(TitansOpConfig cfg, int b, int t, int h, int d, boolean randomState, int buffered,
            DataType type, long seed) {
        Random r = new Random(seed);
        INDArray q = arr(type, unitRows(r, b * t * h, d), b, t, h, d);
        INDArray k = arr(type, unitRows(r, b * t * h, d), b, t, h, d);
        INDArray v = arr(type, gauss(r, b * t * h * d, 0.5), b, t, h, d);
        INDArray theta = arr(type, gates(r, b * t * h, 0.5, -1), b, t, h);
        INDArray eta = cfg.momentum() ? arr(type, gates(r, b * t * h, 1, 1), b, t, h) : null;
        INDArray alpha = arr(type, gates(r, b * t * h, 0.2, -1), b, t, h);
        TitansState s = randomState ? randomState(cfg, r, b, h, d, buffered, type) : null;
        return new TitansInputs(q, k, v, theta, eta, alpha, s);
    }

    static TitansState randomState(TitansOpConfig cfg, Random r, int b, int h, int d, int n, DataType type) {
        MemoryLayout m = cfg.layout(d);
        List<INDArray> mem = new ArrayList<>();
        List<INDArray> mom = cfg.momentum() ? new ArrayList<>() : null;
        for (int l = 0; l < m.depth(); l++) {
            int sz = b * h * m.rows(l) * m.cols(l);
            mem.add(arr(type, gauss(r, sz, 1.0 / Math.sqrt(m.cols(l))), b, h, m.rows(l), m.cols(l)));
            if (mom != null) {
                mom.add(arr(type, gauss(r, sz, 0.1), b, h, m.rows(l), m.cols(l)));
            }
        }
        if (n == 0) {
            return new TitansState(mem, mom, null, null, null, null, null);
        }
        return new TitansState(mem, mom, arr(type, unitRows(r, b * n * h, d), b, n, h, d),
                arr(type, gauss(r, b * n * h * d, 0.5), b, n, h, d), arr(type, gates(r, b * n * h, 0.5, -1), b, n, h),
                cfg.momentum() ? arr(type, gates(r, b * n * h, 1, 1), b, n, h) : null,
                arr(type, gates(r, b * n * h, 0.2, -1), b, n, h));
    }

    /** A random gradient shaped like {@code s} (every array present). */
    static TitansState randomLike(TitansState s, long seed) {
        Random r = new Random(seed);
        return new TitansState(s.memory().stream().map(a -> randLike(r, a)).toList(),
                s.momentum() == null ? null : s.momentum().stream().map(a -> randLike(r, a)).toList(),
                randLike(r, s.bufK()), randLike(r, s.bufV()), randLike(r, s.bufTheta()), randLike(r, s.bufEta()),
                randLike(r, s.bufAlpha()));
    }

    static INDArray randLike(Random r, INDArray a) {
        if (a == null) {
            return null;
        }
        return arr(a.dataType(), gauss(r, (int) a.length(), 1), a.shape());
    }

    static INDArray randn(DataType type, long seed, long... shape) {
        Random r = new Random(seed);
        int n = 1;
        for (long s : shape) {
            n *= (int) s;
        }
        return arr(type, gauss(r, n, 1), shape);
    }

    private static INDArray arr(DataType type, double[] x, long... shape) {
        return NdBuffers.of(type, x, shape);
    }

    private static double[] gauss(Random r, int n, double sd) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = sd * r.nextGaussian();
        }
        return x;
    }

    private static double[] unitRows(Random r, int rows, int d) {
        double[] x = gauss(r, rows * d, 1);
        for (int i = 0; i < rows; i++) {
            double s = 1e-6;
            for (int j = 0; j < d; j++) {
                s += x[i * d + j] * x[i * d + j];
            }
            s = Math.sqrt(s);
            for (int j = 0; j < d; j++) {
                x[i * d + j] /= s;
            }
        }
        return x;
    }

    private static double[] gates(Random r, int n, double scale, double shift) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = scale / (1 + Math.exp(-(r.nextGaussian() + shift)));
        }
        return x;
    }

    /** {@code Σ y·dY + ⟨finalState, dFinal⟩} in double. */
    static double loss(TitansForward f, INDArray dY, TitansState dFinal) {
        double l = dot(f.y(), dY);
        if (dFinal != null) {
            TitansState s = f.finalState();
            for (int i = 0; i < s.memory().size(); i++) {
                l += dot(s.memory().get(i), dFinal.memory().get(i));
                if (s.momentum() != null) {
                    l += dot(s.momentum().get(i), dFinal.momentum().get(i));
                }
            }
            l += dot(s.bufK(), dFinal.bufK()) + dot(s.bufV(), dFinal.bufV()) + dot(s.bufTheta(), dFinal.bufTheta())
                    + dot(s.bufEta(), dFinal.bufEta()) + dot(s.bufAlpha(), dFinal.bufAlpha());
        }
        return l;
    }

    private static double dot(INDArray a, INDArray b) {
        if (a == null || b == null || a.length() == 0) {
            return 0;
        }
        double[] x = NdBuffers.toDoubles(a);
        double[] y = NdBuffers.toDoubles(b);
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += x[i] * y[i];
        }
        return s;
    }

    /** max|actual − expected| / max(max|expected|, 1e-6); NaN anywhere gives +∞. */
    static double relErr(INDArray actual, INDArray expected) {
        double[] a = NdBuffers.toDoubles(actual);
        double[] e = NdBuffers.toDoubles(expected);
        assertEquals(e.length, a.length, "element count");
        double maxDiff = 0;
        double maxRef = 1e-6;
        for (int i = 0; i < a.length; i++) {
            if (Double.isNaN(a[i]) || Double.isNaN(e[i])) {
                return Double.POSITIVE_INFINITY;
            }
            maxDiff = Math.max(maxDiff, Math.abs(a[i] - e[i]));
            maxRef = Math.max(maxRef, Math.abs(e[i]));
        }
        return maxDiff / maxRef;
    }

    static void assertClose(String what, INDArray actual, INDArray expected, double tol) {
        if (expected == null) {
            assertNull(actual, what + " should be absent");
            return;
        }
        assertNotNull(actual, what + " is missing");
        assertTrue(Arrays.equals(actual.shape(), expected.shape()), what + " shape " + Arrays.toString(actual.shape())
                + " vs " + Arrays.toString(expected.shape()));
        double err = relErr(actual, expected);
        assertTrue(err <= tol, what + ": relative error " + err + " > " + tol);
    }

    static void assertStateClose(String what, TitansState a, TitansState e, double tol) {
        assertEquals(e.memory().size(), a.memory().size(), what + " layers");
        for (int l = 0; l < e.memory().size(); l++) {
            assertClose(what + " memory[" + l + "]", a.memory().get(l), e.memory().get(l), tol);
            if (e.momentum() == null) {
                assertNull(a.momentum(), what + " momentum should be absent");
            } else {
                assertClose(what + " momentum[" + l + "]", a.momentum().get(l), e.momentum().get(l), tol);
            }
        }
        assertClose(what + " bufK", a.bufK(), e.bufK(), tol);
        assertClose(what + " bufV", a.bufV(), e.bufV(), tol);
        assertClose(what + " bufTheta", a.bufTheta(), e.bufTheta(), tol);
        assertClose(what + " bufEta", a.bufEta(), e.bufEta(), tol);
        assertClose(what + " bufAlpha", a.bufAlpha(), e.bufAlpha(), tol);
    }

    static void assertGradsClose(String ctx, TitansGrads a, TitansGrads e, double tol) {
        assertClose(ctx + " dq", a.dq(), e.dq(), tol);
        assertClose(ctx + " dk", a.dk(), e.dk(), tol);
        assertClose(ctx + " dv", a.dv(), e.dv(), tol);
        assertClose(ctx + " dTheta", a.dTheta(), e.dTheta(), tol);
        assertClose(ctx + " dEta", a.dEta(), e.dEta(), tol);
        assertClose(ctx + " dAlpha", a.dAlpha(), e.dAlpha(), tol);
        assertStateClose(ctx + " dInitialState", a.dInitialState(), e.dInitialState(), tol);
    }

    /** Tokens [from, to) of every sequence input, with {@code state} as the initial state. */
    static TitansInputs piece(TitansInputs in, int from, int to, TitansState state) {
        return new TitansInputs(slice(in.q(), from, to), slice(in.k(), from, to), slice(in.v(), from, to),
                slice(in.theta(), from, to), slice(in.eta(), from, to), slice(in.alpha(), from, to), state);
    }

    static INDArray slice(INDArray a, int from, int to) {
        if (a == null) {
            return null;
        }
        if (from == to) {
            long[] s = a.shape().clone();
            s[1] = 0;
            return org.nd4j.linalg.factory.Nd4j.create(a.dataType(), s);
        }
        return a.get(NDArrayIndex.all(), NDArrayIndex.interval(from, to)).dup('c');
    }
}
