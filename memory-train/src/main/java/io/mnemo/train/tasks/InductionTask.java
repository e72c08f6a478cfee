package io.mnemo.train.tasks;

import java.util.SplittableRandom;

/**
 * Induction heads (Olsson et al. 2022; the synthetic of Gu &amp; Dao 2023, section 4.1.2): after a
 * special trigger token has been seen once followed by some token, seeing the trigger again must
 * recall that token. Trained short and tested long (the same task with a larger {@code seqLen}) it
 * measures length extrapolation.
 *
 * <p>Token ids: the trigger is {@code vocabSize - 1}; every other position holds a random token
 * from {@code [0, vocabSize - 1)}, so the trigger occurs exactly twice. The first trigger is at a
 * uniformly random position {@code p} in the first half, {@code [0, (T-1)/2)}, followed by the
 * answer at {@code p + 1}; the last input token {@code T - 1} is the trigger again and its target,
 * the only masked one, is the answer.
 *
 * @param vocabSize number of ids, at least 3; Mamba uses 16
 * @param seqLen sequence length {@code T >= 4}
 * @param seed seed of the generator
 */
public record InductionTask(int vocabSize, int seqLen, long seed) implements Task {

    public InductionTask {
        if (vocabSize < 3) {
            throw new IllegalArgumentException("vocabSize must be >= 3 (trigger and at least two other tokens), got "
                    + vocabSize);
        }
        if (seqLen < 4) {
            throw new IllegalArgumentException("seqLen must be >= 4 (trigger, answer, one token, trigger), got "
                    + seqLen);
        }
    }

    /** The trigger token, {@code vocabSize - 1}. */
    public int trigger() {
        return vocabSize - 1;
    }

    @Override
    public String name() {
        return "induction";
    }

    @Override
    public Batch batch(long index, int batchSize) {
        return Sequence.batch(seed, index, batchSize, vocabSize, this::generate);
    }

    @Override
    public String describe() {
        return String.format("induction: recall the token after the trigger, T=%d, vocab=%d, seed=%d",
                seqLen, vocabSize, seed);
    }

    private Sequence generate(SplittableRandom rnd) {
        int[] seq = new int[seqLen + 1];
        for (int i = 0; i <= seqLen; i++) {
            seq[i] = rnd.nextInt(vocabSize - 1);
        }
        int p = rnd.nextInt((seqLen - 1) / 2);
        int answer = seq[p + 1];
        seq[p] = trigger();
        seq[seqLen - 1] = trigger();
        seq[seqLen] = answer;
        Sequence s = Sequence.shifted(seq);
        s.mask()[seqLen - 1] = 1f;
        return s;
    }
}
