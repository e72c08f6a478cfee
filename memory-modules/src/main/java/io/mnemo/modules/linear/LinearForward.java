package io.mnemo.modules.linear;

import io.mnemo.core.memory.SeqDims;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Result of a linear-family forward pass.
 *
 * @param o outputs {@code [B, T, H, Dv]}, in the data type of q
 * @param finalState {@code [B, H, Dk, Dv]}
 * @param config the configuration it ran with
 * @param dims the sizes
 * @param inputs the inputs it ran on
 * @param saved what the backend keeps for backward (null when not training)
 */
public record LinearForward(INDArray o, INDArray finalState, LinearOpConfig config, SeqDims dims,
        LinearInputs inputs, Object saved) {}
