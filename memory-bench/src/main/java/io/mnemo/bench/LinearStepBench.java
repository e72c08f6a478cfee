package io.mnemo.bench;

import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.linear.LinearOp;
import io.mnemo.modules.linear.LinearOpConfig;
import io.mnemo.modules.linear.LinearStepper;
import java.util.concurrent.TimeUnit;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
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
 * O(1) generation steps of the {@code cpu} path with {@link LinearStepper}: one token for all
 * B·H = {@value BenchConfig#B}·{@value BenchConfig#H} sequences and heads, state updated in place.
 * {@code stepKernel} is the kernel alone on the stepper's own buffers; {@code stepNdArray} adds the
 * copies from and to INDArrays a caller pays.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector,jdk.incubator.foreign",
    "--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
public class LinearStepBench {
    /** Op name as in flash-linear-attention. */
    @Param({"linear_attn", "simple_gla", "gla", "delta_rule", "gated_delta_rule"})
    public String op;

    private LinearStepper stepper;
    private StepToken tok;
    private INDArray out;

    /** Parity gate (cpu backend and the stepper), then one token of inputs. */
    @Setup(Level.Trial)
    public void setUp() {
        LinearOp o = LinearOp.byName(op);
        Parity.require(o, Backend.CPU);
        Parity.requireStepper(o);
        stepper = new LinearStepper(LinearOpConfig.of(o), BenchConfig.B, BenchConfig.H, BenchConfig.D, BenchConfig.D,
                null);
        tok = StepToken.random(o, 44);
        tok.fill(stepper);
        out = Nd4j.create(DataType.FLOAT, BenchConfig.B, BenchConfig.H, BenchConfig.D);
    }

    /** The kernel on the stepper's buffers (inputs filled once: the cost does not depend on the values). */
    @Benchmark
    public float[] stepKernel() {
        stepper.stepArrays();
        return stepper.outputs();
    }

    /** {@link LinearStepper#step}: INDArray inputs copied in, outputs copied into a preallocated array. */
    @Benchmark
    public INDArray stepNdArray() {
        return stepper.step(tok.q(), tok.k(), tok.v(), tok.g(), tok.gk(), tok.beta(), out);
    }
}
