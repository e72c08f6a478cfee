package io.mnemo.modules.linear;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Gradients of a linear-family op with respect to each input, in the inputs' shapes and data type;
 * null for inputs the op does not take.
 *
 * @param dq {@code [B, T, H, Dk]}
 * @param dk {@code [B, T, H, Dk]}
 * @param dv {@code [B, T, H, Dv]}
 * @param dg {@code [B, T, H]} or null
 * @param dgk {@code [B, T, H, Dk]} or null
 * @param dbeta {@code [B, T, H]} or null
 * @param dInitialState {@code [B, H, Dk, Dv]} (also when the initial state was null, i.e. zeros)
 */
public record LinearGrads(INDArray dq, INDArray dk, INDArray dv, INDArray dg, INDArray dgk, INDArray dbeta,
        INDArray dInitialState) {}
