package io.mnemo.modules.titans;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One implementation (backend) of the Titans memory op. Inputs arrive validated; implementations
 * return outputs in the data type of q and never modify their inputs.
 */
public interface TitansKernel {
    /**
     * Forward pass.
     *
     * @param save keep what {@link #backward} needs in {@link TitansForward#saved()}
     */
    TitansForward forward(TitansOpConfig cfg, TitansDims dims, TitansInputs in, boolean save);

    /**
     * Exact gradients of {@code Σ y·dY + ⟨finalState, dFinalState⟩}.
     *
     * @param fwd a forward result made with {@code save = true} by this kernel
     * @param dY {@code [B, T, H, D]}, or null for zeros
     * @param dFinalState shaped like {@code fwd.finalState()} (any of its arrays may be null for zeros), or null
     */
    TitansGrads backward(TitansForward fwd, INDArray dY, TitansState dFinalState);
}
