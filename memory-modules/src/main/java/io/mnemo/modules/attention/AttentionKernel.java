package io.mnemo.modules.attention;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One implementation (backend) of causal softmax attention. Inputs arrive validated; implementations
 * return outputs in the data type of q and never modify their inputs.
 */
public interface AttentionKernel {
    /**
     * Forward pass.
     *
     * @param save keep what {@link #backward} needs in {@link AttentionForward#saved()}
     */
    AttentionForward forward(AttentionOpConfig cfg, AttentionDims dims, AttentionInputs in, boolean save);

    /**
     * Exact gradients of {@code Σ o·dO}.
     *
     * @param fwd a forward result made with {@code save = true} by this kernel
     * @param dO {@code [B, Tq, H, Dv]}
     */
    AttentionGrads backward(AttentionForward fwd, INDArray dO);
}
