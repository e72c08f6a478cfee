package io.mnemo.modules.mamba;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Result of a selective-scan forward pass.
 *
 * @param out {@code [B, D, L]}, in the data type of u
 * @param lastState {@code [B, D, N]}: the state after the last token (the initial state when L = 0)
 * @param config the configuration it ran with
 * @param dims the sizes
 * @param inputs the inputs it ran on
 * @param saved what the backend keeps for backward (null when not saving)
 */
public record SelectiveScanForward(INDArray out, INDArray lastState, SelectiveScanConfig config, ScanDims dims,
        SelectiveScanInputs inputs, Object saved) {}
