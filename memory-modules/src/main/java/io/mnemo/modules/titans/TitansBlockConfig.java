package io.mnemo.modules.titans;

import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Configuration of a {@link TitansBlock} (the Titans LMM layer: the neural memory alone).
 *
 * @param dModel model width D
 * @param heads H; each head's memory maps {@code R^{D/H} → R^{D/H}}
 * @param memory the memory op: depth, expansion, momentum, clamp, gates, read mode, chunk size, backend
 * @param convKernel short causal depthwise convolution on q, k, v (0 = none; 4 as in Titans)
 * @param thetaMax the inner learning rate is {@code θ = thetaMax · σ(x W_θ + b_θ)}
 * @param learnedInit the initial memory is a trained parameter {@code [H, …]} per memory layer (true), or
 *     zero (false; with depth ≥ 2 a zero memory is a fixed point of its own gradient, so this is only
 *     sensible for depth 1)
 * @param dataType FLOAT for training, DOUBLE for gradient checks
 * @param seed initialisation seed
 */
public record TitansBlockConfig(int dModel, int heads, TitansOpConfig memory, int convKernel, double thetaMax,
        boolean learnedInit, DataType dataType, long seed) {
    public TitansBlockConfig {
        Objects.requireNonNull(memory, "memory");
        Objects.requireNonNull(dataType, "dataType");
        if (dModel <= 0 || heads <= 0 || dModel % heads != 0) {
            throw new IllegalArgumentException("heads=" + heads + " does not divide dModel=" + dModel);
        }
        if (convKernel < 0) {
            throw new IllegalArgumentException("convKernel must be >= 0, got " + convKernel);
        }
        if (!(thetaMax > 0) || !Double.isFinite(thetaMax)) {
            throw new IllegalArgumentException("thetaMax must be finite and > 0, got " + thetaMax);
        }
        if (dataType != DataType.FLOAT && dataType != DataType.DOUBLE) {
            throw new IllegalArgumentException("dataType must be FLOAT or DOUBLE, got " + dataType);
        }
        if (!learnedInit && memory.depth() >= 2) {
            throw new IllegalArgumentException("a deep memory (depth " + memory.depth() + ") needs learnedInit: "
                    + "zero weights give a zero inner gradient, so the memory would never change");
        }
    }

    /** Defaults: the op's defaults (depth 2, momentum, chunk 16, per-token reads), conv 4, θ_max 1, learned init. */
    public static TitansBlockConfig of(int dModel, int heads) {
        return new TitansBlockConfig(dModel, heads, TitansOpConfig.defaults(), 4, 1.0, true, DataType.FLOAT, 1234L);
    }

    /** The head dimension {@code D / H}. */
    public int headDim() {
        return dModel / heads;
    }

    public TitansBlockConfig withMemory(TitansOpConfig m) {
        return new TitansBlockConfig(dModel, heads, m, convKernel, thetaMax, learnedInit, dataType, seed);
    }

    public TitansBlockConfig withDataType(DataType t) {
        return new TitansBlockConfig(dModel, heads, memory, convKernel, thetaMax, learnedInit, t, seed);
    }

    public TitansBlockConfig withSeed(long s) {
        return new TitansBlockConfig(dModel, heads, memory, convKernel, thetaMax, learnedInit, dataType, s);
    }
}
