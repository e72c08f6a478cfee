package io.mnemo.bench.peers;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import io.mnemo.bench.SelectiveScanBench;
import io.mnemo.bench.TitansBench;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.titans.TitansForward;
import io.mnemo.modules.titans.TitansInputs;
import io.mnemo.modules.titans.TitansOpConfig;
import io.mnemo.modules.titans.TitansOps;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The Titans memory of depth 2 side by side: Mnemo's {@code cpu} and {@code nd4j} backends ({@link TitansOps}
 * with {@code Backend.CPU} / {@code Backend.ND4J}) and the PyTorch peer ({@link TorchTitans}: the chunked form with the inner gradient in tensor ops,
 * autograd for the outer backward) on the same inputs ({@link TitansBench#inputs}: H = {@value TitansBench#H},
 * D = {@value TitansBench#D}, expansion 4, SiLU, momentum, per-token reads, chunk {@value TitansBench#CHUNK},
 * random initial memory; seed 42; upstream gradient seed 43).
 *
 * <p>Gates before timing: the cpu and nd4j backends with {@link TitansBench#requireParity} (outputs, final
 * memory and every gradient against the double reference); the peer with
 * {@link TorchMemoryParity#requireTitans} (reference, every gradient, second-order terms included) and
 * {@link TorchMemoryParity#requireTitansOnInputs} (these inputs against the cpu backend; every gradient for
 * {@code forwardBackward}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class PeerTitansBench {
    /** Op name in the report. */
    public static final String OP = "titans";
    /** Memory expansion E (hidden width E·D). */
    public static final int EXPANSION = 4;

    /** {@code cpu}, {@code nd4j} or {@code torch}. */
    @Param({"cpu", "nd4j", "torch"})
    public String impl;

    /** Batch. */
    @Param({"1", "4"})
    public int b;

    /** Sequence length. */
    @Param({"1024", "4096", "16384"})
    public int t;

    /** Threads of this JVM (a label checked by {@link PeerEnv#require}). */
    @Param({"1"})
    public int threads;

    private TitansOpConfig cfg;
    private TitansInputs in;
    private INDArray dY;

    private Engine engine;
    private NDManager base;
    private NDArray[] x;
    private List<NDArray> mem;
    private NDArray dYt;
    private final List<NDArray> leaves = new ArrayList<>();

    /** The configuration of the benchmark and its gates. */
    public static TitansOpConfig config(Backend backend) {
        return TorchMemoryParity.titansConfig(backend, TitansBench.CHUNK).withExpansion(EXPANSION);
    }

    /** Thread check, parity gates, inputs. */
    @Setup(Level.Trial)
    public void setUp(BenchmarkParams params) {
        boolean grads = params.getBenchmark().endsWith("forwardBackward");
        boolean torch = impl.equals("torch");
        PeerEnv.require(threads, torch);
        TitansOpConfig cpu = config(Backend.CPU);
        in = TitansBench.inputs(cpu, b, t, 42);
        dY = SelectiveScanBench.randn(43, b, t, TitansBench.H, TitansBench.D);
        if (!torch) {
            cfg = config(Backend.parse(impl));
            TitansBench.requireParity(cfg);
            return;
        }
        TorchTitans.requireSupported(cpu);
        TorchMemoryParity.requireTitans();
        TitansBench.requireParity(cpu);
        TorchMemoryParity.requireTitansOnInputs(in, dY, TitansBench.CHUNK, grads);
        engine = Torch.engine();
        base = engine.newBaseManager();
        x = new NDArray[] {Torch.of(base, in.q()), Torch.of(base, in.k()), Torch.of(base, in.v()),
            Torch.of(base, in.theta()), Torch.of(base, in.eta()), Torch.of(base, in.alpha())};
        mem = TorchMemoryParity.torchList(base, in.initialState().memory());
        dYt = Torch.of(base, dY);
        leaves.addAll(List.of(x));
        leaves.addAll(mem);
        for (NDArray a : leaves) {
            a.setRequiresGradient(grads);
        }
    }

    /** Frees the PyTorch arrays. */
    @TearDown(Level.Trial)
    public void tearDown() {
        if (base != null) {
            base.close();
        }
    }

    /** Inference forward: y and the committed memory and momentum. */
    @Benchmark
    public Object forward(Blackhole bh) {
        if (base == null) {
            return TitansOps.forward(cfg, in, false);
        }
        try (NDManager sub = base.newSubManager()) {
            sub.tempAttachAll(leaves.toArray(new NDArray[0]));
            TorchTitans.Result r = run();
            bh.consume(r.y());
            bh.consume(r.memory());
            bh.consume(r.momentum());
        }
        return null;
    }

    /** Training step of the op: forward, then the gradients of every input and the initial memory for dY. */
    @Benchmark
    public Object forwardBackward(Blackhole bh) {
        if (base == null) {
            TitansForward f = TitansOps.forward(cfg, in, true);
            return TitansOps.backward(f, dY, null);
        }
        try (NDManager sub = base.newSubManager()) {
            sub.tempAttachAll(leaves.toArray(new NDArray[0]));
            sub.tempAttachAll(dYt);
            try (GradientCollector gc = engine.newGradientCollector()) {
                gc.backward(run().y().mul(dYt).sum());
            }
            for (NDArray a : leaves) {
                NDArray gr = Objects.requireNonNull(a.getGradient());
                bh.consume(gr);
                gr.subi(gr); // the 0.35.1 collector accumulates into .grad
            }
        }
        return null;
    }

    private TorchTitans.Result run() {
        // zero initial momentum, as TitansBench's initial state
        return TorchTitans.forward(x[0], x[1], x[2], x[3], x[4], x[5], mem, null, TitansBench.CHUNK);
    }
}
