package io.mnemo.modules.mamba;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One implementation (backend) of the selective scan. Inputs arrive validated; implementations return
 * outputs in the data type of u and never modify their inputs.
 */
public interface SelectiveScanKernel {
    /**
     * Forward pass.
     *
     * @param save keep what {@link #backward} needs in {@link SelectiveScanForward#saved()}
     */
    SelectiveScanForward forward(SelectiveScanConfig cfg, ScanDims dims, SelectiveScanInputs in, boolean save);

    /**
     * Exact gradients of {@code Σ out·dOut + Σ lastState·dLastState}.
     *
     * @param fwd a forward result made with {@code save = true} by this kernel
     * @param dOut {@code [B, D, L]}, or null for zeros
     * @param dLastState {@code [B, D, N]}, or null for zeros
     */
    SelectiveScanGrads backward(SelectiveScanForward fwd, INDArray dOut, INDArray dLastState);
}
