package io.mnemo.modules.linear;

import io.mnemo.core.MemoryState;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * State of a {@link LinearAttentionBlock}: the memory and the last inputs of the three convolutions.
 *
 * @param memory {@code [B, H, Dk, Dv]}
 * @param convQ {@code [B, K−1, H·Dk]} (null without convolution)
 * @param convK {@code [B, K−1, H·Dk]} (null without convolution)
 * @param convV {@code [B, K−1, H·Dv]} (null without convolution)
 */
public record LinearBlockState(INDArray memory, INDArray convQ, INDArray convK, INDArray convV)
        implements MemoryState {
    @Override
    public LinearBlockState copy() {
        return new LinearBlockState(dup(memory), dup(convQ), dup(convK), dup(convV));
    }

    /** Arrays carry no autodiff history here, so detaching is a copy. */
    @Override
    public LinearBlockState detach() {
        return copy();
    }

    private static INDArray dup(INDArray a) {
        return a == null ? null : a.dup();
    }
}
