package io.mnemo.modules.miras;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One implementation of the Miras op. Inputs arrive validated; implementations return outputs in the
 * data type of q and never modify their inputs.
 */
public interface MirasKernel {
    /** Forward pass; with {@code save} keeps what {@link #backward} needs. */
    MirasForward forward(MirasConfig cfg, MirasDims dims, MirasInputs in, boolean save);

    /**
     * Exact gradients of {@code Σ y·dY + ⟨finalState, dFinalState⟩}.
     *
     * @param dY {@code [B, T, H, Dv]} or null for zeros
     * @param dFinalState shaped like {@code fwd.finalState()} (layers or buffer arrays may be null), or null
     */
    MirasGrads backward(MirasForward fwd, INDArray dY, MirasState dFinalState);
}
