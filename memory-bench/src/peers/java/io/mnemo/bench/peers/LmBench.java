package io.mnemo.bench.peers;

import io.mnemo.bench.Parity;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.linear.LinearOp;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Model level: one training step and one inference pass (prefill) of a 2-layer width-128 byte-level
 * language model ({@link PeerModels}) over B×T random bytes (seeded; speed does not depend on the bytes).
 * Tokens/s = B·T / time. Mnemo's models first pass the parity gate of their op's cpu kernel
 * ({@link Parity#require}); every model must produce a finite loss.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class LmBench {
    /** {@code mnemo:PRESET}, {@code dl4j:lstm} or {@code dl4j:attention}. */
    @Param({"mnemo:gdn-small", "mnemo:lmm-small", "mnemo:mamba-small", "dl4j:lstm", "dl4j:attention"})
    public String model;

    /** Sequence length. */
    @Param({"512", "2048", "8192"})
    public int t;

    /** Batch. */
    @Param({"1"})
    public int b;

    /** Threads of this JVM (a label checked by {@link PeerEnv#require}). */
    @Param({"1"})
    public int threads;

    private PeerModels.Lm lm;
    private INDArray x;
    private INDArray y;

    /** Thread check, parity gate, model and data. */
    @Setup(Level.Trial)
    public void setUp() {
        PeerEnv.require(threads, false);
        if (model.startsWith("mnemo:")) {
            // every linear op a Mnemo preset may use must pass its cpu parity gate
            for (LinearOp op : LinearOp.values()) {
                Parity.require(op, Backend.CPU);
            }
        }
        lm = PeerModels.create(model);
        Random r = new Random(11);
        float[] seq = new float[b * (t + 1)];
        for (int i = 0; i < seq.length; i++) {
            seq[i] = r.nextInt(PeerModels.VOCAB);
        }
        INDArray all = Nd4j.createFromArray(seq).reshape(b, t + 1).castTo(DataType.INT32);
        x = all.get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
                org.nd4j.linalg.indexing.NDArrayIndex.interval(0, t)).dup('c');
        y = all.get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
                org.nd4j.linalg.indexing.NDArrayIndex.interval(1, t + 1)).dup('c');
    }

    /** Forward, loss, backward and optimizer update over B×T tokens. */
    @Benchmark
    public PeerModels.Lm train() {
        lm.train(x, y);
        return lm;
    }

    /** Forward over B×T tokens, no gradients. */
    @Benchmark
    public INDArray infer() {
        return lm.infer(x);
    }
}
