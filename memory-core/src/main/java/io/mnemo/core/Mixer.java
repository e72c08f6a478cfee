package io.mnemo.core;

import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The contract of every sequence mixer (DESIGN.md §1): chunked {@code forward} for training and
 * prefill, exact {@code backward}, O(1) {@code step} for generation.
 *
 * <p>Equalities every implementation keeps (and its tests check): one {@code forward} over T tokens
 * equals {@code forward} over pieces with the state carried, and equals T calls of {@code step};
 * {@code backward} equals finite differences.
 *
 * @param <S> the state type
 */
public interface Mixer<S extends MemoryState> {
    /** Model width D. */
    int dModel();

    /** Trainable parameters (values and gradient accumulators). */
    List<Parameter> parameters();

    /** A zero (or learned) state for a batch of {@code batch} sequences. */
    S initialState(int batch);

    /**
     * Runs the mixer over a sequence.
     *
     * @param x {@code [B, T, D]}
     * @param state the carried state, or null for {@link #initialState(int)}
     * @param training keep what {@link #backward} needs
     * @return {@code y [B, T, D]} and the state after the last token
     */
    Forward<S> forward(INDArray x, S state, boolean training);

    /**
     * Exact gradient of a forward pass: adds parameter gradients into {@link Parameter#grad()}.
     *
     * @param fwd the result of {@code forward(…, training=true)}
     * @param dy {@code [B, T, D]}
     * @param dState gradient with respect to the returned state, or null
     * @return {@code dx [B, T, D]} and the gradient with respect to the incoming state
     */
    Backward<S> backward(Forward<S> fwd, INDArray dy, S dState);

    /**
     * One token.
     *
     * @param x {@code [B, D]}
     * @return {@code y [B, D]} and the next state
     */
    Step<S> step(INDArray x, S state);

    /** Output of {@link #forward}; {@code saved} is opaque to callers. */
    record Forward<S>(INDArray y, S state, Object saved) {}

    /** Output of {@link #backward}. */
    record Backward<S>(INDArray dx, S dState) {}

    /** Output of {@link #step}. */
    record Step<S>(INDArray y, S state) {}
}
