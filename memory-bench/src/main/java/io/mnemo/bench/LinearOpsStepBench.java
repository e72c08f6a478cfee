package io.mnemo.bench;

import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.linear.LinearForward;
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
 * One token through the general entry point {@link LinearOps#step} (a forward pass with T = 1 that
 * returns a new state): the per-call overhead that {@link io.mnemo.modules.linear.LinearStepper}
 * avoids, and the only step the {@code nd4j} backend has.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector,jdk.incubator.foreign",
    "--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
public class LinearOpsStepBench {
    /** Op name as in flash-linear-attention. */
    @Param({"linear_attn", "simple_gla", "gla", "delta_rule", "gated_delta_rule"})
    public String op;

    /** Backend name: cpu or nd4j. */
    @Param({"cpu", "nd4j"})
    public String backend;

    private LinearOpConfig cfg;
    private StepToken tok;
    private INDArray state;

    /** Parity gate, then one token and a random state. */
    @Setup(Level.Trial)
    public void setUp() {
        LinearOp o = LinearOp.byName(op);
        Backend b = Backend.parse(backend);
        Parity.require(o, b);
        cfg = LinearOpConfig.of(o).withBackend(b);
        tok = StepToken.random(o, 45);
        state = BenchData.randn(46, BenchConfig.B, BenchConfig.H, BenchConfig.D, BenchConfig.D);
    }

    /** One token from a fixed state (the cost does not depend on which state). */
    @Benchmark
    public LinearForward step() {
        return LinearOps.step(cfg, tok.q(), tok.k(), tok.v(), tok.g(), tok.gk(), tok.beta(), state);
    }
}
