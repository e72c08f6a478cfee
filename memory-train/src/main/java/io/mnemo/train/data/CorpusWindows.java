package io.mnemo.train.data;

import io.mnemo.train.tasks.Batch;
import io.mnemo.train.tasks.Seeds;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Language-model windows sampled from a {@link TextCorpus}, as a deterministic task: batch
 * {@code i} depends only on the corpus, {@code seqLen}, the seed, {@code i} and the batch size.
 * Each row is a window of {@code seqLen + 1} consecutive bytes of one document; inputs
 * {@code [B, T]} are its first {@code T} bytes, targets {@code [B, T]} its last {@code T}, the
 * mask {@code [B, T]} is all ones. Window starts are uniform over all valid starts of all
 * documents with at least {@code T + 1} bytes.
 */
public final class CorpusWindows implements io.mnemo.train.tasks.Task {

    private final List<Document> docs;
    // cumulative number of window starts: starts[d] = sum over documents before d of (length - T)
    private final long[] cumulative;
    private final int seqLen;
    private final long seed;
    private final int corpusSize;

    CorpusWindows(TextCorpus corpus, int seqLen, long seed) {
        if (seqLen < 1) {
            throw new IllegalArgumentException("seqLen must be >= 1, got " + seqLen);
        }
        this.seqLen = seqLen;
        this.seed = seed;
        this.corpusSize = corpus.size();
        List<Document> usable = new ArrayList<>();
        for (Document d : corpus.documents()) {
            if (d.length() > seqLen) {
                usable.add(d);
            }
        }
        if (usable.isEmpty()) {
            throw new IllegalArgumentException("no document of " + corpus + " has seqLen + 1 = " + (seqLen + 1)
                    + " bytes; use a smaller seqLen or a larger corpus");
        }
        this.docs = List.copyOf(usable);
        this.cumulative = new long[docs.size() + 1];
        for (int d = 0; d < docs.size(); d++) {
            cumulative[d + 1] = cumulative[d] + (docs.get(d).length() - seqLen);
        }
    }

    @Override
    public String name() {
        return "text";
    }

    @Override
    public int vocabSize() {
        return ByteTokenizer.VOCAB_SIZE;
    }

    @Override
    public int seqLen() {
        return seqLen;
    }

    /** Number of distinct windows the sampler draws from. */
    public long windowCount() {
        return cumulative[cumulative.length - 1];
    }

    @Override
    public Batch batch(long index, int batchSize) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        }
        int[][] in = new int[batchSize][seqLen];
        int[][] tg = new int[batchSize][seqLen];
        for (int r = 0; r < batchSize; r++) {
            SplittableRandom rnd = Seeds.forExample(seed, index, r);
            long w = rnd.nextLong(windowCount());
            int d = Arrays.binarySearch(cumulative, w);
            // binarySearch gives the document whose range [cumulative[d], cumulative[d+1]) holds w
            // (every usable document has at least one start, so the cumulative counts strictly increase)
            d = d >= 0 ? d : -d - 2;
            byte[] b = docs.get(d).bytes();
            int start = (int) (w - cumulative[d]);
            for (int t = 0; t < seqLen; t++) {
                in[r][t] = b[start + t] & 0xFF;
                tg[r][t] = b[start + t + 1] & 0xFF;
            }
        }
        float[][] mask = new float[batchSize][seqLen];
        for (float[] row : mask) {
            Arrays.fill(row, 1f);
        }
        return new Batch(Nd4j.createFromArray(in), Nd4j.createFromArray(tg), Nd4j.createFromArray(mask));
    }

    @Override
    public String describe() {
        return String.format("text: random %d-byte windows from %d of %d documents (%d windows), seed=%d",
                seqLen, docs.size(), corpusSize, windowCount(), seed);
    }

    /** The {@code [rows, n]} batch of {@code n} next-byte predictions starting at {@code start}. */
    static Batch window(byte[] bytes, int start, int n, int rows) {
        int[][] in = new int[rows][n];
        int[][] tg = new int[rows][n];
        float[][] mask = new float[rows][n];
        for (int r = 0; r < rows; r++) {
            for (int t = 0; t < n; t++) {
                in[r][t] = bytes[start + t] & 0xFF;
                tg[r][t] = bytes[start + t + 1] & 0xFF;
                mask[r][t] = 1f;
            }
        }
        return new Batch(Nd4j.createFromArray(in), Nd4j.createFromArray(tg), Nd4j.createFromArray(mask));
    }
}
