package io.mnemo.modules.attention;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.Shapes;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Rotary position embedding (RoFormer, Su et al. 2021) in the GPT-NeoX "half-split" layout, the layout of
 * GPT-NeoX, LLaMA in Hugging Face transformers ({@code rotate_half}) and flash-attention's
 * {@code apply_rotary_emb(interleaved=False)}: dimension {@code c < D/2} is paired with {@code c + D/2},
 * <pre>
 *   θ_c(p) = p · base^(−2c/D)
 *   y[c]       = x[c] cos θ_c − x[c+D/2] sin θ_c
 *   y[c+D/2]   = x[c+D/2] cos θ_c + x[c] sin θ_c
 * </pre>
 * for the token at absolute position {@code p = offset + t}. The rotation is orthogonal, so the backward is the
 * rotation by −θ. Angles are computed in double precision (Hugging Face computes the inverse frequencies in
 * float; the two differ by float rounding at large positions).
 */
public final class Rope {
    /** The usual base, 10000. */
    public static final double DEFAULT_BASE = 10000.0;

    private Rope() {}

    /**
     * Rotates every head vector by its position.
     *
     * @param x {@code [B, T, H, D]}, D even
     * @param offset absolute position of token 0 (the KV cache's length)
     * @param base the frequency base (> 1)
     * @return a new array {@code [B, T, H, D]} of x's data type
     */
    public static INDArray apply(INDArray x, long offset, double base) {
        return rotate(x, offset, base, 1);
    }

    /**
     * Gradient of {@link #apply}: {@code dx = R(−θ) dy}.
     *
     * @param dy {@code [B, T, H, D]}
     */
    public static INDArray backward(INDArray dy, long offset, double base) {
        return rotate(dy, offset, base, -1);
    }

    private static INDArray rotate(INDArray x, long offset, double base, int sign) {
        Shapes.requireRank("x", x, "[B, T, H, D]", 4);
        Shapes.requireFloating("x", x);
        if (offset < 0) {
            throw new IllegalArgumentException("offset must be >= 0, got " + offset);
        }
        if (!(base > 1) || !Double.isFinite(base)) {
            throw new IllegalArgumentException("rope base must be finite and > 1, got " + base);
        }
        long[] s = x.shape();
        int bt = (int) (s[0] * s[1]);
        int t = (int) s[1];
        int h = (int) s[2];
        int d = (int) s[3];
        if (d % 2 != 0) {
            throw new IllegalArgumentException("x has head dimension D=" + d + "; rotary embedding needs an even D");
        }
        int half = d / 2;
        double[] invFreq = new double[half];
        for (int c = 0; c < half; c++) {
            invFreq[c] = Math.pow(base, -2.0 * c / d);
        }
        double[] a = NdBuffers.toDoubles(x);
        double[] cos = new double[half];
        double[] sin = new double[half];
        for (int r = 0; r < bt; r++) {
            long p = offset + r % t;
            for (int c = 0; c < half; c++) {
                double th = p * invFreq[c];
                cos[c] = Math.cos(th);
                sin[c] = sign * Math.sin(th);
            }
            for (int hh = 0; hh < h; hh++) {
                int o = (r * h + hh) * d;
                for (int c = 0; c < half; c++) {
                    double x1 = a[o + c];
                    double x2 = a[o + c + half];
                    a[o + c] = x1 * cos[c] - x2 * sin[c];
                    a[o + c + half] = x2 * cos[c] + x1 * sin[c];
                }
            }
        }
        return NdBuffers.of(x.dataType(), a, s);
    }
}
