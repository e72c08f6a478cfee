package io.mnemo.modules.titans;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.Shapes;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Inputs of the Titans memory op, in flash-linear-attention's layout. The gates arrive already
 * squashed by the caller (e.g. θ = softplus or a scaled sigmoid, η and α = sigmoid).
 *
 * @param q queries {@code [B, T, H, D]}
 * @param k keys {@code [B, T, H, D]}
 * @param v values {@code [B, T, H, D]}
 * @param theta inner learning rates θ ≥ 0, {@code [B, T, H]}
 * @param eta momentum decays η in [0, 1], {@code [B, T, H]}; null when the op runs without momentum
 * @param alpha forgetting rates α in [0, 1], {@code [B, T, H]}
 * @param initialState the state carried from the previous call, or null for zero memory, zero momentum
 *     and an empty buffer
 */
public record TitansInputs(INDArray q, INDArray k, INDArray v, INDArray theta, INDArray eta, INDArray alpha,
        TitansState initialState) {

    /** A copy with another initial state. */
    public TitansInputs withInitialState(TitansState s) {
        return new TitansInputs(q, k, v, theta, eta, alpha, s);
    }

    /**
     * Checks every array against {@code cfg} and returns the sizes.
     *
     * @throws IllegalArgumentException naming the argument and the expected and actual shape or value
     */
    public TitansDims validate(TitansOpConfig cfg) {
        Shapes.requireRank("q", q, "[B, T, H, D]", 4);
        DataType type = Shapes.requireFloating("q", q);
        long[] s = q.shape();
        int b = (int) s[0];
        int t = (int) s[1];
        int h = (int) s[2];
        int d = (int) s[3];
        if (b <= 0 || h <= 0 || d <= 0) {
            throw new IllegalArgumentException("q has shape " + java.util.Arrays.toString(s)
                    + ", expected [B, T, H, D] with B, H, D > 0");
        }
        Shapes.require("k", k, "[B, T, H, D]", b, t, h, d);
        Shapes.require("v", v, "[B, T, H, D]", b, t, h, d);
        Shapes.require("theta", theta, "[B, T, H]", b, t, h);
        Shapes.require("alpha", alpha, "[B, T, H]", b, t, h);
        if (cfg.momentum()) {
            Shapes.require("eta", eta, "[B, T, H]", b, t, h);
        } else if (eta != null) {
            throw new IllegalArgumentException("eta was given but the op runs without momentum (momentum=false)");
        }
        for (String name : new String[] {"k", "v", "theta", "eta", "alpha"}) {
            INDArray a = switch (name) {
                case "k" -> k;
                case "v" -> v;
                case "theta" -> theta;
                case "eta" -> eta;
                default -> alpha;
            };
            if (a != null && a.dataType() != type) {
                throw new IllegalArgumentException(name + " has data type " + a.dataType() + ", expected " + type
                        + " like q");
            }
        }
        int n = initialState == null ? 0 : initialState.validate("initial_state", cfg, b, h, d, type, cfg.checkInputs());
        if (cfg.checkInputs()) {
            Shapes.requireFinite("q", q);
            Shapes.requireFinite("k", k);
            Shapes.requireFinite("v", v);
            checkGateRange("theta", theta, 0, Double.POSITIVE_INFINITY);
            checkGateRange("eta", eta, 0, 1);
            checkGateRange("alpha", alpha, 0, 1);
        }
        return new TitansDims(b, t, h, d, n);
    }

    /** Rejects NaN and values outside [lo, hi] (hi may be +∞, then +∞ itself is rejected too). */
    static void checkGateRange(String name, INDArray a, double lo, double hi) {
        if (a == null || a.length() == 0) {
            return;
        }
        double[] x = NdBuffers.toDoubles(a);
        for (int i = 0; i < x.length; i++) {
            if (!(x[i] >= lo && x[i] <= hi) || Double.isInfinite(x[i])) {
                throw new IllegalArgumentException(name + " holds " + x[i] + " at flat index " + i + ", expected a value in ["
                        + lo + ", " + (hi == Double.POSITIVE_INFINITY ? "∞)" : hi + "]") + " (shape "
                        + java.util.Arrays.toString(a.shape()) + ")");
            }
        }
    }
}
