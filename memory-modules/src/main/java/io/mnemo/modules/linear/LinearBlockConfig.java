package io.mnemo.modules.linear;

import io.mnemo.core.kernel.Backend;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Configuration of {@link LinearAttentionBlock}, validated on construction.
 *
 * @param op the memory op
 * @param dModel model width D
 * @param heads H
 * @param headDimK Dk per head
 * @param headDimV Dv per head
 * @param convKernel width of the short causal depthwise convolutions on q, k, v (0 = none, else ≥ 2;
 *     4 in the Gated DeltaNet and fla layers)
 * @param qkNorm L2-normalise q and k per head (needed for stable delta rules; the fla default for them)
 * @param outputGate apply RMSNorm(o) ⊙ silu(x W_g) before the output projection (else RMSNorm only)
 * @param chunkSize chunk size passed to the op
 * @param backend kernel backend of the op
 * @param dataType FLOAT, or DOUBLE for gradient checks (then use the reference backend)
 * @param seed parameter initialisation seed
 */
public record LinearBlockConfig(LinearOp op, int dModel, int heads, int headDimK, int headDimV, int convKernel,
        boolean qkNorm, boolean outputGate, int chunkSize, Backend backend, DataType dataType, long seed) {
    public LinearBlockConfig {
        Objects.requireNonNull(op, "op");
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(dataType, "dataType");
        if (dModel <= 0 || heads <= 0 || headDimK <= 0 || headDimV <= 0) {
            throw new IllegalArgumentException("dModel=" + dModel + ", heads=" + heads + ", headDimK=" + headDimK
                    + ", headDimV=" + headDimV + ": all must be > 0");
        }
        if (convKernel == 1 || convKernel < 0) {
            throw new IllegalArgumentException("convKernel must be 0 (no convolution) or >= 2, got " + convKernel);
        }
        if (chunkSize <= 0) {
            throw new IllegalArgumentException("chunkSize must be > 0, got " + chunkSize);
        }
        if (dataType != DataType.FLOAT && dataType != DataType.DOUBLE) {
            throw new IllegalArgumentException("dataType must be FLOAT or DOUBLE, got " + dataType);
        }
    }

    /**
     * The usual layer: Dk = Dv = dModel / heads, conv 4, q/k normalised for the delta rules, output
     * gate, chunk 64, automatic backend, FLOAT.
     */
    public static LinearBlockConfig of(LinearOp op, int dModel, int heads) {
        if (heads <= 0 || dModel % heads != 0) {
            throw new IllegalArgumentException("heads=" + heads + " does not divide dModel=" + dModel);
        }
        return new LinearBlockConfig(op, dModel, heads, dModel / heads, dModel / heads, 4, op.delta(), true, 64,
                Backend.AUTO, DataType.FLOAT, 1234L);
    }

    public LinearBlockConfig withBackend(Backend b) {
        return new LinearBlockConfig(op, dModel, heads, headDimK, headDimV, convKernel, qkNorm, outputGate, chunkSize,
                b, dataType, seed);
    }

    public LinearBlockConfig withDataType(DataType t) {
        return new LinearBlockConfig(op, dModel, heads, headDimK, headDimV, convKernel, qkNorm, outputGate, chunkSize,
                backend, t, seed);
    }

    public LinearBlockConfig withHeadDims(int dk, int dv) {
        return new LinearBlockConfig(op, dModel, heads, dk, dv, convKernel, qkNorm, outputGate, chunkSize, backend,
                dataType, seed);
    }

    public LinearBlockConfig withChunkSize(int c) {
        return new LinearBlockConfig(op, dModel, heads, headDimK, headDimV, convKernel, qkNorm, outputGate, c, backend,
                dataType, seed);
    }
}
