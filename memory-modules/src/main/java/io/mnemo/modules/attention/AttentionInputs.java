package io.mnemo.modules.attention;

import io.mnemo.core.Shapes;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Inputs of causal softmax attention in flash-attention's layout.
 *
 * @param q queries {@code [B, Tq, H, Dk]}; query i sits at absolute position {@code P + i}
 * @param k keys {@code [B, Tk, H, Dk]} with {@code Tk = P + Tq}: the first P are the carried prefix (KV cache)
 * @param v values {@code [B, Tk, H, Dv]}
 */
public record AttentionInputs(INDArray q, INDArray k, INDArray v) {

    /**
     * Checks ranks, sizes and data types and returns the sizes.
     *
     * @param checkFinite also reject NaN and infinities (one pass over the inputs)
     */
    public AttentionDims validate(boolean checkFinite) {
        Shapes.requireRank("q", q, "[B, Tq, H, Dk]", 4);
        Shapes.requireFloating("q", q);
        long[] s = q.shape();
        int b = (int) s[0];
        int tq = (int) s[1];
        int h = (int) s[2];
        int dk = (int) s[3];
        Shapes.requireRank("k", k, "[B, Tk, H, Dk]", 4);
        Shapes.require("k", k, "[B, Tk, H, Dk]", b, Shapes.ANY, h, dk);
        int tk = (int) k.size(1);
        if (tk < tq) {
            throw new IllegalArgumentException("k has Tk=" + tk + " keys but q has Tq=" + tq
                    + " queries; expected Tk = P + Tq with a prefix P >= 0");
        }
        Shapes.requireRank("v", v, "[B, Tk, H, Dv]", 4);
        Shapes.require("v", v, "[B, Tk, H, Dv]", b, tk, h, Shapes.ANY);
        int dv = (int) v.size(3);
        if (b <= 0 || h <= 0 || dk <= 0 || dv <= 0) {
            throw new IllegalArgumentException("q has shape " + java.util.Arrays.toString(s) + " and v "
                    + java.util.Arrays.toString(v.shape()) + ": B, H, Dk and Dv must be > 0");
        }
        if (k.dataType() != q.dataType() || v.dataType() != q.dataType()) {
            throw new IllegalArgumentException("q, k, v must share a data type, got " + q.dataType() + ", "
                    + k.dataType() + ", " + v.dataType());
        }
        if (checkFinite) {
            Shapes.requireFinite("q", q);
            Shapes.requireFinite("k", k);
            Shapes.requireFinite("v", v);
        }
        return new AttentionDims(b, tq, tk, h, dk, dv);
    }
}
