package io.mnemo.modules.miras;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.Shapes;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Inputs of the Miras op in flash-linear-attention's layout; gates arrive already squashed by the
 * caller (the block).
 *
 * @param q queries {@code [B, T, H, Dk]} (any scale is the caller's)
 * @param k keys {@code [B, T, H, Dk]}
 * @param v values {@code [B, T, H, Dv]}
 * @param theta inner step sizes θ ≥ 0 {@code [B, T, H]}
 * @param eta momentum decays η in [0, 1] {@code [B, T, H]}; only (and required) when the rule has momentum
 * @param decay retention factors in [0, 1]: {@code [B, T, H]} for a scalar gate, {@code [B, T, H, Dk]} for a
 *     per-key gate, null for a retention without gate input
 * @param param the bias's token parameter {@code [B, T, H]} (e.g. Huber's δ_t > 0); only when it reads one
 * @param initialState the carried state, or null for zero memory and momentum and an empty buffer
 */
public record MirasInputs(INDArray q, INDArray k, INDArray v, INDArray theta, INDArray eta, INDArray decay,
        INDArray param, MirasState initialState) {

    /** A copy with another initial state. */
    public MirasInputs withInitialState(MirasState s) {
        return new MirasInputs(q, k, v, theta, eta, decay, param, s);
    }

    /**
     * Checks every array against the config and returns the sizes.
     *
     * @throws IllegalArgumentException naming the argument and the expected and actual shape or value
     */
    public MirasDims validate(MirasConfig cfg) {
        Shapes.requireRank("q", q, "[B, T, H, Dk]", 4);
        DataType type = Shapes.requireFloating("q", q);
        long[] s = q.shape();
        int b = (int) s[0];
        int t = (int) s[1];
        int h = (int) s[2];
        int dk = (int) s[3];
        if (b <= 0 || h <= 0 || dk <= 0) {
            throw new IllegalArgumentException("q has shape " + Arrays.toString(s)
                    + ", expected [B, T, H, Dk] with B, H, Dk > 0");
        }
        Shapes.requireRank("v", v, "[B, T, H, Dv]", 4);
        int dv = (int) v.size(3);
        checkTokens("", cfg, k, v, theta, eta, decay, param, b, t, h, dk, dv, type);
        MemoryShape shape = cfg.shape(dk, dv);
        int n = initialState == null ? 0 : initialState.validate("initial_state", cfg, shape, b, h, dk, dv, type);
        if (cfg.checkInputs()) {
            Shapes.requireFinite("q", q);
        }
        return new MirasDims(b, t, h, dk, dv, n);
    }

    /** Shapes, types and (with checkInputs) ranges of the per-token arrays of n tokens. */
    static void checkTokens(String prefix, MirasConfig cfg, INDArray k, INDArray v, INDArray theta, INDArray eta,
            INDArray decay, INDArray param, int b, int n, int h, int dk, int dv, DataType type) {
        Shapes.require(prefix + "k", k, "[B, T, H, Dk]", b, n, h, dk);
        Shapes.require(prefix + "v", v, "[B, T, H, Dv]", b, n, h, dv);
        Shapes.require(prefix + "theta", theta, "[B, T, H]", b, n, h);
        if (cfg.rule().momentum()) {
            Shapes.require(prefix + "eta", eta, "[B, T, H]", b, n, h);
        } else if (eta != null) {
            throw new IllegalArgumentException(prefix + "eta was given but rule " + cfg.rule().name()
                    + " has no momentum");
        }
        switch (cfg.retention().gateShape()) {
            case NONE -> {
                if (decay != null) {
                    throw new IllegalArgumentException(prefix + "decay was given but retention "
                            + cfg.retention().name() + " takes no gate input");
                }
            }
            case SCALAR -> Shapes.require(prefix + "decay", decay, "[B, T, H]", b, n, h);
            case PER_KEY -> Shapes.require(prefix + "decay", decay, "[B, T, H, Dk]", b, n, h, dk);
        }
        if (cfg.bias().tokenParameter()) {
            Shapes.require(prefix + "param", param, "[B, T, H]", b, n, h);
        } else if (param != null) {
            throw new IllegalArgumentException(prefix + "param was given but bias " + cfg.bias().name()
                    + " reads no token parameter");
        }
        String[] names = {"k", "v", "theta", "eta", "decay", "param"};
        INDArray[] arrays = {k, v, theta, eta, decay, param};
        for (int i = 0; i < names.length; i++) {
            requireType(prefix + names[i], arrays[i], type);
        }
        if (cfg.checkInputs()) {
            Shapes.requireFinite(prefix + "k", k);
            Shapes.requireFinite(prefix + "v", v);
            checkRange(prefix + "theta", theta, 0, Double.POSITIVE_INFINITY);
            checkRange(prefix + "eta", eta, 0, 1);
            checkRange(prefix + "decay", decay, 0, 1);
            if (param != null) {
                Shapes.requireFinite(prefix + "param", param);
            }
        }
    }

    static void requireType(String name, INDArray a, DataType type) {
        if (a != null && a.dataType() != type) {
            throw new IllegalArgumentException(name + " has data type " + a.dataType() + ", expected " + type
                    + " like q");
        }
    }

    /** Rejects NaN and values outside [lo, hi] (+∞ is rejected too). */
    static void checkRange(String name, INDArray a, double lo, double hi) {
        if (a == null || a.length() == 0) {
            return;
        }
        double[] x = NdBuffers.toDoubles(a);
        for (int i = 0; i < x.length; i++) {
            if (!(x[i] >= lo && x[i] <= hi) || Double.isInfinite(x[i])) {
                throw new IllegalArgumentException(name + " holds " + x[i] + " at flat index " + i
                        + ", expected a value in [" + lo + ", " + (hi == Double.POSITIVE_INFINITY ? "∞)" : hi + "]")
                        + " (shape " + Arrays.toString(a.shape()) + ")");
            }
        }
    }
}
