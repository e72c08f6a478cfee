package io.mnemo.modules.mamba;

import io.mnemo.core.Shapes;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Inputs of the selective scan in mamba_ssm's layout ({@code selective_scan_ref}'s arguments), plus an
 * initial state.
 *
 * @param u inputs {@code [B, D, L]}
 * @param delta step sizes before bias and softplus {@code [B, D, L]}
 * @param a the (real) state matrix {@code A [D, N]} (negative for a decaying state)
 * @param b input matrix: shared {@code [D, N]}, input-dependent {@code [B, N, L]} or grouped
 *     {@code [B, G, N, L]} (channel d uses group {@code d / (D / G)})
 * @param c output matrix, in one of the same three forms (independently of b)
 * @param d skip weights {@code [D]}, or null
 * @param z gate {@code [B, D, L]} ({@code out · silu(z)}), or null
 * @param deltaBias {@code [D]} added to delta before the softplus, or null
 * @param initialState {@code [B, D, N]}, or null for zeros
 */
public record SelectiveScanInputs(INDArray u, INDArray delta, INDArray a, INDArray b, INDArray c, INDArray d,
        INDArray z, INDArray deltaBias, INDArray initialState) {

    /** The required inputs only. */
    public static SelectiveScanInputs of(INDArray u, INDArray delta, INDArray a, INDArray b, INDArray c) {
        return new SelectiveScanInputs(u, delta, a, b, c, null, null, null, null);
    }

    /** A copy with another initial state. */
    public SelectiveScanInputs withInitialState(INDArray s) {
        return new SelectiveScanInputs(u, delta, a, b, c, d, z, deltaBias, s);
    }

    /** A copy with other optional inputs. */
    public SelectiveScanInputs withOptional(INDArray dSkip, INDArray gate, INDArray bias) {
        return new SelectiveScanInputs(u, delta, a, b, c, dSkip, gate, bias, initialState);
    }

    /**
     * Checks every array and returns the sizes.
     *
     * @param checkFinite also reject NaN and infinities (costs one pass over the inputs)
     */
    public ScanDims validate(boolean checkFinite) {
        Shapes.requireRank("u", u, "[B, D, L]", 3);
        Shapes.requireFloating("u", u);
        int bs = (int) u.size(0);
        int dim = (int) u.size(1);
        int len = (int) u.size(2);
        Shapes.require("delta", delta, "[B, D, L]", bs, dim, len);
        Shapes.requireRank("A", a, "[D, N]", 2);
        Shapes.require("A", a, "[D, N]", dim, Shapes.ANY);
        int n = (int) a.size(1);
        if (n == 0 || dim == 0 || bs == 0) {
            throw new IllegalArgumentException("B, D and N must be > 0, got u " + java.util.Arrays.toString(u.shape())
                    + " and A " + java.util.Arrays.toString(a.shape()));
        }
        ScanDims.Operand bm = operand("B", b, bs, dim, n, len);
        ScanDims.Operand cm = operand("C", c, bs, dim, n, len);
        if (d != null) {
            Shapes.require("D", d, "[D]", dim);
        }
        if (z != null) {
            Shapes.require("z", z, "[B, D, L]", bs, dim, len);
        }
        if (deltaBias != null) {
            Shapes.require("delta_bias", deltaBias, "[D]", dim);
        }
        if (initialState != null) {
            Shapes.require("initial_state", initialState, "[B, D, N]", bs, dim, n);
        }
        String[] names = {"delta", "A", "B", "C", "D", "z", "delta_bias", "initial_state"};
        INDArray[] arrays = {delta, a, b, c, d, z, deltaBias, initialState};
        for (int i = 0; i < names.length; i++) {
            if (arrays[i] != null && arrays[i].dataType() != u.dataType()) {
                throw new IllegalArgumentException(names[i] + " has data type " + arrays[i].dataType() + ", expected "
                        + u.dataType() + " like u");
            }
        }
        if (checkFinite) {
            Shapes.requireFinite("u", u);
            for (int i = 0; i < names.length; i++) {
                Shapes.requireFinite(names[i], arrays[i]);
            }
        }
        return new ScanDims(bs, dim, len, n, bm, cm);
    }

    private static ScanDims.Operand operand(String name, INDArray x, int bs, int dim, int n, int len) {
        String forms = "[D, N] = [" + dim + ", " + n + "], [B, N, L] = [" + bs + ", " + n + ", " + len
                + "] or [B, G, N, L] = [" + bs + ", G, " + n + ", " + len + "] with G dividing D=" + dim;
        if (x == null) {
            throw new IllegalArgumentException(name + " is missing, expected " + forms);
        }
        long[] s = x.shape();
        String got = name + " has shape " + java.util.Arrays.toString(s) + ", expected " + forms;
        switch (s.length) {
            case 2:
                if (s[0] != dim || s[1] != n) {
                    throw new IllegalArgumentException(got);
                }
                return new ScanDims.Operand(2, 0);
            case 3:
                if (s[0] != bs || s[1] != n || s[2] != len) {
                    throw new IllegalArgumentException(got);
                }
                return new ScanDims.Operand(3, 1);
            case 4:
                if (s[0] != bs || s[2] != n || s[3] != len || s[1] <= 0 || dim % s[1] != 0) {
                    throw new IllegalArgumentException(got);
                }
                return new ScanDims.Operand(4, (int) s[1]);
            default:
                throw new IllegalArgumentException(got);
        }
    }
}
