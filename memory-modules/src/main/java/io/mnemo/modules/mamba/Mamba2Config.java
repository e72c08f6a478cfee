package io.mnemo.modules.mamba;

import io.mnemo.core.kernel.Backend;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Configuration of a {@link Mamba2Block}.
 *
 * @param dModel model width D
 * @param expand inner width {@code E·D} as a multiple of D (Mamba-2 default 2)
 * @param headDim P, the head dimension; {@code H = E·D / P} heads
 * @param stateSize N, the state dimension per head (Mamba-2 default 64/128; smaller for CPU models)
 * @param groups G, the number of B/C groups shared by the heads (G divides H; Mamba-2 default 1)
 * @param convKernel width of the causal depthwise convolution over x, B and C (4; 0 = none)
 * @param chunkSize chunk (block) length of the SSD algorithm
 * @param backend SSD kernel backend
 * @param dataType FLOAT for training, DOUBLE for gradient checks
 * @param seed initialisation seed
 */
public record Mamba2Config(int dModel, int expand, int headDim, int stateSize, int groups, int convKernel,
        int chunkSize, Backend backend, DataType dataType, long seed) {
    public Mamba2Config {
        positive("dModel", dModel);
        positive("expand", expand);
        positive("headDim", headDim);
        positive("stateSize", stateSize);
        positive("groups", groups);
        positive("chunkSize", chunkSize);
        if (convKernel < 0) {
            throw new IllegalArgumentException("convKernel must be >= 0, got " + convKernel);
        }
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(dataType, "dataType");
        if (dataType != DataType.FLOAT && dataType != DataType.DOUBLE) {
            throw new IllegalArgumentException("dataType must be FLOAT or DOUBLE, got " + dataType);
        }
        int inner = expand * dModel;
        if (inner % headDim != 0) {
            throw new IllegalArgumentException("headDim=" + headDim + " does not divide the inner width expand*dModel="
                    + inner);
        }
        int heads = inner / headDim;
        if (heads % groups != 0) {
            throw new IllegalArgumentException("groups=" + groups + " does not divide the " + heads + " heads");
        }
    }

    /** Mamba-2 defaults scaled for CPU: expand 2, conv 4, one group, chunk 64, automatic backend, FLOAT. */
    public static Mamba2Config of(int dModel, int headDim, int stateSize) {
        return new Mamba2Config(dModel, 2, headDim, stateSize, 1, 4, 64, Backend.AUTO, DataType.FLOAT, 0);
    }

    /** Inner width {@code E·D}. */
    public int inner() {
        return expand * dModel;
    }

    /** Number of heads {@code E·D / P}. */
    public int heads() {
        return inner() / headDim;
    }

    private static void positive(String name, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(name + " must be > 0, got " + v);
        }
    }
}
