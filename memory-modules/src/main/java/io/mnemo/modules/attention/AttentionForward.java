package io.mnemo.modules.attention;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Result of an attention forward pass.
 *
 * @param o outputs {@code [B, Tq, H, Dv]}, in the data type of q
 * @param lse per-row log-sum-exp of the scaled, masked scores {@code [B, Tq, H]}
 *     ({@code lse_i = log Σ_{j visible} exp(scale q_i·k_j)}), what backward recomputes the softmax from
 * @param config the configuration it ran with
 * @param dims the sizes
 * @param inputs the inputs it ran on
 * @param saved what the backend keeps for backward (null when not training)
 */
public record AttentionForward(INDArray o, INDArray lse, AttentionOpConfig config, AttentionDims dims,
        AttentionInputs inputs, Object saved) {}
