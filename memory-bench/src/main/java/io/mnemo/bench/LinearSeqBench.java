package io.mnemo.bench;

import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.linear.LinearForward;
import io.mnemo.modules.linear.LinearGrads;
import io.mnemo.modules.linear.LinearInputs;
import io.mnemo.modules.linear.LinearKernel;
import io.mnemo.modules.linear.LinearOp;
import io.mnemo.modules.linear.LinearOpConfig;
import io.mnemo.modules.linear.LinearOps;
import java.util.concurrent.TimeUnit;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Whole-sequence forward and forward+backward of the linear-family ops through {@link LinearOps}, at
 * B={@value BenchConfig#B}, H={@value BenchConfig#H}, Dk=Dv={@value BenchConfig#D}: what a training
 * step or a prefill pays, including the library's copies in and out of the kernels.
 *
 * <p>The forward goes to the backend's {@link LinearKernel} after the same validation
 * {@link LinearOps#forward} does (without its once-per-JVM OpenBLAS diagnostic); the public entry point
 * is timed by {@link LinearOpsStepBench}.
 *
 * <p>The trial set-up refuses to run (throws) when the backend fails {@link Parity#require}; a backend
 * that is not implemented throws its own exception there, which the runner reports as unavailable.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector,jdk.incubator.foreign",
    "--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
public class LinearSeqBench {
    /** Op name as in flash-linear-attention. */
    @Param({"linear_attn", "simple_gla", "gla", "delta_rule", "gated_delta_rule"})
    public String op;

    /** Backend name: cpu or nd4j (reference works too, slowly). */
    @Param({"cpu", "nd4j"})
    public String backend;

    /** Sequence length. */
    @Param({"256", "1024", "4096", "16384"})
    public int t;

    private LinearOpConfig cfg;
    private LinearKernel kernel;
    private LinearInputs in;
    private INDArray dO;

    /** Parity gate, then the inputs, created once per trial. */
    @Setup(Level.Trial)
    public void setUp() {
        LinearOp o = LinearOp.byName(op);
        Backend b = Backend.parse(backend);
        Parity.require(o, b);
        cfg = LinearOpConfig.of(o).withBackend(b);
        kernel = LinearOps.kernel(b);
        in = BenchData.inputs(o, BenchConfig.B, t, BenchConfig.H, BenchConfig.D, BenchConfig.D, false, 42);
        dO = BenchData.randn(43, BenchConfig.B, t, BenchConfig.H, BenchConfig.D);
    }

    /** Inference forward: outputs and final state, nothing saved. */
    @Benchmark
    public LinearForward forward() {
        return kernel.forward(cfg, in.validate(cfg.op(), false), in, false);
    }

    /** Training step of the op: forward saving what backward needs, then all input gradients. */
    @Benchmark
    public LinearGrads forwardBackward() {
        LinearForward f = kernel.forward(cfg, in.validate(cfg.op(), false), in, true);
        return LinearOps.backward(f, dO, null);
    }
}
