package io.mnemo.modules.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.NdBuffers;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.Arguments;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Random attention inputs and comparisons that name what differs. */
final class AttentionTestData {
    private AttentionTestData() {}

    /** q ~ N(0, 1) {@code [B, T, H, Dk]}, k ~ N(0, 1.5²) and v ~ N(0, 1) over {@code P + T} tokens. */
    static AttentionInputs random(int b, int t, int p, int h, int dk, int dv, DataType type, long seed) {
        return new AttentionInputs(randn(type, seed, b, t, h, dk), randn(type, seed + 1, b, p + t, h, dk).muli(1.5),
                randn(type, seed + 2, b, p + t, h, dv));
    }

    static INDArray randn(DataType type, long seed, long... shape) {
        for (long s : shape) {
            if (s == 0) {
                return Nd4j.create(type, shape);
            }
        }
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.randn(DataType.DOUBLE, shape).castTo(type);
    }

    /** max|actual − expected| / max(max|expected|, 1e-6); NaN anywhere gives +∞. */
    static double relErr(INDArray actual, INDArray expected) {
        return relErr(actual, expected, 1e-6);
    }

    /** max|actual − expected| / max(max|expected|, floor); NaN anywhere gives +∞. */
    static double relErr(INDArray actual, INDArray expected, double floor) {
        double[] a = NdBuffers.toDoubles(actual);
        double[] e = NdBuffers.toDoubles(expected);
        assertEquals(e.length, a.length, "element count");
        double maxDiff = 0;
        double maxRef = floor;
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
        assertClose(what, actual, expected, tol, 1e-6);
    }

    static void assertClose(String what, INDArray actual, INDArray expected, double tol, double floor) {
        assertNotNull(actual, what + " is missing");
        assertTrue(Arrays.equals(actual.shape(), expected.shape()), what + " shape " + Arrays.toString(actual.shape())
                + " vs " + Arrays.toString(expected.shape()));
        double err = relErr(actual, expected, floor);
        assertTrue(err <= tol, what + ": relative error " + err + " > " + tol);
    }

    /**
     * Gradients, each relative to {@code max(max|expected|, max over dq, dk, dv of |expected|)}: where a query
     * sees a single key, {@code dq} is 0 exactly (w = 1: the whole tensor) and float kernels return rounding noise
     * of the size of the other gradients times 1e-7, so the scale is that of the whole gradient.
     */
    static void assertGradsClose(String ctx, AttentionGrads a, AttentionGrads e, double tol) {
        double scale = Math.max(maxAbs(e.dq()), Math.max(maxAbs(e.dk()), maxAbs(e.dv())));
        assertClose(ctx + " dq", a.dq(), e.dq(), tol, scale);
        assertClose(ctx + " dk", a.dk(), e.dk(), tol, scale);
        assertClose(ctx + " dv", a.dv(), e.dv(), tol, scale);
    }

    static double maxAbs(INDArray a) {
        return a.length() == 0 ? 0 : a.amaxNumber().doubleValue();
    }

    /**
     * The parity grid of the backend tests: T ∈ {1, 7, 63, 100}, window ∈ {0, 1, 16, 50}, prefix P ∈ {0, 5},
     * H ∈ {1, 3}; global keys G = 2 on the windowed cases with a prefix.
     */
    static Stream<Arguments> parityGrid() {
        List<Arguments> out = new ArrayList<>();
        for (int t : new int[] {1, 7, 63, 100}) {
            for (int w : new int[] {0, 1, 16, 50}) {
                for (int p : new int[] {0, 5}) {
                    for (int h : new int[] {1, 3}) {
                        out.add(Arguments.of(t, w, p, h, w > 0 && p > 0 ? 2 : 0));
                    }
                }
            }
        }
        return out.stream();
    }
}
