package io.mnemo.bench.peers;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import io.mnemo.bench.BenchData;
import io.mnemo.bench.Parity;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.linear.LinearForward;
import io.mnemo.modules.linear.LinearGrads;
import io.mnemo.modules.linear.LinearInputs;
import io.mnemo.modules.linear.LinearKernel;
import io.mnemo.modules.linear.LinearOp;
import io.mnemo.modules.linear.LinearOpConfig;
import io.mnemo.modules.linear.LinearOps;
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
 * Whole-sequence forward and forward+backward of a linear-family op, side by side: Mnemo's {@code cpu} and
 * {@code nd4j} backends and the PyTorch peer ({@link TorchLinearOps}, chunked, autograd backward) on the
 * same inputs ({@link BenchData#inputs}, seed 42; upstream gradient seed 43), H={@value #H},
 * Dk=Dv={@value #D}, chunk {@value #CHUNK}.
 *
 * <p>Before anything is timed, the trial set-up checks the implementation against Mnemo's reference:
 * Mnemo backends with {@link Parity#require}; the peer with {@link TorchParity#require} (reference, small
 * shape, every gradient) and {@link TorchParity#requireOnInputs} (these very inputs against the cpu
 * backend: o and the final state for {@code forward}, every gradient too for {@code forwardBackward}).
 * A mismatch throws, and the configuration yields no number.
 *
 * <p>The PyTorch calls run in a sub-manager per call ({@code tempAttachAll} of the inputs), so every
 * intermediate is freed when the call ends; gradients are zeroed after each backward (DJL 0.35.1's
 * gradient collector does not).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class PeerOpBench {
    /** Heads. */
    public static final int H = 4;
    /** Dk = Dv. */
    public static final int D = 64;
    /** Chunk size of the chunked forms (PyTorch and nd4j) and checkpoint interval of the cpu backward. */
    public static final int CHUNK = 64;

    /** Op name as in flash-linear-attention. */
    @Param({"linear_attn", "simple_gla", "gated_delta_rule"})
    public String op;

    /** {@code cpu}, {@code nd4j} (Mnemo's backends) or {@code torch} (the PyTorch peer). */
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

    private LinearOpConfig cfg;
    private LinearKernel kernel;
    private LinearInputs in;
    private INDArray dO;

    private Engine engine;
    private NDManager base;
    private NDArray q;
    private NDArray k;
    private NDArray v;
    private NDArray g;
    private NDArray beta;
    private NDArray dOt;
    private final List<NDArray> leaves = new ArrayList<>();

    /** Thread check, parity gates, inputs. */
    @Setup(Level.Trial)
    public void setUp(BenchmarkParams params) {
        boolean grads = params.getBenchmark().endsWith("forwardBackward");
        boolean torch = impl.equals("torch");
        PeerEnv.require(threads, torch);
        LinearOp o = LinearOp.byName(op);
        cfg = LinearOpConfig.of(o).withChunkSize(CHUNK);
        in = BenchData.inputs(o, b, t, H, D, D, false, 42);
        dO = BenchData.randn(43, b, t, H, D);
        if (!torch) {
            Backend backend = Backend.parse(impl);
            Parity.require(o, backend);
            cfg = cfg.withBackend(backend);
            kernel = LinearOps.kernel(backend);
            return;
        }
        TorchParity.require(o);
        Parity.require(o, Backend.CPU);
        TorchParity.requireOnInputs(o, in, dO, CHUNK, grads);
        engine = Torch.engine();
        base = engine.newBaseManager();
        q = Torch.of(base, in.q());
        k = Torch.of(base, in.k());
        v = Torch.of(base, in.v());
        g = Torch.of(base, in.g());
        beta = Torch.of(base, in.beta());
        dOt = Torch.of(base, dO);
        for (NDArray x : new NDArray[] {q, k, v, g, beta}) {
            if (x != null) {
                leaves.add(x);
                x.setRequiresGradient(grads);
            }
        }
    }

    /** Frees the PyTorch arrays. */
    @TearDown(Level.Trial)
    public void tearDown() {
        if (base != null) {
            base.close();
        }
    }

    /** Inference forward: o and the final state. */
    @Benchmark
    public Object forward(Blackhole bh) {
        if (kernel != null) {
            LinearForward f = kernel.forward(cfg, in.validate(cfg.op(), false), in, false);
            return f.o();
        }
        try (NDManager sub = base.newSubManager()) {
            sub.tempAttachAll(leaves.toArray(new NDArray[0]));
            NDList out = TorchLinearOps.forward(cfg.op(), q, k, v, g, beta, null, cfg.scaleFor(D), CHUNK);
            bh.consume(out.get(0));
            bh.consume(out.get(1));
        }
        return null;
    }

    /** Training step of the op: forward, then the gradients of every input for the upstream gradient dO. */
    @Benchmark
    public Object forwardBackward(Blackhole bh) {
        if (kernel != null) {
            LinearForward f = kernel.forward(cfg, in.validate(cfg.op(), false), in, true);
            LinearGrads gr = LinearOps.backward(f, dO, null);
            return gr;
        }
        try (NDManager sub = base.newSubManager()) {
            sub.tempAttachAll(leaves.toArray(new NDArray[0]));
            sub.tempAttachAll(dOt);
            try (GradientCollector gc = engine.newGradientCollector()) {
                NDList out = TorchLinearOps.forward(cfg.op(), q, k, v, g, beta, null, cfg.scaleFor(D), CHUNK);
                gc.backward(out.get(0).mul(dOt).sum());
            }
            for (NDArray x : leaves) {
                NDArray gr = Objects.requireNonNull(x.getGradient());
                bh.consume(gr);
                // zero for the next call: the 0.35.1 collector accumulates into .grad
                gr.subi(gr);
            }
        }
        return null;
    }
}
