package io.mnemo.modules.mamba;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Gradients of a selective scan with respect to each input, in the inputs' shapes and data type; null
 * for optional inputs that were not given (except the initial state, whose gradient is always given).
 *
 * @param du {@code [B, D, L]}
 * @param ddelta {@code [B, D, L]} (gradient w.r.t. delta before the bias and softplus)
 * @param dA {@code [D, N]}
 * @param dB shaped like B: {@code [D, N]}, {@code [B, N, L]} or {@code [B, G, N, L]}
 * @param dC shaped like C
 * @param dD {@code [D]} or null
 * @param dz {@code [B, D, L]} or null
 * @param dDeltaBias {@code [D]} or null
 * @param dInitialState {@code [B, D, N]}
 */
public record SelectiveScanGrads(INDArray du, INDArray ddelta, INDArray dA, INDArray dB, INDArray dC, INDArray dD,
        INDArray dz, INDArray dDeltaBias, INDArray dInitialState) {}
