package io.mnemo.bench;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.OpenBlasCheck;
import io.mnemo.core.kernel.Backend;
import io.mnemo.core.kernel.VectorSupport;
import io.mnemo.modules.mamba.SelectiveScan;
import io.mnemo.modules.mamba.SelectiveScanConfig;
import io.mnemo.modules.mamba.SelectiveScanForward;
import io.mnemo.modules.mamba.SelectiveScanGrads;
import io.mnemo.modules.mamba.SelectiveScanInputs;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;
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
 * The Mamba-1 selective scan through {@link SelectiveScan}: forward, forward+backward and one-token
 * step, at B = 1, D_inner = {@value #D}, N = {@value #N}, as the Mamba block calls it (input-dependent
 * B and C, D skip, z gate, delta_bias, softplus).
 *
 * <p>The trial set-up prints the configuration it runs and refuses to run (throws) unless the backend
 * matches the double-precision reference within {@value #TOLERANCE} on out, last_state and every
 * gradient of a small problem (L = 50, chunk 16, D = 8, N = 4, random initial state).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector,jdk.incubator.foreign",
    "--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
public class SelectiveScanBench {
    /** Channels D_inner. */
    public static final int D = 256;
    /** State size N. */
    public static final int N = 16;
    /** Relative error allowed against the double reference. */
    public static final double TOLERANCE = 1e-4;

    /** Backend name: cpu or nd4j (reference works too, slowly). */
    @Param({"cpu", "nd4j"})
    public String backend;

    /** Sequence length. */
    @Param({"1024", "4096", "16384"})
    public int t;

    /** Chunk size (checkpoint interval of cpu, chunk of the nd4j form). */
    @Param({"32"})
    public int chunk;

    private SelectiveScanConfig cfg;
    private SelectiveScanInputs in;
    private INDArray dOut;
    private INDArray uTok;
    private INDArray deltaTok;
    private INDArray bTok;
    private INDArray cTok;
    private INDArray zTok;
    private INDArray state;

    /** Parity gate, configuration print-out, then the inputs, created once per trial. */
    @Setup(Level.Trial)
    public void setUp() {
        Backend b = Backend.parse(backend);
        requireParity(b);
        cfg = SelectiveScanConfig.of().withDeltaSoftplus(true).withBackend(b).withChunkSize(chunk);
        in = inputs(1, D, t, N, false, 42);
        dOut = randn(43, 1, D, t);
        uTok = randn(44, 1, D);
        deltaTok = randn(45, 1, D);
        bTok = randn(46, 1, 1, N);
        cTok = randn(47, 1, 1, N);
        zTok = randn(48, 1, D);
        state = randn(49, 1, D, N);
        System.out.printf(Locale.ROOT, "selective_scan: backend %s, B=1 D=%d N=%d L=%d chunk %d, simd %s, %s%n",
                b.resolve().name().toLowerCase(Locale.ROOT), D, N, t, chunk, VectorSupport.simd(),
                OpenBlasCheck.inspect().advice());
    }

    /** Inference forward: out and last state, nothing saved. */
    @Benchmark
    public SelectiveScanForward forward() {
        return SelectiveScan.forward(cfg, in, false);
    }

    /** Training step of the op: forward saving what backward needs, then all input gradients. */
    @Benchmark
    public SelectiveScanGrads forwardBackward() {
        return SelectiveScan.backward(SelectiveScan.forward(cfg, in, true), dOut, null);
    }

    /** One token of generation (B and C of the token as [B, G=1, N]); t does not matter here. */
    @Benchmark
    public SelectiveScan.Step step() {
        return SelectiveScan.step(cfg, uTok, deltaTok, in.a(), bTok, cTok, in.d(), zTok, in.deltaBias(), state);
    }

    /** A FLOAT N(0, 1) array drawn in double with {@code seed}. */
    public static INDArray randn(long seed, long... shape) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.randn(DataType.DOUBLE, shape).castTo(DataType.FLOAT);
    }

    /** Inputs as the Mamba block produces them: A = −(1..N) per channel, B/C [B, N, L], all optional inputs. */
    public static SelectiveScanInputs inputs(int b, int d, int l, int n, boolean withInit, long seed) {
        double[] a = new double[d * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = -(i % n + 1);
        }
        INDArray bias = Transforms.log(Transforms.exp(Nd4j.rand(DataType.DOUBLE, d).muli(0.1).addi(1e-3), false)
                .subi(1), false).castTo(DataType.FLOAT);
        return new SelectiveScanInputs(randn(seed, b, d, l), randn(seed + 1, b, d, l),
                NdBuffers.of(DataType.FLOAT, a, d, n), randn(seed + 2, b, n, l), randn(seed + 3, b, n, l),
                randn(seed + 4, d), randn(seed + 5, b, d, l), bias, withInit ? randn(seed + 6, b, d, n) : null);
    }

    /**
     * Throws unless {@code backend} matches the reference on a small problem, outputs and all gradients.
     *
     * @return the relative error of every compared tensor
     * @throws Parity.ParityException (an IllegalStateException) if one exceeds {@link #TOLERANCE}
     */
    public static java.util.Map<String, Double> requireParity(Backend backend) {
        SelectiveScanInputs small = inputs(2, 8, 50, 4, true, 7);
        INDArray dO = randn(8, 2, 8, 50);
        INDArray dLast = randn(9, 2, 8, 4);
        SelectiveScanConfig c = SelectiveScanConfig.of().withDeltaSoftplus(true).withChunkSize(16);
        SelectiveScanForward ref = SelectiveScan.forward(c.withBackend(Backend.REFERENCE), small, true);
        SelectiveScanForward got = SelectiveScan.forward(c.withBackend(backend), small, true);
        SelectiveScanGrads gr = SelectiveScan.backward(ref, dO, dLast);
        SelectiveScanGrads gg = SelectiveScan.backward(got, dO, dLast);
        INDArray[][] pairs = {{got.out(), ref.out()}, {got.lastState(), ref.lastState()}, {gg.du(), gr.du()},
            {gg.ddelta(), gr.ddelta()}, {gg.dA(), gr.dA()}, {gg.dB(), gr.dB()}, {gg.dC(), gr.dC()},
            {gg.dD(), gr.dD()}, {gg.dz(), gr.dz()}, {gg.dDeltaBias(), gr.dDeltaBias()},
            {gg.dInitialState(), gr.dInitialState()}};
        String[] names = {"out", "last_state", "du", "ddelta", "dA", "dB", "dC", "dD", "dz", "ddelta_bias",
            "dinitial_state"};
        java.util.Map<String, Double> errs = new java.util.LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i++) {
            double err = Parity.relErr(pairs[i][0], pairs[i][1]);
            errs.put(names[i], err);
            if (!(err <= TOLERANCE)) {
                throw new Parity.ParityException("selective_scan backend " + backend.name().toLowerCase(Locale.ROOT)
                        + " fails parity: " + names[i] + " relative error " + err + " > " + TOLERANCE);
            }
        }
        return errs;
    }
}
