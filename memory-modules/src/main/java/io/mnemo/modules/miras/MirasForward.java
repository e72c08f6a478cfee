package io.mnemo.modules.miras;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Result of a Miras forward pass.
 *
 * @param y retrieved values {@code [B, T, H, Dv]} in the data type of q
 * @param finalState the state to carry into the next call
 * @param config the configuration it ran with
 * @param dims the sizes
 * @param inputs the inputs it ran on
 * @param saved what the kernel keeps for backward (null unless run with {@code save = true})
 */
public record MirasForward(INDArray y, MirasState finalState, MirasConfig config, MirasDims dims, MirasInputs inputs,
        Object saved) {}
