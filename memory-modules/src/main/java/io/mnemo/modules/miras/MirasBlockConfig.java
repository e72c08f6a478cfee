package io.mnemo.modules.miras;

import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Configuration of a {@link MirasBlock}: the Miras layer around any {@link MirasConfig}.
 *
 * @param dModel model width D
 * @param heads H; each head's memory maps {@code R^{D/H} → R^{D/H}}
 * @param memory the memory op (the four choices and the chunk size)
 * @param convKernel short causal depthwise convolution on q, k, v (0 = none; 4 as in the paper's blocks)
 * @param thetaMax the inner step size is {@code θ = thetaMax · σ(x W_θ + b_θ)}
 * @param dataType FLOAT for training, DOUBLE for gradient checks
 * @param seed initialisation seed
 */
public record MirasBlockConfig(int dModel, int heads, MirasConfig memory, int convKernel, double thetaMax,
        DataType dataType, long seed) {
    public MirasBlockConfig {
        Objects.requireNonNull(memory, "memory");
        Objects.requireNonNull(dataType, "dataType");
        if (dModel <= 0 || heads <= 0 || dModel % heads != 0) {
            throw new IllegalArgumentException("heads=" + heads + " must divide dModel=" + dModel + " (both > 0)");
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
        memory.shape(dModel / heads, dModel / heads);
    }

    /** Conv 4, θ_max 1, FLOAT, seed 1234. */
    public static MirasBlockConfig of(int dModel, int heads, MirasConfig memory) {
        return new MirasBlockConfig(dModel, heads, memory, 4, 1.0, DataType.FLOAT, 1234L);
    }

    /** The head dimension {@code D / H}. */
    public int headDim() {
        return dModel / heads;
    }

    public MirasBlockConfig withDataType(DataType t) {
        return new MirasBlockConfig(dModel, heads, memory, convKernel, thetaMax, t, seed);
    }

    public MirasBlockConfig withSeed(long s) {
        return new MirasBlockConfig(dModel, heads, memory, convKernel, thetaMax, dataType, s);
    }
}
