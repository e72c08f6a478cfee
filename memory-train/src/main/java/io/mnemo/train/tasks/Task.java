package io.mnemo.train.tasks;

import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A source of training or evaluation batches of token ids.
 *
 * <p>Implementations are <b>deterministic</b>: {@link #batch(long, int)} depends only on the
 * task's configuration (including its seed), the batch index and the batch size, so a run can
 * resume exactly at a batch index and an evaluation set is simply a range of indices (use indices
 * that training does not reach, or a different seed). Each row of a batch is generated from its own
 * random stream seeded by {@code (seed, index, row)}.
 */
public interface Task {

    /** Short name, e.g. {@code "mqar"}. */
    String name();

    /** Number of token ids; every id in a batch lies in {@code [0, vocabSize)}. */
    int vocabSize();

    /** Sequence length {@code T} of the batches. */
    int seqLen();

    /**
     * The batch with the given index.
     *
     * @param index batch index, any {@code long} (negative indices are valid and distinct)
     * @param batchSize number of examples {@code B >= 1}
     * @return inputs, targets and mask, each {@code [B, T]}
     */
    Batch batch(long index, int batchSize);

    /**
     * The batch the trainer fits at the given index: the same inputs and targets as {@link #batch}, with
     * a mask that may also weight positions the score ignores (e.g. passkey's {@code contextWeight}: a
     * language-model loss on the haystack besides the answer). The mask's values are loss weights; the
     * trainer's reported accuracy counts every position of non-zero weight. Evaluation always uses
     * {@link #batch}. By default the two are the same.
     *
     * @param index batch index
     * @param batchSize number of examples {@code B >= 1}
     * @return inputs, targets and loss weights, each {@code [B, T]}
     */
    default Batch trainingBatch(long index, int batchSize) {
        return batch(index, batchSize);
    }

    /** One line saying what the task is and its configuration. */
    String describe();

    /**
     * Fraction of masked positions where the prediction equals the target.
     *
     * @param b the batch
     * @param predictedIds {@code [B, T]} predicted ids (any integer or floating type holding ids)
     * @return accuracy in [0, 1], or NaN when the mask is all zero
     */
    static double accuracy(Batch b, INDArray predictedIds) {
        int[][] pred = predictions(b, predictedIds);
        int[][] tgt = b.targets().toIntMatrix();
        float[][] mask = b.mask().toFloatMatrix();
        long right = 0;
        long total = 0;
        for (int i = 0; i < tgt.length; i++) {
            for (int t = 0; t < tgt[i].length; t++) {
                if (mask[i][t] != 0f) {
                    total++;
                    if (pred[i][t] == tgt[i][t]) {
                        right++;
                    }
                }
            }
        }
        return total == 0 ? Double.NaN : (double) right / total;
    }

    /**
     * Fraction of examples (rows) whose masked positions are all predicted right; rows without a
     * masked position are not counted. This is the score of passkey and needle retrieval, where an
     * answer of several digits is right only if every digit is.
     *
     * @param b the batch
     * @param predictedIds {@code [B, T]} predicted ids
     * @return accuracy in [0, 1], or NaN when no row has a masked position
     */
    static double exampleAccuracy(Batch b, INDArray predictedIds) {
        int[][] pred = predictions(b, predictedIds);
        int[][] tgt = b.targets().toIntMatrix();
        float[][] mask = b.mask().toFloatMatrix();
        int right = 0;
        int counted = 0;
        for (int i = 0; i < tgt.length; i++) {
            boolean any = false;
            boolean all = true;
            for (int t = 0; t < tgt[i].length; t++) {
                if (mask[i][t] != 0f) {
                    any = true;
                    all &= pred[i][t] == tgt[i][t];
                }
            }
            if (any) {
                counted++;
                if (all) {
                    right++;
                }
            }
        }
        return counted == 0 ? Double.NaN : (double) right / counted;
    }

    private static int[][] predictions(Batch b, INDArray predictedIds) {
        if (predictedIds == null || !Arrays.equals(predictedIds.shape(), b.targets().shape())) {
            throw new IllegalArgumentException("predictedIds has shape "
                    + (predictedIds == null ? "null" : Arrays.toString(predictedIds.shape()))
                    + ", expected [B, T] = " + Arrays.toString(b.targets().shape()));
        }
        return predictedIds.toIntMatrix();
    }
}
