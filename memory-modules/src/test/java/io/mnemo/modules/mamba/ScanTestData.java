package io.mnemo.modules.mamba;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.NdBuffers;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.provider.Arguments;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/** Random selective-scan inputs shaped like mamba_ssm's tests, and comparisons that name what differs. */
final class ScanTestData {
    private ScanTestData() {}

    /**
     * A variant of the op: the forms of B and C (0 = shared [D, N], 1 = [B, N, L], G ≥ 2 = [B, G, N, L])
     * and which optional inputs are present.
     */
    record Variant(String name, int bForm, int cForm, boolean withD, boolean withZ, boolean withBias,
            boolean softplus) {
        @Override
        public String toString() {
            return name;
        }
    }

    static final List<Variant> VARIANTS = List.of(
            new Variant("shared-plain", 0, 0, false, false, false, false),
            new Variant("input-dependent+D+z+bias+softplus", 1, 1, true, true, true, true),
            new Variant("grouped(2,4)+D+softplus", 2, 4, true, false, false, true),
            new Variant("B-shared/C-input+z+bias", 0, 1, false, true, true, false));

    static List<Variant> variants() {
        return VARIANTS;
    }

    /** L ∈ {1, 7, 63, 100, 1000} × chunk ∈ {16, 64} × every variant (the cpu grid). */
    static List<Arguments> parityGrid() {
        return grid(new int[] {1, 7, 63, 100, 1000});
    }

    /**
     * L ∈ {1, 7, 63, 100} × chunk ∈ {16, 64} × every variant, plus L = 1000 for one variant: the nd4j
     * grid (its chunked form costs O(c) more per token than the scan, and ND4J ops are slow on the CPU).
     */
    static List<Arguments> shortParityGrid() {
        List<Arguments> r = grid(new int[] {1, 7, 63, 100});
        r.add(Arguments.of(VARIANTS.get(1), 1000, 64));
        return r;
    }

    private static List<Arguments> grid(int[] lengths) {
        List<Arguments> r = new ArrayList<>();
        for (Variant v : VARIANTS) {
            for (int l : lengths) {
                for (int chunk : new int[] {16, 64}) {
                    r.add(Arguments.of(v, l, chunk));
                }
            }
        }
        return r;
    }

    static SelectiveScanConfig config(Variant v) {
        return SelectiveScanConfig.of().withDeltaSoftplus(v.softplus());
    }

    /**
     * Inputs: u, B, C, z ~ N(0, 1); A = −exp(N(0, 0.5²)) (decaying); delta ~ N(−1, 1) under softplus,
     * else U(0.05, 0.55) with a bias U(0, 0.1) so Δ stays positive; D ~ N(0, 1); a random initial state.
     */
    static SelectiveScanInputs random(Variant v, int b, int d, int l, int n, boolean withInit, DataType type,
            long seed) {
        Nd4j.getRandom().setSeed(seed);
        INDArray u = Nd4j.randn(DataType.DOUBLE, b, d, l);
        INDArray delta = v.softplus() ? Nd4j.randn(DataType.DOUBLE, b, d, l).subi(1)
                : Nd4j.rand(DataType.DOUBLE, b, d, l).muli(0.5).addi(0.05);
        INDArray a = Transforms.exp(Nd4j.randn(DataType.DOUBLE, d, n).muli(0.5), false).negi();
        INDArray bb = operand(v.bForm(), b, d, l, n);
        INDArray cc = operand(v.cForm(), b, d, l, n);
        INDArray dd = v.withD() ? Nd4j.randn(DataType.DOUBLE, d) : null;
        INDArray z = v.withZ() ? Nd4j.randn(DataType.DOUBLE, b, d, l) : null;
        INDArray bias = v.withBias() ? Nd4j.rand(DataType.DOUBLE, d).muli(0.1) : null;
        INDArray init = withInit ? Nd4j.randn(DataType.DOUBLE, b, d, n) : null;
        return new SelectiveScanInputs(cast(u, type), cast(delta, type), cast(a, type), cast(bb, type),
                cast(cc, type), cast(dd, type), cast(z, type), cast(bias, type), cast(init, type));
    }

    static INDArray operand(int form, int b, int d, int l, int n) {
        return switch (form) {
            case 0 -> Nd4j.randn(DataType.DOUBLE, d, n);
            case 1 -> Nd4j.randn(DataType.DOUBLE, b, n, l);
            default -> Nd4j.randn(DataType.DOUBLE, b, form, n, l);
        };
    }

    static INDArray cast(INDArray a, DataType t) {
        return a == null ? null : a.castTo(t);
    }

    static INDArray randn(DataType type, long seed, long... shape) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.randn(DataType.DOUBLE, shape).castTo(type);
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
            assertNull(actual, what + " should be null");
            return;
        }
        assertNotNull(actual, what + " is null");
        assertTrue(java.util.Arrays.equals(expected.shape(), actual.shape()), what + " shape "
                + java.util.Arrays.toString(actual.shape()) + " vs " + java.util.Arrays.toString(expected.shape()));
        double err = relErr(actual, expected);
        assertTrue(err <= tol, what + ": relative error " + err + " > " + tol);
    }

    static void assertGradsClose(String ctx, SelectiveScanGrads a, SelectiveScanGrads e, double tol) {
        assertClose(ctx + " du", a.du(), e.du(), tol);
        assertClose(ctx + " ddelta", a.ddelta(), e.ddelta(), tol);
        assertClose(ctx + " dA", a.dA(), e.dA(), tol);
        assertClose(ctx + " dB", a.dB(), e.dB(), tol);
        assertClose(ctx + " dC", a.dC(), e.dC(), tol);
        assertClose(ctx + " dD", a.dD(), e.dD(), tol);
        assertClose(ctx + " dz", a.dz(), e.dz(), tol);
        assertClose(ctx + " ddelta_bias", a.dDeltaBias(), e.dDeltaBias(), tol);
        assertClose(ctx + " dinitial_state", a.dInitialState(), e.dInitialState(), tol);
    }
}
