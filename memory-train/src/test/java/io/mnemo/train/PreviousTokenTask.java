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
        SplittableRandom r = new SplittableRandom(io.mnemo.train.tasks.Seeds.mix(17, index));
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
