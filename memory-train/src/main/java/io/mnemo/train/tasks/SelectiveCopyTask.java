package io.mnemo.train.tasks;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Selective copying (Gu &amp; Dao 2023, "Mamba", section 4.1.1; the generator of the state-spaces
 * repository): data tokens scattered at random positions among blank tokens must be reproduced in
 * order, which needs content-aware (selective) memory, not a fixed delay.
 *
 * <p>Token ids: {@code 0} blank, {@code vocabSize - 1} separator, data tokens drawn uniformly (with
 * repetition) from {@code [1, vocabSize - 1)}. Layout of one example of length {@code T} with
 * {@code N = numTokens}:
 * <pre>
 *   inputs   [ region of T-N tokens: blanks and the N data tokens ] [ N separators ]
 *   targets  next input token                                       [ the N data tokens in order ]
 *   mask     0                                                      [ 1 ... 1 ]
 * </pre>
 * The data tokens keep their order inside the region; their positions are a random subset.
 *
 * @param vocabSize number of ids, at least 3 (blank, separator and one data token); Mamba uses 16
 * @param seqLen total length {@code T = region + N}, region at least {@code N}
 * @param numTokens number of data tokens {@code N >= 1}; Mamba uses 16
 * @param seed seed of the generator
 */
public record SelectiveCopyTask(int vocabSize, int seqLen, int numTokens, long seed) implements Task {

    /** The blank (noise) token. */
    public static final int BLANK = 0;

    public SelectiveCopyTask {
        if (vocabSize < 3) {
            throw new IllegalArgumentException("vocabSize must be >= 3 (blank, separator, data tokens), got "
                    + vocabSize);
        }
        if (numTokens < 1) {
            throw new IllegalArgumentException("numTokens must be >= 1, got " + numTokens);
        }
        if (seqLen < 2L * numTokens) {
            throw new IllegalArgumentException("numTokens=" + numTokens + " needs seqLen >= 2*" + numTokens + "="
                    + 2L * numTokens + " (a region holding the tokens plus the output), got " + seqLen);
        }
    }

    /** The separator token, {@code vocabSize - 1}. */
    public int separator() {
        return vocabSize - 1;
    }

    @Override
    public String name() {
        return "selective-copy";
    }

    @Override
    public Batch batch(long index, int batchSize) {
        return Sequence.batch(seed, index, batchSize, vocabSize, this::generate);
    }

    @Override
    public String describe() {
        return String.format("selective-copy: copy %d data tokens scattered in %d blanks, T=%d, vocab=%d, seed=%d",
                numTokens, seqLen - numTokens, seqLen, vocabSize, seed);
    }

    private Sequence generate(SplittableRandom rnd) {
        int region = seqLen - numTokens;
        int[] data = new int[numTokens];
        for (int i = 0; i < numTokens; i++) {
            data[i] = 1 + rnd.nextInt(vocabSize - 2);
        }
        int[] positions = MqarTask.sampleDistinct(rnd, 0, region, numTokens);
        Arrays.sort(positions);
        int[] in = new int[seqLen];
        for (int i = 0; i < numTokens; i++) {
            in[positions[i]] = data[i];
        }
        Arrays.fill(in, region, seqLen, separator());
        int[] tg = new int[seqLen];
        float[] mask = new float[seqLen];
        System.arraycopy(in, 1, tg, 0, region);
        for (int i = 0; i < numTokens; i++) {
            tg[region + i] = data[i];
            mask[region + i] = 1f;
        }
        return new Sequence(in, tg, mask);
    }
}
