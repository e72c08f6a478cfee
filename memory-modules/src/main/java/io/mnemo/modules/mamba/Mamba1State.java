package io.mnemo.modules.mamba;

import io.mnemo.core.MemoryState;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * State of a {@link Mamba1Block}: the last inputs of the convolution and the scan's state.
 *
 * @param conv {@code [B, K−1, E·D]}: the last K−1 pre-convolution inputs (zeros at the start)
 * @param ssm {@code [B, E·D, N]}: the selective-scan state
 */
public record Mamba1State(INDArray conv, INDArray ssm) implements MemoryState {
    @Override
    public Mamba1State copy() {
        return new Mamba1State(conv.dup(), ssm.dup());
    }

    /** Arrays carry no autodiff history here, so detaching is a copy. */
    @Override
    public Mamba1State detach() {
        return copy();
    }
}
