package io.mnemo.bench.peers;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import io.mnemo.bench.SelectiveScanBench;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.mamba.SelectiveScan;
import io.mnemo.modules.mamba.SelectiveScanConfig;
import io.mnemo.modules.mamba.SelectiveScanForward;
import io.mnemo.modules.mamba.SelectiveScanInputs;
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
 * The Mamba-1 selective scan side by side: Mnemo's {@code cpu} and {@code nd4j} backends
 * ({@link SelectiveScan}) and the PyTorch peer ({@link TorchSelectiveScan}: mamba_ssm's
 * {@code selective_scan_ref}, autograd backward) on the same inputs, as the Mamba block produces them
 * ({@link SelectiveScanBench#inputs}: D_inner = {@value SelectiveScanBench#D}, N = {@value SelectiveScanBench#N},
 * input-dependent B and C, D skip, z gate, delta_bias, softplus; seed 42; upstream gradient seed 43).
 *
 * <p>Gates before timing: Mnemo backends with {@link SelectiveScanBench#requireParity}; the peer with
 * {@link TorchMemoryParity#requireScan} (reference, every gradient) and
 * {@link TorchMemoryParity#requireScanOnInputs} (these inputs against the cpu backend; every gradient for
 * {@code forwardBackward}). PyTorch calls run in a per-call sub-manager; gradients are zeroed after each
 * backward.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class PeerScanBench {
    /** Op name in the report. */
    public static final String OP = "selective_scan";
    /** Chunk of the nd4j form and checkpoint interval of the cpu backward (as SelectiveScanBench). */
    public static final int CHUNK = 32;

    /** {@code cpu}, {@code nd4j} or {@code torch}. */
    @Param({"cpu", "nd4j", "torch"})
    public String impl;

    /** Batch. */
    @Param({"1", "4"})
    public int b;

    /** Sequence length L. */
    @Param({"1024", "4096", "16384"})
    public int t;

    /** Threads of this JVM (a label checked by {@link PeerEnv#require}). */
    @Param({"1"})
    public int threads;

    private SelectiveScanConfig cfg;
    private SelectiveScanInputs in;
    private INDArray dOut;

    private Engine engine;
    private NDManager base;
    private NDArray[] x;
    private NDArray dOutT;
    private final List<NDArray> leaves = new ArrayList<>();

    /** Thread check, parity gates, inputs. */
    @Setup(Level.Trial)
    public void setUp(BenchmarkParams params) {
        boolean grads = params.getBenchmark().endsWith("forwardBackward");
        boolean torch = impl.equals("torch");
        PeerEnv.require(threads, torch);
        in = SelectiveScanBench.inputs(b, SelectiveScanBench.D, t, SelectiveScanBench.N, false, 42);
        dOut = SelectiveScanBench.randn(43, b, SelectiveScanBench.D, t);
        if (!torch) {
            Backend backend = Backend.parse(impl);
            SelectiveScanBench.requireParity(backend);
            cfg = TorchMemoryParity.scanConfig(backend).withChunkSize(CHUNK);
            return;
        }
        TorchMemoryParity.requireScan();
        SelectiveScanBench.requireParity(Backend.CPU);
        TorchMemoryParity.requireScanOnInputs(in, dOut, grads);
        engine = Torch.engine();
        base = engine.newBaseManager();
        x = new NDArray[] {Torch.of(base, in.u()), Torch.of(base, in.delta()), Torch.of(base, in.a()),
            Torch.of(base, in.b()), Torch.of(base, in.c()), Torch.of(base, in.d()), Torch.of(base, in.z()),
            Torch.of(base, in.deltaBias())};
        dOutT = Torch.of(base, dOut);
        for (NDArray a : x) {
            leaves.add(a);
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

    /** Inference forward: out and the last state. */
    @Benchmark
    public Object forward(Blackhole bh) {
        if (base == null) {
            return SelectiveScan.forward(cfg, in, false);
        }
        try (NDManager sub = base.newSubManager()) {
            sub.tempAttachAll(x);
            NDList r = run();
            bh.consume(r.get(0));
            bh.consume(r.get(1));
        }
        return null;
    }

    /** Training step of the op: forward, then the gradients of every input for the upstream gradient dOut. */
    @Benchmark
    public Object forwardBackward(Blackhole bh) {
        if (base == null) {
            SelectiveScanForward f = SelectiveScan.forward(cfg, in, true);
            return SelectiveScan.backward(f, dOut, null);
        }
        try (NDManager sub = base.newSubManager()) {
            sub.tempAttachAll(x);
            sub.tempAttachAll(dOutT);
            try (GradientCollector gc = engine.newGradientCollector()) {
                gc.backward(run().get(0).mul(dOutT).sum());
            }
            for (NDArray a : leaves) {
                NDArray gr = Objects.requireNonNull(a.getGradient());
                bh.consume(gr);
                gr.subi(gr); // the 0.35.1 collector accumulates into .grad
            }
        }
        return null;
    }

    private NDList run() {
        return TorchSelectiveScan.forward(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], null, true);
    }
}
