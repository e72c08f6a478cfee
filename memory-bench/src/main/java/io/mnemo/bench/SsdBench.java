package io.mnemo.bench;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.OpenBlasCheck;
import io.mnemo.core.kernel.Backend;
import io.mnemo.core.kernel.VectorSupport;
import io.mnemo.modules.mamba.Ssd;
import java.util.Locale;
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
 * Mamba-2's SSD core ({@link Ssd}, the semantics of mamba_ssm's {@code ssd_minimal_discrete}) at B = 1,
 * H = {@value #H} heads of dimension P = {@value #P}, state N = {@value #N}, one B/C group:
 * forward, forward+backward over {@code t} tokens with block length {@value #BLOCK}, and one token step.
 *
 * <p>X and A are given already multiplied by Δ (A a log decay in [−0.1, −0.001]), as the reference takes
 * them. The trial set-up prints its configuration and throws unless the backend matches the double
 * reference within {@value #TOLERANCE} on Y, the final state and every gradient of a small problem.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector,jdk.incubator.foreign",
    "--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
public class SsdBench {
    static final int H = 4;
    static final int P = 64;
    static final int N = 64;
    static final int BLOCK = 64;
    static final double TOLERANCE = 1e-4;

    /** Backend name: cpu or nd4j (reference works too, slowly). */
    @Param({"cpu", "nd4j"})
    public String backend;

    /** Sequence length. */
    @Param({"1024", "4096", "16384"})
    public int t;

    private Backend be;
    private INDArray[] in;
    private INDArray dY;
    private INDArray[] tok;
    private INDArray state;

    /** Parity gate, configuration print-out, then the inputs, created once per trial. */
    @Setup(Level.Trial)
    public void setUp() {
        be = Backend.parse(backend);
        requireParity(be);
        in = inputs(1, t, H, P, 1, N, 42);
        dY = randn(50, 1, t, H, P);
        INDArray[] one = inputs(1, 1, H, P, 1, N, 60);
        tok = new INDArray[] {one[0].reshape(1, H, P), one[1].reshape(1, H), one[2].reshape(1, 1, N),
            one[3].reshape(1, 1, N)};
        state = randn(61, 1, H, P, N);
        System.out.printf(Locale.ROOT, "ssd: backend %s, B=1 H=%d P=%d N=%d L=%d block %d, simd %s, %s%n",
                be.resolve().name().toLowerCase(Locale.ROOT), H, P, N, t, BLOCK, VectorSupport.simd(),
                OpenBlasCheck.inspect().advice());
    }

    /** Inference forward: Y and the final state, nothing saved. */
    @Benchmark
    public Ssd.Result forward() {
        return Ssd.forward(in[0], in[1], in[2], in[3], BLOCK, null, be, false);
    }

    /** Training step of the op: forward saving what backward needs, then all input gradients. */
    @Benchmark
    public Ssd.Grads forwardBackward() {
        return Ssd.backward(Ssd.forward(in[0], in[1], in[2], in[3], BLOCK, null, be, true), dY, null);
    }

    /** One token of generation from a carried state; t does not matter here. */
    @Benchmark
    public Ssd.Result step() {
        return Ssd.step(tok[0], tok[1], tok[2], tok[3], state, be);
    }

    static INDArray randn(long seed, long... shape) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.randn(DataType.DOUBLE, shape).castTo(DataType.FLOAT);
    }

    /** X [B, L, H, P], A [B, L, H] in [−0.1, −0.001], B and C [B, L, G, N] scaled by 1/√N. */
    static INDArray[] inputs(int b, int l, int h, int p, int g, int n, long seed) {
        Nd4j.getRandom().setSeed(seed + 1);
        INDArray a = Nd4j.rand(DataType.DOUBLE, b, l, h).muli(-0.099).subi(0.001).castTo(DataType.FLOAT);
        double s = 1 / Math.sqrt(n);
        return new INDArray[] {randn(seed, b, l, h, p), a, randn(seed + 2, b, l, g, n).muli(s),
            randn(seed + 3, b, l, g, n).muli(s)};
    }

    /** Throws unless {@code backend} matches the reference on a small problem, outputs and all gradients. */
    static void requireParity(Backend backend) {
        INDArray[] s = inputs(2, 37, 4, 8, 2, 6, 7);
        INDArray init = randn(8, 2, 4, 8, 6);
        INDArray dYs = randn(9, 2, 37, 4, 8);
        INDArray dFin = randn(10, 2, 4, 8, 6);
        Ssd.Result ref = Ssd.forward(s[0], s[1], s[2], s[3], 16, init, Backend.REFERENCE, true);
        Ssd.Result got = Ssd.forward(s[0], s[1], s[2], s[3], 16, init, backend, true);
        Ssd.Grads gr = Ssd.backward(ref, dYs, dFin);
        Ssd.Grads gg = Ssd.backward(got, dYs, dFin);
        INDArray[][] pairs = {{got.y(), ref.y()}, {got.finalState(), ref.finalState()}, {gg.dX(), gr.dX()},
            {gg.dA(), gr.dA()}, {gg.dB(), gr.dB()}, {gg.dC(), gr.dC()}, {gg.dInitialState(), gr.dInitialState()}};
        String[] names = {"Y", "final_state", "dX", "dA", "dB", "dC", "dinitial_states"};
        for (int i = 0; i < pairs.length; i++) {
            double err = relativeError(pairs[i][0], pairs[i][1]);
            if (!(err <= TOLERANCE)) {
                throw new IllegalStateException("ssd backend " + backend.name().toLowerCase(Locale.ROOT)
                        + " fails parity: " + names[i] + " relative error " + err + " > " + TOLERANCE);
            }
        }
    }

    /** max |a − e| / max(|e|, 1e-6). */
    static double relativeError(INDArray got, INDArray expected) {
        double[] a = NdBuffers.toDoubles(got);
        double[] e = NdBuffers.toDoubles(expected);
        double diff = 0;
        double scale = 1e-6;
        for (int k = 0; k < a.length; k++) {
            diff = Math.max(diff, Math.abs(a[k] - e[k]));
            scale = Math.max(scale, Math.abs(e[k]));
        }
        return diff / scale;
    }
}
