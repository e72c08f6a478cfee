package io.mnemo.modules.attention;

import static io.mnemo.modules.attention.AttentionTestData.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.GradientCheck;
import io.mnemo.core.NdBuffers;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** Rotary embedding: properties that hold for any correct rotation, an independent complex form, gradients. */
class RopeTest {
    private static final double BASE = 10000;

    /** One head vector rotated to position p. */
    private static double[] rot(double[] x, long p) {
        return NdBuffers.toDoubles(Rope.apply(NdBuffers.ofDoubles(x, 1, 1, 1, x.length), p, BASE));
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    @Test
    void normsArePreserved() {
        INDArray x = AttentionTestData.randn(DataType.DOUBLE, 1, 2, 9, 3, 8);
        INDArray y = Rope.apply(x, 17, BASE);
        INDArray nx = x.norm2(3);
        INDArray ny = y.norm2(3);
        assertClose("head norms", ny, nx, 1e-14);
        assertTrue(y.sub(x).amaxNumber().doubleValue() > 0.1, "the rotation moved nothing");
    }

    @Test
    void scoresDependOnlyOnThePositionDifference() {
        double[] q = NdBuffers.toDoubles(AttentionTestData.randn(DataType.DOUBLE, 3, 8));
        double[] k = NdBuffers.toDoubles(AttentionTestData.randn(DataType.DOUBLE, 4, 8));
        for (int m : new int[] {0, 3, 11}) {
            for (int n : new int[] {0, 5, 11}) {
                double ref = dot(rot(q, m), rot(k, n));
                for (int shift : new int[] {1, 7, 1000}) {
                    assertEquals(ref, dot(rot(q, m + shift), rot(k, n + shift)), 1e-9,
                            "q at " + m + ", k at " + n + ", both shifted by " + shift);
                }
            }
        }
        // and the score does change with the difference
        assertTrue(Math.abs(dot(rot(q, 5), rot(k, 0)) - dot(rot(q, 0), rot(k, 0))) > 1e-3, "no position dependence");
    }

    @Test
    void matchesTheComplexFormOfNeoXHalfSplit() {
        // pair (x_c, x_{c+D/2}) as z = x_c + i x_{c+D/2}, multiplied by e^{i p θ_c}, θ_c = base^(−2c/D)
        int d = 6;
        double[] x = {0.3, -1.2, 0.7, 2.0, 0.1, -0.4};
        long p = 37;
        double[] y = rot(x, p);
        for (int c = 0; c < d / 2; c++) {
            double th = p / Math.pow(BASE, 2.0 * c / d);
            double re = x[c] * Math.cos(th) - x[c + d / 2] * Math.sin(th);
            double im = x[c] * Math.sin(th) + x[c + d / 2] * Math.cos(th);
            assertEquals(re, y[c], 1e-12, "real part of pair " + c);
            assertEquals(im, y[c + d / 2], 1e-12, "imaginary part of pair " + c);
        }
        // position 0 is the identity
        double[] y0 = rot(x, 0);
        for (int c = 0; c < d; c++) {
            assertEquals(x[c], y0[c], 0.0, "position 0");
        }
    }

    @Test
    void offsetIsTheAbsolutePositionOfTokenZero() {
        INDArray x = AttentionTestData.randn(DataType.DOUBLE, 5, 2, 6, 2, 4);
        INDArray y = Rope.apply(x, 9, BASE);
        for (int t = 0; t < 6; t++) {
            INDArray xt = x.get(NDArrayIndex.all(), NDArrayIndex.interval(t, t + 1), NDArrayIndex.all(),
                    NDArrayIndex.all()).dup();
            INDArray yt = y.get(NDArrayIndex.all(), NDArrayIndex.interval(t, t + 1), NDArrayIndex.all(),
                    NDArrayIndex.all());
            assertClose("token " + t, Rope.apply(xt, 9 + t, BASE), yt, 1e-15);
        }
        assertEquals(DataType.FLOAT, Rope.apply(x.castTo(DataType.FLOAT), 9, BASE).dataType());
    }

    @Test
    void backwardMatchesFiniteDifferences() {
        long[] shape = {2, 5, 3, 6};
        INDArray x = AttentionTestData.randn(DataType.DOUBLE, 6, shape);
        INDArray r = AttentionTestData.randn(DataType.DOUBLE, 7, shape);
        double[] rv = NdBuffers.toDoubles(r);
        INDArray dx = Rope.backward(r, 4, 500);
        GradientCheck.Result res = GradientCheck.check(xs -> dot(NdBuffers.toDoubles(
                Rope.apply(NdBuffers.ofDoubles(xs, shape), 4, 500)), rv), NdBuffers.toDoubles(x),
                NdBuffers.toDoubles(dx), 1e-6, 1000, 1);
        assertTrue(res.passed(1e-8), res.toString());
    }
}
