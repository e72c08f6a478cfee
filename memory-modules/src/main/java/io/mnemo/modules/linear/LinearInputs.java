package io.mnemo.modules.linear;

import io.mnemo.core.Shapes;
import io.mnemo.core.memory.SeqDims;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Inputs of a linear-family op in flash-linear-attention's layout. Arrays an op does not use must be
 * null (passing {@code beta} to {@code linear_attn} is an error, not silently ignored).
 *
 * @param q queries {@code [B, T, H, Dk]}
 * @param k keys {@code [B, T, H, Dk]}
 * @param v values {@code [B, T, H, Dv]}
 * @param g scalar log decays {@code [B, T, H]} (simple_gla, gated_delta_rule), else null
 * @param gk per-key log decays {@code [B, T, H, Dk]} (gla), else null
 * @param beta step sizes {@code [B, T, H]} (delta rules), else null
 * @param initialState {@code [B, H, Dk, Dv]}, or null for zeros
 */
public record LinearInputs(INDArray q, INDArray k, INDArray v, INDArray g, INDArray gk, INDArray beta,
        INDArray initialState) {

    /** Inputs without gates, step sizes or initial state. */
    public static LinearInputs of(INDArray q, INDArray k, INDArray v) {
        return new LinearInputs(q, k, v, null, null, null, null);
    }

    /** A copy with another initial state. */
    public LinearInputs withInitialState(INDArray s) {
        return new LinearInputs(q, k, v, g, gk, beta, s);
    }

    /**
     * Checks every array against {@code op} and returns the sizes.
     *
     * @param checkFinite also reject NaN and infinities (costs one pass over the inputs)
     */
    public SeqDims validate(LinearOp op, boolean checkFinite) {
        Shapes.requireRank("q", q, "[B, T, H, Dk]", 4);
        long[] s = q.shape();
        Shapes.requireFloating("q", q);
        int b = (int) s[0];
        int t = (int) s[1];
        int h = (int) s[2];
        int dk = (int) s[3];
        Shapes.require("k", k, "[B, T, H, Dk]", b, t, h, dk);
        Shapes.requireRank("v", v, "[B, T, H, Dv]", 4);
        int dv = (int) v.size(3);
        Shapes.require("v", v, "[B, T, H, Dv]", b, t, h, Shapes.ANY);
        if (k.dataType() != q.dataType() || v.dataType() != q.dataType()) {
            throw new IllegalArgumentException("q, k, v must share a data type, got " + q.dataType() + ", "
                    + k.dataType() + ", " + v.dataType());
        }
        for (String name : new String[] {"g", "gk", "beta", "initial_state"}) {
            INDArray a = switch (name) {
                case "g" -> g;
                case "gk" -> gk;
                case "beta" -> beta;
                default -> initialState;
            };
            if (a != null && a.dataType() != q.dataType()) {
                throw new IllegalArgumentException(name + " has data type " + a.dataType() + ", expected "
                        + q.dataType() + " like q");
            }
        }
        requireUse(op, "g", g, op.scalarGate());
        requireUse(op, "gk", gk, op.vectorGate());
        requireUse(op, "beta", beta, op.delta());
        if (g != null) {
            Shapes.require("g", g, "[B, T, H]", b, t, h);
        }
        if (gk != null) {
            Shapes.require("gk", gk, "[B, T, H, Dk]", b, t, h, dk);
        }
        if (beta != null) {
            Shapes.require("beta", beta, "[B, T, H]", b, t, h);
        }
        if (initialState != null) {
            Shapes.require("initial_state", initialState, "[B, H, Dk, Dv]", b, h, dk, dv);
        }
        if (checkFinite) {
            Shapes.requireFinite("q", q);
            Shapes.requireFinite("k", k);
            Shapes.requireFinite("v", v);
            Shapes.requireFinite("g", g);
            Shapes.requireFinite("gk", gk);
            Shapes.requireFinite("beta", beta);
            Shapes.requireFinite("initial_state", initialState);
        }
        return new SeqDims(b, t, h, dk, dv);
    }

    private static void requireUse(LinearOp op, String name, INDArray a, boolean used) {
        if (used && a == null) {
            throw new IllegalArgumentException(op.opName() + " needs " + name + " but it is missing");
        }
        if (!used && a != null) {
            throw new IllegalArgumentException(op.opName() + " takes no " + name + ", but one was given");
        }
    }
}
