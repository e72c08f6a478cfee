package io.mnemo.modules.titans;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Result of a Titans forward pass.
 *
 * @param y retrieved values {@code [B, T, H, D]}, in the data type of q
 * @param finalState the state to carry into the next call
 * @param config the configuration it ran with
 * @param dims the sizes
 * @param inputs the inputs it ran on
 * @param saved what the backend keeps for backward (null unless run with {@code save = true})
 */
public record TitansForward(INDArray y, TitansState finalState, TitansOpConfig config, TitansDims dims,
        TitansInputs inputs, Object saved) {}
