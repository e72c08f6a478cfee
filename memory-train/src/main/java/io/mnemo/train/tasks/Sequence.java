package io.mnemo.train.tasks;

import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * One generated example: {@code inputs}, {@code targets} and {@code mask}, each of length {@code T}.
 * Package-private building block of the synthetic tasks.
 */
record Sequence(int[] inputs, int[] targets, float[] mask) {

    Sequence {
        if (inputs.length != targets.length || inputs.length != mask.length) {
            throw new IllegalStateException("inputs, targets and mask lengths differ: " + inputs.length + ", "
                    + targets.length + ", " + mask.length);
        }
    }

    /**
     * An example whose targets are the inputs shifted by one: {@code seq} has {@code T + 1} tokens,
     * inputs are {@code seq[0..T)}, targets {@code seq[1..T]}; the mask starts all zero.
     */
    static Sequence shifted(int[] seq) {
        int t = seq.length - 1;
        int[] in = new int[t];
        int[] tg = new int[t];
        System.arraycopy(seq, 0, in, 0, t);
        System.arraycopy(seq, 1, tg, 0, t);
        return new Sequence(in, tg, new float[t]);
    }

    /** Generates {@code batchSize} examples, row {@code r} from the stream {@code (seed, index, r)}. */
    static Batch batch(long seed, long index, int batchSize, int vocabSize,
            Function<SplittableRandom, Sequence> generator) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        }
        int[][] in = new int[batchSize][];
        int[][] tg = new int[batchSize][];
        float[][] mk = new float[batchSize][];
        for (int r = 0; r < batchSize; r++) {
            Sequence s = generator.apply(Seeds.forExample(seed, index, r));
            in[r] = s.inputs;
            tg[r] = s.targets;
            mk[r] = s.mask;
        }
        return Batch.of(in, tg, mk, vocabSize);
    }
}
