package io.mnemo.train.data;

import io.mnemo.train.tasks.Seeds;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;

/**
 * An immutable list of named documents with byte-level tokens (vocabulary 256).
 *
 * <ul>
 *   <li>{@link #split} divides it by document into train, validation and test parts,
 *       deterministically from a seed and the document names;</li>
 *   <li>{@link #windows} samples contiguous windows for language-model training as a
 *       deterministic {@link io.mnemo.train.tasks.Task};</li>
 *   <li>{@link #segments} walks one whole document in consecutive segments, for long-context
 *       evaluation with the state carried from segment to segment.</li>
 * </ul>
 */
public final class TextCorpus {

    private final List<Document> documents;

    /**
     * @param documents the documents; names must be unique
     */
    public TextCorpus(List<Document> documents) {
        Set<String> seen = new HashSet<>();
        for (Document d : documents) {
            if (!seen.add(d.name())) {
                throw new IllegalArgumentException("duplicate document name '" + d.name() + "'");
            }
        }
        this.documents = List.copyOf(documents);
    }

    /** The documents in their original order. */
    public List<Document> documents() {
        return documents;
    }

    /** Number of documents. */
    public int size() {
        return documents.size();
    }

    /** Total length in bytes (= tokens). */
    public long totalBytes() {
        long n = 0;
        for (Document d : documents) {
            n += d.length();
        }
        return n;
    }

    /** The document with this name, if any. */
    public Optional<Document> document(String name) {
        return documents.stream().filter(d -> d.name().equals(name)).findFirst();
    }

    /** The documents whose names pass {@code keep}, e.g. {@code n -> n.startsWith("austen/")}. */
    public TextCorpus filter(Predicate<String> keep) {
        return new TextCorpus(documents.stream().filter(d -> keep.test(d.name())).toList());
    }

    /**
     * A document-level split.
     *
     * @param train documents to train on
     * @param validation documents for model selection
     * @param test documents for the final numbers
     */
    public record Split(TextCorpus train, TextCorpus validation, TextCorpus test) {}

    /**
     * Splits by document: documents are ordered by a seeded hash of their names, the first
     * {@code round(n * testFraction)} go to test, the next {@code round(n * validFraction)} to
     * validation and the rest to train (each part keeps the corpus order). A non-zero fraction gets
     * at least one document. The result depends only on the seed and the set of names, not on the
     * order the documents were loaded in, and no document is ever in two parts.
     *
     * @param validFraction fraction of documents for validation, in [0, 1)
     * @param testFraction fraction of documents for test, in [0, 1)
     * @param seed seed of the hash
     * @throws IllegalArgumentException if the fractions are out of range or leave no training document
     */
    public Split split(double validFraction, double testFraction, long seed) {
        if (!(validFraction >= 0 && validFraction < 1)) {
            throw new IllegalArgumentException("validFraction must be in [0, 1), got " + validFraction);
        }
        if (!(testFraction >= 0 && testFraction < 1)) {
            throw new IllegalArgumentException("testFraction must be in [0, 1), got " + testFraction);
        }
        int n = documents.size();
        int nTest = count(n, testFraction);
        int nValid = count(n, validFraction);
        if (n - nTest - nValid < 1) {
            throw new IllegalArgumentException("a split with validFraction=" + validFraction + " and testFraction="
                    + testFraction + " leaves no training document out of " + n);
        }
        List<Document> order = new ArrayList<>(documents);
        order.sort(Comparator.comparingLong((Document d) -> hash(seed, d.name())).thenComparing(Document::name));
        Set<String> test = new HashSet<>();
        Set<String> valid = new HashSet<>();
        for (int i = 0; i < nTest + nValid; i++) {
            (i < nTest ? test : valid).add(order.get(i).name());
        }
        return new Split(filter(name -> !test.contains(name) && !valid.contains(name)), filter(valid::contains),
                filter(test::contains));
    }

    /**
     * Random windows of {@code seqLen + 1} consecutive bytes from single documents, as a task:
     * inputs are the first {@code seqLen} bytes, targets the last {@code seqLen}, mask all ones. Every
     * window start in every document long enough is equally likely, so documents are sampled in
     * proportion to their length; documents shorter than {@code seqLen + 1} bytes are skipped.
     *
     * @param seqLen window length {@code T >= 1}
     * @param seed seed of the sampler
     * @throws IllegalArgumentException if no document has {@code seqLen + 1} bytes
     */
    public CorpusWindows windows(int seqLen, long seed) {
        return new CorpusWindows(this, seqLen, seed);
    }

    /**
     * Number of segments of length up to {@code segLen} that cover the next-byte predictions of a
     * document ({@code length - 1} of them).
     */
    public static int segmentCount(Document doc, int segLen) {
        requireSegLen(segLen);
        long predictions = Math.max(0, doc.length() - 1);
        return (int) ((predictions + segLen - 1) / segLen);
    }

    /**
     * Segment {@code i} of a document: inputs are bytes {@code [i*L, i*L + n)}, targets bytes
     * {@code [i*L + 1, i*L + n + 1)} with {@code n = min(L, length - 1 - i*L)}; mask all ones. Only the
     * last segment can be shorter than {@code L}. Feeding segments 0, 1, ... in order with the
     * model state carried across gives the loss of every byte given everything before it.
     *
     * @param doc the document
     * @param segLen segment length {@code L >= 1}
     * @param i segment index in {@code [0, segmentCount)}
     * @return the segment, its batch {@code [1, n]}
     */
    public static Segment segment(Document doc, int segLen, int i) {
        int count = segmentCount(doc, segLen);
        if (i < 0 || i >= count) {
            throw new IllegalArgumentException("segment index " + i + " is outside [0, " + count + ") for "
                    + doc + " with segLen=" + segLen);
        }
        int start = i * segLen;
        int n = Math.min(segLen, doc.length() - 1 - start);
        return new Segment(i, start, CorpusWindows.window(doc.bytes(), start, n, 1));
    }

    /** All segments of a document in order, built lazily (see {@link #segment}). */
    public static Iterable<Segment> segments(Document doc, int segLen) {
        int count = segmentCount(doc, segLen);
        return () -> new java.util.Iterator<>() {
            private int next;

            @Override
            public boolean hasNext() {
                return next < count;
            }

            @Override
            public Segment next() {
                if (next >= count) {
                    throw new java.util.NoSuchElementException("all " + count + " segments returned");
                }
                return segment(doc, segLen, next++);
            }
        };
    }

    /**
     * One segment of a document.
     *
     * @param index segment number, from 0
     * @param start byte offset of its first input in the document (the position of its first
     *     target is {@code start + 1})
     * @param batch {@code [1, n]} inputs, targets and all-ones mask
     */
    public record Segment(int index, int start, io.mnemo.train.tasks.Batch batch) {}

    @Override
    public String toString() {
        return "TextCorpus[" + documents.size() + " documents, " + totalBytes() + " bytes]";
    }

    private static int count(int n, double fraction) {
        return fraction == 0 ? 0 : Math.max(1, (int) Math.round(n * fraction));
    }

    private static long hash(long seed, String name) {
        // FNV-1a over the UTF-8 name, then mixed with the seed: stable across JVMs, unlike String.hashCode's spread
        long h = 0xcbf29ce484222325L;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xFF)) * 0x100000001b3L;
        }
        return Seeds.mix(seed, h);
    }

    private static void requireSegLen(int segLen) {
        if (segLen < 1) {
            throw new IllegalArgumentException("segLen must be >= 1, got " + segLen);
        }
    }
}
