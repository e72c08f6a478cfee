package io.mnemo.modules.attention;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Gradients of {@code Σ o·dO} with respect to the inputs, in their shapes and data type.
 *
 * @param dq {@code [B, Tq, H, Dk]}
 * @param dk {@code [B, Tk, H, Dk]}, the prefix rows included
 * @param dv {@code [B, Tk, H, Dv]}, the prefix rows included
 */
public record AttentionGrads(INDArray dq, INDArray dk, INDArray dv) {}
