package io.mnemo.train.tasks;

import io.mnemo.core.Shapes;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A batch of token sequences.
 *
 * @param inputs {@code [B, T]} INT32 token ids
 * @param targets {@code [B, T]} INT32: the token to predict after each input
 * @param mask {@code [B, T]} FLOAT, 1 where the loss and accuracy count
 */
public record Batch(INDArray inputs, INDArray targets, INDArray mask) {
    public Batch {
        Shapes.requireRank("inputs", inputs, "[B, T]", 2);
        Shapes.require("targets", targets, "[B, T]", inputs.size(0), inputs.size(1));
        Shapes.require("mask", mask, "[B, T]", inputs.size(0), inputs.size(1));
    }
}
