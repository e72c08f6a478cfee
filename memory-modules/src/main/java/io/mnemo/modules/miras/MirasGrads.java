package io.mnemo.modules.miras;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Gradients of {@code Σ y·dY + ⟨finalState, dFinalState⟩} with respect to every input, in the inputs'
 * shapes and data type.
 *
 * @param dq {@code [B, T, H, Dk]}
 * @param dk {@code [B, T, H, Dk]}
 * @param dv {@code [B, T, H, Dv]}
 * @param dTheta {@code [B, T, H]}
 * @param dEta {@code [B, T, H]}, null without momentum
 * @param dDecay shaped like decay, null without gate input
 * @param dParam {@code [B, T, H]}, null without a token parameter
 * @param dInitialState gradient of the incoming state in its form (also when it was null, i.e. zeros)
 */
public record MirasGrads(INDArray dq, INDArray dk, INDArray dv, INDArray dTheta, INDArray dEta, INDArray dDecay,
        INDArray dParam, MirasState dInitialState) {}
