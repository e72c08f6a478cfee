package io.mnemo.train.tasks;

import java.util.Arrays;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * One batch of next-token examples.
 *
 * <ul>
 *   <li>{@code inputs} {@code [B, T]} INT32 token ids fed to the model;</li>
 *   <li>{@code targets} {@code [B, T]} INT32 token ids: {@code targets[b, t]} is the token the model
 *       should predict after reading {@code inputs[b, 0..t]};</li>
 *   <li>{@code mask} {@code [B, T]} FLOAT, 1 where the loss and the accuracy count, 0 elsewhere.</li>
 * </ul>
 *
 * The compact constructor checks ranks, data types and that the three shapes are equal; whether
 * the ids lie in the vocabulary is checked by whoever builds the batch ({@link #of}).
 */
public record Batch(INDArray inputs, INDArray targets, INDArray mask) {

    public Batch {
        Objects.requireNonNull(inputs, "inputs");
        Objects.requireNonNull(targets, "targets");
        Objects.requireNonNull(mask, "mask");
        requireRank2("inputs", inputs);
        requireRank2("targets", targets);
        requireRank2("mask", mask);
        if (!Arrays.equals(inputs.shape(), targets.shape()) || !Arrays.equals(inputs.shape(), mask.shape())) {
            throw new IllegalArgumentException("inputs, targets and mask must all be [B, T], got inputs "
                    + Arrays.toString(inputs.shape()) + ", targets " + Arrays.toString(targets.shape())
                    + ", mask " + Arrays.toString(mask.shape()));
        }
        if (inputs.dataType() != DataType.INT32) {
            throw new IllegalArgumentException("inputs has data type " + inputs.dataType() + ", expected INT32");
        }
        if (targets.dataType() != DataType.INT32) {
            throw new IllegalArgumentException("targets has data type " + targets.dataType() + ", expected INT32");
        }
        if (mask.dataType() != DataType.FLOAT) {
            throw new IllegalArgumentException("mask has data type " + mask.dataType() + ", expected FLOAT");
        }
    }

    /**
     * Builds a batch from Java arrays, checking that every id lies in {@code [0, vocabSize)}.
     *
     * @param inputs {@code [B][T]} ids
     * @param targets {@code [B][T]} ids
     * @param mask {@code [B][T]} 0/1 weights
     * @param vocabSize number of token ids
     */
    public static Batch of(int[][] inputs, int[][] targets, float[][] mask, int vocabSize) {
        if (inputs.length == 0 || inputs[0].length == 0) {
            throw new IllegalArgumentException("a batch needs B >= 1 and T >= 1, got B=" + inputs.length
                    + (inputs.length == 0 ? "" : ", T=" + inputs[0].length));
        }
        checkIds("inputs", inputs, vocabSize);
        checkIds("targets", targets, vocabSize);
        return new Batch(Nd4j.createFromArray(inputs), Nd4j.createFromArray(targets), Nd4j.createFromArray(mask));
    }

    /** Number of examples {@code B}. */
    public int batchSize() {
        return (int) inputs.size(0);
    }

    /** Sequence length {@code T}. */
    public int seqLen() {
        return (int) inputs.size(1);
    }

    /** Number of positions with a non-zero mask. */
    public long maskedCount() {
        long n = 0;
        for (float[] row : mask.toFloatMatrix()) {
            for (float m : row) {
                if (m != 0f) {
                    n++;
                }
            }
        }
        return n;
    }

    private static void checkIds(String name, int[][] ids, int vocabSize) {
        for (int b = 0; b < ids.length; b++) {
            for (int t = 0; t < ids[b].length; t++) {
                int id = ids[b][t];
                if (id < 0 || id >= vocabSize) {
                    throw new IllegalArgumentException(name + "[" + b + ", " + t + "] = " + id
                            + " is outside the vocabulary [0, " + vocabSize + ")");
                }
            }
        }
    }

    private static void requireRank2(String name, INDArray a) {
        if (a.rank() != 2) {
            throw new IllegalArgumentException(name + " has shape " + Arrays.toString(a.shape())
                    + ", expected [B, T]");
        }
    }
}
