package io.mnemo.bench;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.kernel.Backend;
import io.mnemo.core.kernel.VectorSupport;
import io.mnemo.modules.attention.AttentionForward;
import io.mnemo.modules.attention.AttentionGrads;
import io.mnemo.modules.attention.AttentionInputs;
import io.mnemo.modules.attention.AttentionKernel;
import io.mnemo.modules.attention.AttentionOpConfig;
import io.mnemo.modules.attention.AttentionOps;
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
 * Whole-sequence forward and forward+backward of causal softmax attention ({@link AttentionOps}) at B={@value #B},
 * H={@value #H}, Dk=Dv={@value #D}, full causal or with a sliding window: what a training step or a prefill of the
 * attention baseline pays, including the copies in and out of the kernels.
 *
 * <p>The trial set-up prints the configuration and refuses to run (throws) when the backend disagrees with the
 * double-precision reference on a small problem (o, lse, dq, dk, dv within {@value #TOLERANCE} relative, full and
 * windowed, with a prefix and global keys).
 *
 * <pre>
 *   java -jar memory-bench/target/mnemo-bench.jar AttentionBench -p t=1024 -p backend=cpu
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector,jdk.incubator.foreign",
    "--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
public class AttentionBench {
    static final int B = 1;
    static final int H = 4;
    static final int D = 64;
    static final double TOLERANCE = 1e-4;

    /** Backend name: cpu or nd4j (reference works too, slowly). */
    @Param({"cpu", "nd4j"})
    public String backend;

    /** Sequence length. */
    @Param({"1024", "4096"})
    public int t;

    /** 0 for full causal attention, else the sliding window. */
    @Param({"0", "256"})
    public int window;

    private AttentionOpConfig cfg;
    private AttentionKernel kernel;
    private AttentionInputs in;
    private INDArray dO;

    /** Parity gate, then the inputs, created once per trial. */
    @Setup(Level.Trial)
    public void setUp() {
        Backend b = Backend.parse(backend);
        requireParity(b);
        cfg = AttentionOpConfig.of().withBackend(b).withWindow(window);
        kernel = AttentionOps.kernel(b);
        in = new AttentionInputs(randn(42, B, t, H, D), randn(43, B, t, H, D), randn(44, B, t, H, D));
        dO = randn(45, B, t, H, D);
        System.out.printf(Locale.ROOT, "AttentionBench: backend=%s B=%d T=%d H=%d D=%d window=%d queryBlock=%d simd=%s%n",
                b.name().toLowerCase(Locale.ROOT), B, t, H, D, window, cfg.queryBlock(), VectorSupport.simd());
    }

    /** Inference forward: o and lse, nothing saved. */
    @Benchmark
    public AttentionForward forward() {
        return kernel.forward(cfg, in.validate(false), in, false);
    }

    /** Training step of the op: forward saving the lse, then dq, dk, dv. */
    @Benchmark
    public AttentionGrads forwardBackward() {
        AttentionForward f = kernel.forward(cfg, in.validate(false), in, true);
        return AttentionOps.backward(f, dO);
    }

    private static INDArray randn(long seed, long... shape) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.randn(DataType.DOUBLE, shape).castTo(DataType.FLOAT);
    }

    /** The backend against the reference on T=64 queries after a prefix of 5, full and window 16 with 2 global keys. */
    static void requireParity(Backend b) {
        for (int w : new int[] {0, 16}) {
            AttentionInputs small = new AttentionInputs(randn(1, 1, 64, 2, 16), randn(2, 1, 69, 2, 16),
                    randn(3, 1, 69, 2, 16));
            INDArray g = randn(4, 1, 64, 2, 16);
            AttentionOpConfig c = AttentionOpConfig.of().withWindow(w).withGlobalKeys(w > 0 ? 2 : 0).withQueryBlock(24);
            AttentionForward ref = AttentionOps.forward(c.withBackend(Backend.REFERENCE), small, true);
            AttentionForward got = AttentionOps.forward(c.withBackend(b), small, true);
            AttentionGrads gr = AttentionOps.backward(ref, g);
            AttentionGrads gg = AttentionOps.backward(got, g);
            String ctx = "attention backend " + b.name().toLowerCase(Locale.ROOT) + " window=" + w;
            check(ctx + " o", got.o(), ref.o());
            check(ctx + " lse", got.lse(), ref.lse());
            check(ctx + " dq", gg.dq(), gr.dq());
            check(ctx + " dk", gg.dk(), gr.dk());
            check(ctx + " dv", gg.dv(), gr.dv());
        }
    }

    private static void check(String what, INDArray a, INDArray e) {
        double[] x = NdBuffers.toDoubles(a);
        double[] y = NdBuffers.toDoubles(e);
        double diff = 0;
        double ref = 1e-6;
        for (int i = 0; i < x.length; i++) {
            diff = Math.max(diff, Double.isNaN(x[i]) ? Double.POSITIVE_INFINITY : Math.abs(x[i] - y[i]));
            ref = Math.max(ref, Math.abs(y[i]));
        }
        if (!(diff / ref <= TOLERANCE)) {
            throw new IllegalStateException("parity failed: " + what + " relative error " + diff / ref + " > "
                    + TOLERANCE + "; refusing to report timings");
        }
    }
}
