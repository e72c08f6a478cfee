package io.mnemo.modules.linear;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.NdBuffers;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/** Random inputs shaped like flash-linear-attention's tests, and comparisons that name what differs. */
final class LinearTestData {
    private LinearTestData() {}

    /**
     * Inputs for {@code op}: q, k, v ~ N(0, 1); k L2-normalised for the delta rules (as their callers do);
     * log decays {@code logsigmoid(N(0,1) + 2)} (mostly mild forgetting); β = sigmoid(N(0,1)); a random
     * initial state when {@code withInit}.
     */
    static LinearInputs random(LinearOp op, int b, int t, int h, int dk, int dv, boolean withInit, DataType type,
            long seed) {
        Nd4j.getRandom().setSeed(seed);
        if (t == 0) {
            // ND4J refuses arithmetic on empty arrays; build them directly.
            return new LinearInputs(Nd4j.create(type, b, 0, h, dk), Nd4j.create(type, b, 0, h, dk),
                    Nd4j.create(type, b, 0, h, dv), op.scalarGate() ? Nd4j.create(type, b, 0, h) : null,
                    op.vectorGate() ? Nd4j.create(type, b, 0, h, dk) : null, op.delta() ? Nd4j.create(type, b, 0, h) : null,
                    withInit ? Nd4j.randn(DataType.DOUBLE, b, h, dk, dv).castTo(type) : null);
        }
        INDArray q = Nd4j.randn(DataType.DOUBLE, b, t, h, dk);
        INDArray k = Nd4j.randn(DataType.DOUBLE, b, t, h, dk);
        INDArray v = Nd4j.randn(DataType.DOUBLE, b, t, h, dv);
        if (op.delta()) {
            INDArray norm = Transforms.sqrt(k.mul(k).sum(true, 3).addi(1e-6), false);
            k = k.div(norm);
        }
        INDArray g = op.scalarGate() ? logSigmoid(Nd4j.randn(DataType.DOUBLE, b, t, h).addi(2)) : null;
        INDArray gk = op.vectorGate() ? logSigmoid(Nd4j.randn(DataType.DOUBLE, b, t, h, dk).addi(2)) : null;
        INDArray beta = op.delta() ? Transforms.sigmoid(Nd4j.randn(DataType.DOUBLE, b, t, h), false) : null;
        INDArray init = withInit ? Nd4j.randn(DataType.DOUBLE, b, h, dk, dv) : null;
        return new LinearInputs(cast(q, type), cast(k, type), cast(v, type), cast(g, type), cast(gk, type),
                cast(beta, type), cast(init, type));
    }

    static INDArray logSigmoid(INDArray x) {
        // log σ(x) = −softplus(−x)
        return Transforms.softPlus(x.neg(), false).negi();
    }

    static INDArray cast(INDArray a, DataType t) {
        return a == null ? null : a.castTo(t);
    }

    /** Random upstream gradient of the given shape. */
    static INDArray randn(DataType type, long seed, long... shape) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.randn(DataType.DOUBLE, shape).castTo(type);
    }

    /**
     * max|actual − expected| / max(max|expected|, 1e-6); NaN anywhere gives +∞.
     */
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

    static void assertGradsClose(String ctx, LinearGrads a, LinearGrads e, double tol) {
        assertClose(ctx + " dq", a.dq(), e.dq(), tol);
        assertClose(ctx + " dk", a.dk(), e.dk(), tol);
        assertClose(ctx + " dv", a.dv(), e.dv(), tol);
        assertClose(ctx + " dg", a.dg(), e.dg(), tol);
        assertClose(ctx + " dgk", a.dgk(), e.dgk(), tol);
        assertClose(ctx + " dbeta", a.dbeta(), e.dbeta(), tol);
        assertClose(ctx + " dInitialState", a.dInitialState(), e.dInitialState(), tol);
    }

    /**
     * The parity grid of every backend test: each op, T ∈ {1, 7, 63, 100, 1000}, chunk 16 and 64,
     * H ∈ {1, 3} (H = 3 skipped at T = 1000 to keep the double reference quick).
     */
    static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> parityGrid() {
        java.util.List<org.junit.jupiter.params.provider.Arguments> out = new java.util.ArrayList<>();
        for (LinearOp op : LinearOp.values()) {
            for (int t : new int[] {1, 7, 63, 100, 1000}) {
                for (int chunk : new int[] {16, 64}) {
                    for (int h : new int[] {1, 3}) {
                        if (t == 1000 && h == 3) {
                            continue;
                        }
                        out.add(org.junit.jupiter.params.provider.Arguments.of(op, t, chunk, h));
                    }
                }
            }
        }
        return out.stream();
    }

    /** Tokens [from, to) of every sequence input, with {@code state} as the initial state. */
    static LinearInputs piece(LinearInputs in, int from, int to, INDArray state) {
        return new LinearInputs(slice(in.q(), from, to), slice(in.k(), from, to), slice(in.v(), from, to),
                slice(in.g(), from, to), slice(in.gk(), from, to), slice(in.beta(), from, to), state);
    }

    private static INDArray slice(INDArray a, int from, int to) {
        if (a == null) {
            return null;
        }
        return a.get(org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.interval(from, to))
                .dup('c');
    }
}
