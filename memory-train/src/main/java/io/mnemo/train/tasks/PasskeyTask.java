package io.mnemo.train.tasks;

import java.util.OptionalDouble;
import java.util.SplittableRandom;

/**
 * Passkey retrieval (Mohtashami &amp; Jaggi 2023, "Landmark Attention"), byte-level (vocabulary 256).
 *
 * <p>Each example is exactly {@code seqLen + 1} ASCII bytes:
 * <pre>
 *   filler ... The pass key is 68044. Remember it. 68044 is the pass key. filler ...
 *   What is the pass key? The pass key is 68044
 * </pre>
 * The filler repeats "The grass is green. The sky is blue. ..." and is cut to make the length
 * exact; the pass key line sits at relative depth {@code depth} of the filler (0 = at the start,
 * 1 = just before the question), moved back to a sentence start. Inputs are bytes {@code [0, T)},
 * targets bytes {@code [1, T]}; the mask covers the last {@code digits} targets, the answer. Score it
 * with {@link Task#exampleAccuracy}: an answer is right only if all its digits are.
 *
 * @param seqLen sequence length {@code T} in bytes, at least {@link #minSeqLen(int)}
 * @param depth relative depth of the pass key in [0, 1], or empty for a uniformly random depth per example
 * @param digits number of digits of the pass key, 1..18
 * @param seed seed of the generator
 */
public record PasskeyTask(int seqLen, OptionalDouble depth, int digits, long seed) implements Task {

    /** The question that ends every example; the answer digits follow it. */
    public static final String QUESTION = "\nWhat is the pass key? The pass key is ";

    public PasskeyTask {
        if (depth == null) {
            throw new IllegalArgumentException("depth is missing: use OptionalDouble.empty() for a random depth");
        }
        if (depth.isPresent() && !(depth.getAsDouble() >= 0 && depth.getAsDouble() <= 1)) {
            throw new IllegalArgumentException("depth must be in [0, 1], got " + depth.getAsDouble());
        }
        if (digits < 1 || digits > 18) {
            throw new IllegalArgumentException("digits must be in [1, 18], got " + digits);
        }
        if (seqLen < minSeqLen(digits)) {
            throw new IllegalArgumentException("seqLen=" + seqLen + " is too short for a passkey example with "
                    + digits + " digits: needs seqLen >= " + minSeqLen(digits));
        }
    }

    /** Smallest {@code seqLen} that holds the pass key line, the question and the answer. */
    public static int minSeqLen(int digits) {
        return needle("0".repeat(digits)).length() + QUESTION.length() + digits - 1;
    }

    @Override
    public String name() {
        return "passkey";
    }

    @Override
    public int vocabSize() {
        return 256;
    }

    @Override
    public Batch batch(long index, int batchSize) {
        return Sequence.batch(seed, index, batchSize, 256, rnd -> Haystack.sequence(example(rnd).text(), digits));
    }

    /**
     * The text of one example (row {@code row} of batch {@code index}), with its answer and where the
     * pass key line starts; the text is {@code seqLen + 1} bytes long.
     */
    public Example example(long index, int row) {
        return example(Seeds.forExample(seed, index, row));
    }

    @Override
    public String describe() {
        return String.format("passkey: %d-digit pass key at depth %s in %d bytes of filler text, seed=%d",
                digits, depth.isPresent() ? String.valueOf(depth.getAsDouble()) : "random", seqLen, seed);
    }

    /**
     * One passkey example.
     *
     * @param text the whole example, {@code seqLen + 1} bytes ending with the answer
     * @param answer the pass key digits
     * @param needleOffset byte offset where the pass key line starts
     */
    public record Example(String text, String answer, int needleOffset) {}

    private Example example(SplittableRandom rnd) {
        String key = Haystack.number(rnd, digits);
        double d = depth.isPresent() ? depth.getAsDouble() : rnd.nextDouble();
        String line = needle(key);
        int fillerLength = seqLen + 1 - line.length() - QUESTION.length() - digits;
        String filler = Haystack.repeat(Haystack.REPEAT, fillerLength);
        int split = Haystack.splitAt(filler, d);
        String text = filler.substring(0, split) + line + filler.substring(split) + QUESTION + key;
        return new Example(text, key, split);
    }

    private static String needle(String key) {
        return "The pass key is " + key + ". Remember it. " + key + " is the pass key. ";
    }
}
