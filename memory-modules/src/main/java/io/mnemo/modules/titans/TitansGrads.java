package io.mnemo.modules.titans;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Gradients of {@code Σ y·dY + ⟨finalState, dFinalState⟩} with respect to every input, in the inputs'
 * shapes and data type.
 *
 * @param dq {@code [B, T, H, D]}
 * @param dk {@code [B, T, H, D]}
 * @param dv {@code [B, T, H, D]}
 * @param dTheta {@code [B, T, H]}
 * @param dEta {@code [B, T, H]}, null without momentum
 * @param dAlpha {@code [B, T, H]}
 * @param dInitialState gradient of the incoming state, in its form (also when it was null, i.e. zeros):
 *     memory, momentum and the buffered inputs of the open chunk
 */
public record TitansGrads(INDArray dq, INDArray dk, INDArray dv, INDArray dTheta, INDArray dEta, INDArray dAlpha,
        TitansState dInitialState) {}
