package io.mnemo.train.tasks;

import java.util.Locale;
import java.util.OptionalDouble;
import java.util.SplittableRandom;

/**
 * Single needle in a haystack, in the style of RULER's S-NIAH (Hsieh et al. 2024), byte-level
 * (vocabulary 256).
 *
 * <p>Each example is exactly {@code seqLen + 1} ASCII bytes: a haystack with one needle
 * <pre>
 *   One of the special magic numbers for rusty-lantern is: 4817302.
 * </pre>
 * at relative depth {@code depth}, then the question
 * <pre>
 *   What is the special magic number for rusty-lantern mentioned in the provided text?
 *   The special magic number for rusty-lantern mentioned in the provided text is 4817302
 * </pre>
 * The key is a random adjective-noun pair, the number has {@code digits} digits. The haystack is
 * either {@link Haystack#REPEAT} repeated ({@code REPEAT}, RULER's "repeat" noise) or random plain
 * sentences built from a small word list ({@code NOISE}, standing in for RULER's essays, which need a
 * download). The mask covers the answer digits; score with {@link Task#exampleAccuracy}.
 *
 * @param seqLen sequence length {@code T} in bytes, at least {@link #minSeqLen(int)}
 * @param depth relative depth of the needle in [0, 1], or empty for a random depth per example
 * @param digits digits of the magic number, 1..18 (RULER uses 7)
 * @param haystack kind of haystack text
 * @param seed seed of the generator
 */
public record NeedleTask(int seqLen, OptionalDouble depth, int digits, HaystackKind haystack, long seed)
        implements Task {

    /** What the haystack is made of. */
    public enum HaystackKind {
        /** The same five filler sentences repeated. */
        REPEAT,
        /** Random sentences from a word list, different in every example. */
        NOISE
    }

    /** Longest key the word lists produce, used to bound the example length. */
    private static final int MAX_KEY = 20;

    public NeedleTask {
        if (depth == null) {
            throw new IllegalArgumentException("depth is missing: use OptionalDouble.empty() for a random depth");
        }
        if (depth.isPresent() && !(depth.getAsDouble() >= 0 && depth.getAsDouble() <= 1)) {
            throw new IllegalArgumentException("depth must be in [0, 1], got " + depth.getAsDouble());
        }
        if (digits < 1 || digits > 18) {
            throw new IllegalArgumentException("digits must be in [1, 18], got " + digits);
        }
        if (haystack == null) {
            throw new IllegalArgumentException("haystack is missing, expected one of REPEAT, NOISE");
        }
        if (seqLen < minSeqLen(digits)) {
            throw new IllegalArgumentException("seqLen=" + seqLen + " is too short for a needle example with "
                    + digits + " digits: needs seqLen >= " + minSeqLen(digits));
        }
    }

    /** Smallest {@code seqLen} that holds the needle, the question and the answer for any key. */
    public static int minSeqLen(int digits) {
        String key = "x".repeat(MAX_KEY);
        String digitsText = "0".repeat(digits);
        return needle(key, digitsText).length() + question(key).length() + digits - 1;
    }

    @Override
    public String name() {
        return "niah";
    }

    @Override
    public int vocabSize() {
        return 256;
    }

    @Override
    public Batch batch(long index, int batchSize) {
        return Sequence.batch(seed, index, batchSize, 256, rnd -> Haystack.sequence(example(rnd).text(), digits));
    }

    /** The text of row {@code row} of batch {@code index}, with its key, answer and needle offset. */
    public Example example(long index, int row) {
        return example(Seeds.forExample(seed, index, row));
    }

    @Override
    public String describe() {
        return String.format("niah: one %d-digit magic number at depth %s in %d bytes of %s haystack, seed=%d",
                digits, depth.isPresent() ? String.valueOf(depth.getAsDouble()) : "random", seqLen,
                haystack.name().toLowerCase(Locale.ROOT), seed);
    }

    /**
     * One needle example.
     *
     * @param text the whole example, {@code seqLen + 1} bytes ending with the answer
     * @param key the needle's key, e.g. {@code "rusty-lantern"}
     * @param answer the magic number's digits
     * @param needleOffset byte offset where the needle sentence starts
     */
    public record Example(String text, String key, String answer, int needleOffset) {}

    private Example example(SplittableRandom rnd) {
        String key = Haystack.key(rnd);
        String value = Haystack.number(rnd, digits);
        double d = depth.isPresent() ? depth.getAsDouble() : rnd.nextDouble();
        String line = needle(key, value);
        String q = question(key);
        int fillerLength = seqLen + 1 - line.length() - q.length() - digits;
        String filler = haystack == HaystackKind.REPEAT
                ? Haystack.repeat(Haystack.REPEAT, fillerLength)
                : Haystack.noise(rnd, fillerLength).substring(0, fillerLength);
        int split = Haystack.splitAt(filler, d);
        String text = filler.substring(0, split) + line + filler.substring(split) + q + value;
        return new Example(text, key, value, split);
    }

    private static String needle(String key, String value) {
        return "One of the special magic numbers for " + key + " is: " + value + ". ";
    }

    private static String question(String key) {
        return "\nWhat is the special magic number for " + key
                + " mentioned in the provided text? The special magic number for " + key
                + " mentioned in the provided text is ";
    }
}
