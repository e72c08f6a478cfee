package io.mnemo.modules.mamba;

import io.mnemo.core.MemoryState;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * State of a {@link Mamba2Block}: the SSD state and the last inputs of the three convolutions.
 *
 * @param ssm {@code [B, H, P, N]}
 * @param convX {@code [B, K−1, E·D]} (null without convolution)
 * @param convB {@code [B, K−1, G·N]} (null without convolution)
 * @param convC {@code [B, K−1, G·N]} (null without convolution)
 */
public record Mamba2State(INDArray ssm, INDArray convX, INDArray convB, INDArray convC) implements MemoryState {
    @Override
    public Mamba2State copy() {
        return new Mamba2State(dup(ssm), dup(convX), dup(convB), dup(convC));
    }

    /** Arrays carry no autodiff history, so detaching is a copy. */
    @Override
    public Mamba2State detach() {
        return copy();
    }

    private static INDArray dup(INDArray a) {
        return a == null ? null : a.dup();
    }
}
