package io.mnemo.train.tasks;

import java.util.OptionalDouble;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;

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
 * <p>{@code contextWeight} (default 0) adds a language-model loss on every other byte, with that weight,
 * to the batches the trainer fits ({@link #trainingBatch}); the answer keeps weight 1 and the score
 * ({@link #batch}) still counts only the answer. Small recurrent models barely learn the task from the
 * five answer bytes alone (Gated DeltaNet at d = 64 stayed at chance after 600 steps at T = 128); the
 * loss on the rest (the needle line repeats its key, and the filler repeats) teaches them to copy.
 *
 * @param seqLen sequence length {@code T} in bytes, at least {@link #minSeqLen(int)}
 * @param depth relative depth of the pass key in [0, 1], or empty for a uniformly random depth per example
 * @param digits number of digits of the pass key, 1..18
 * @param contextWeight loss weight of the non-answer bytes in training batches, in [0, 1]
 * @param seed seed of the generator
 */
public record PasskeyTask(int seqLen, OptionalDouble depth, int digits, double contextWeight, long seed)
        implements Task {

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
        if (!(contextWeight >= 0 && contextWeight <= 1)) {
            throw new IllegalArgumentException("contextWeight must be in [0, 1], got " + contextWeight);
        }
        if (seqLen < minSeqLen(digits)) {
            throw new IllegalArgumentException("seqLen=" + seqLen + " is too short for a passkey example with "
                    + digits + " digits: needs seqLen >= " + minSeqLen(digits));
        }
    }

    /** The task scored and trained on the answer only ({@code contextWeight} 0). */
    public PasskeyTask(int seqLen, OptionalDouble depth, int digits, long seed) {
        this(seqLen, depth, digits, 0, seed);
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

    /** {@link #batch} with every non-answer position weighted {@code contextWeight}. */
    @Override
    public Batch trainingBatch(long index, int batchSize) {
        Batch b = batch(index, batchSize);
        if (contextWeight == 0) {
            return b;
        }
        INDArray w = b.mask().dup();
        w.muli(1 - contextWeight).addi(contextWeight);
        return new Batch(b.inputs(), b.targets(), w);
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
        return String.format("passkey: %d-digit pass key at depth %s in %d bytes of filler text, seed=%d%s",
                digits, depth.isPresent() ? String.valueOf(depth.getAsDouble()) : "random", seqLen, seed,
                contextWeight == 0 ? "" : ", training loss weight " + contextWeight + " on the non-answer bytes");
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
