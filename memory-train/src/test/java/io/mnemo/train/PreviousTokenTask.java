package io.mnemo.train;

import io.mnemo.core.NdBuffers;
import io.mnemo.train.tasks.Batch;
import io.mnemo.train.tasks.Task;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;

/** Test task: predict the token seen {@code lag} positions earlier (deterministic per batch index). */
final class PreviousTokenTask implements Task {
    private final int vocab;
    private final int len;
    private final int lag;

    PreviousTokenTask(int vocab, int len, int lag) {
        this.vocab = vocab;
        this.len = len;
        this.lag = lag;
    }

    @Override
    public String name() {
        return "previous-token";
    }

    @Override
    public int vocabSize() {
        return vocab;
    }

    @Override
    public int seqLen() {
        return len;
    }

    @Override
    public Batch batch(long index, int batchSize) {
        // hash the index: SplittableRandom seeded with consecutive multiples of its own gamma yields
        // shifted copies of one stream
        long z = (index + 17) * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        SplittableRandom r = new SplittableRandom(z ^ (z >>> 31));
        double[] in = new double[batchSize * len];
        double[] tg = new double[batchSize * len];
        double[] mk = new double[batchSize * len];
        for (int b = 0; b < batchSize; b++) {
            for (int t = 0; t < len; t++) {
                in[b * len + t] = r.nextInt(vocab);
            }
            for (int t = 0; t < len; t++) {
                // target after input t is the input at t + 1 − lag
                int src = t + 1 - lag;
                if (src >= 0) {
                    tg[b * len + t] = in[b * len + src];
                    mk[b * len + t] = 1;
                }
            }
        }
        return new Batch(NdBuffers.ofDoubles(in, batchSize, len).castTo(DataType.INT32),
                NdBuffers.ofDoubles(tg, batchSize, len).castTo(DataType.INT32),
                NdBuffers.ofDoubles(mk, batchSize, len).castTo(DataType.FLOAT));
    }

    @Override
    public String describe() {
        return "previous token, lag " + lag;
    }
}
