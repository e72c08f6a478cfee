package io.mnemo.modules.linear;

import io.mnemo.core.memory.SeqDims;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One implementation (backend) of the linear-family ops. Inputs arrive validated; implementations
 * return outputs in the data type of q and never modify their inputs.
 */
public interface LinearKernel {
    /**
     * Forward pass.
     *
     * @param save keep what {@link #backward} needs in {@link LinearForward#saved()}
     */
    LinearForward forward(LinearOpConfig cfg, SeqDims dims, LinearInputs in, boolean save);

    /**
     * Exact gradients of {@code Σ o·dO + Σ finalState·dFinalState}.
     *
     * @param fwd a forward result made with {@code save = true} by this kernel
     * @param dO {@code [B, T, H, Dv]}, or null for zeros
     * @param dFinalState {@code [B, H, Dk, Dv]}, or null for zeros
     */
    LinearGrads backward(LinearForward fwd, INDArray dO, INDArray dFinalState);
}
