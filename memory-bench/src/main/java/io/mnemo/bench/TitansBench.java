package io.mnemo.bench;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.OpenBlasCheck;
import io.mnemo.core.kernel.Backend;
import io.mnemo.core.kernel.VectorSupport;
import io.mnemo.modules.titans.TitansForward;
import io.mnemo.modules.titans.TitansGrads;
import io.mnemo.modules.titans.TitansInputs;
import io.mnemo.modules.titans.TitansOpConfig;
import io.mnemo.modules.titans.TitansOps;
import io.mnemo.modules.titans.TitansState;
import io.mnemo.modules.titans.TitansStepper;
import java.util.List;
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
 * The Titans memory op ({@link TitansOps}) at B = 1, H = {@value #H}, D = {@value #D}, chunk
 * {@value #CHUNK}, momentum on, per-token reads: forward, forward+backward over {@code t} tokens for memory
 * depth 1 and 2, and one generation step with {@link TitansStepper} after {@code context} tokens of
 * context (the step's cost must not grow with the position: compare context 1024 with 65536).
 *
 * <p>The trial set-up prints its configuration and throws unless the backend matches the double
 * reference within {@value #TOLERANCE} on y, the final memory and every gradient of a small problem.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector,jdk.incubator.foreign",
    "--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
public class TitansBench {
    /** Heads. */
    public static final int H = 4;
    /** Key/value dimension per head. */
    public static final int D = 64;
    /** Chunk size C (inner gradients at the chunk-start memory). */
    public static final int CHUNK = 64;
    /** Relative error allowed against the double reference. */
    public static final double TOLERANCE = 2e-4;

    /**
     * Backend of forward and forwardBackward: cpu (the fused float kernel) or nd4j (the chunked form as batched
     * ND4J ops, the CUDA path); reference works too, slowly. The step benchmark always runs the cpu
     * {@link TitansStepper}.
     */
    @Param({"cpu", "nd4j"})
    public String backend;

    /** Memory depth: 1 = matrix memory, 2 = the Titans MLP (expansion 4). */
    @Param({"1", "2"})
    public int depth;

    /** Sequence length of forward and forward+backward. */
    @Param({"1024", "4096", "16384"})
    public int t;

    /** Tokens of context before the measured step. */
    @Param({"1024"})
    public int context;

    private TitansOpConfig cfg;
    private TitansInputs in;
    private INDArray dY;
    private TitansStepper stepper;
    private INDArray[] tok;
    private INDArray out;

    /** Parity gate, configuration print-out, inputs, and a stepper advanced through the context. */
    @Setup(Level.Trial)
    public void setUp() {
        Backend b = Backend.parse(backend);
        cfg = TitansOpConfig.defaults().withDepth(depth).withChunkSize(CHUNK).withBackend(b);
        requireParity(cfg);
        in = inputs(cfg, 1, t, 42);
        dY = randn(43, 1, t, H, D);
        stepper = new TitansStepper(cfg, 1, H, D, initialMemory(cfg, 1, 50));
        out = Nd4j.create(DataType.FLOAT, 1, H, D);
        TitansInputs ctx = inputs(cfg, 1, 1, 44);
        tok = new INDArray[] {ctx.q().reshape(1, H, D), ctx.k().reshape(1, H, D), ctx.v().reshape(1, H, D),
            ctx.theta().reshape(1, H), ctx.eta().reshape(1, H), ctx.alpha().reshape(1, H)};
        for (int i = 0; i < context; i++) {
            stepper.step(tok[0], tok[1], tok[2], tok[3], tok[4], tok[5], out);
        }
        System.out.printf(Locale.ROOT, "titans: backend %s, depth %d, B=1 H=%d D=%d T=%d chunk %d, step after %d "
                + "tokens, simd %s, %s%n", b.resolve().name().toLowerCase(Locale.ROOT), depth, H, D, t, CHUNK,
                context, VectorSupport.simd(), OpenBlasCheck.inspect().advice());
    }

    /** Inference forward over t tokens. */
    @Benchmark
    public TitansForward forward() {
        return TitansOps.forward(cfg, in, false);
    }

    /** Training: forward saving checkpoints, then every input gradient (second-order terms included). */
    @Benchmark
    public TitansGrads forwardBackward() {
        return TitansOps.backward(TitansOps.forward(cfg, in, true), dY, null);
    }

    /** One generation step (O(P) per head: one inner gradient, one write, one read). */
    @Benchmark
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public INDArray step() {
        return stepper.step(tok[0], tok[1], tok[2], tok[3], tok[4], tok[5], out);
    }

    /** A FLOAT N(0, 1) array drawn in double with {@code seed}. */
    public static INDArray randn(long seed, long... shape) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.randn(DataType.DOUBLE, shape).castTo(DataType.FLOAT);
    }

    /**
     * Largest inner step size θ of the inputs. With θ up to 0.5 (and η up to 1) the depth-2 memory diverges:
     * |y| reaches 1e23 by token 200 and every output from token 256 on is Inf/NaN, so the timings were of a
     * NaN-filled run; with 0.1 the outputs stay below 1 over 4096 tokens.
     */
    public static final double THETA_MAX = 0.1;

    /** q, k L2-normalised, v ~ N(0, 1), θ in (0, {@link #THETA_MAX}), η in (0.5, 1), α in (0, 0.05), as a block feeds them. */
    public static TitansInputs inputs(TitansOpConfig cfg, int b, int t, long seed) {
        INDArray q = randn(seed, b, t, H, D);
        INDArray k = randn(seed + 1, b, t, H, D);
        q.divi(Transforms.sqrt(q.mul(q).sum(true, 3), false));
        k.divi(Transforms.sqrt(k.mul(k).sum(true, 3), false));
        Nd4j.getRandom().setSeed(seed + 2);
        INDArray theta = Nd4j.rand(DataType.FLOAT, b, t, H).muli(THETA_MAX);
        INDArray eta = Nd4j.rand(DataType.FLOAT, b, t, H).muli(0.5).addi(0.5);
        INDArray alpha = Nd4j.rand(DataType.FLOAT, b, t, H).muli(0.05);
        TitansState s0 = initialMemory(cfg, b, seed + 3);
        return new TitansInputs(q, k, randn(seed + 4, b, t, H, D), theta, cfg.momentum() ? eta : null, alpha, s0);
    }

    /** A random initial memory N(0, 1/cols) (a deep memory must not start at zero), zero momentum. */
    public static TitansState initialMemory(TitansOpConfig cfg, int b, long seed) {
        TitansState z = TitansState.zeros(cfg, b, H, D, DataType.FLOAT);
        List<INDArray> mem = new java.util.ArrayList<>();
        for (int l = 0; l < z.memory().size(); l++) {
            long[] s = z.memory().get(l).shape();
            mem.add(randn(seed + l, s).muli(1 / Math.sqrt(s[3])));
        }
        return TitansState.ofMemory(cfg, mem);
    }

    /**
     * Throws unless the backend matches the reference on a small problem, outputs and every gradient.
     *
     * @return the relative error of every compared tensor
     * @throws Parity.ParityException (an IllegalStateException) if one exceeds {@link #TOLERANCE}
     */
    public static java.util.Map<String, Double> requireParity(TitansOpConfig cfg) {
        TitansOpConfig small = cfg.withChunkSize(8);
        TitansInputs x = inputs(small, 1, 37, 7);
        INDArray dy = randn(8, 1, 37, H, D);
        TitansForward ref = TitansOps.forward(small.withBackend(Backend.REFERENCE), x, true);
        TitansForward got = TitansOps.forward(small, x, true);
        TitansGrads gr = TitansOps.backward(ref, dy, null);
        TitansGrads gg = TitansOps.backward(got, dy, null);
        INDArray[][] pairs = {{got.y(), ref.y()}, {got.finalState().memory().get(0), ref.finalState().memory().get(0)},
            {gg.dq(), gr.dq()}, {gg.dk(), gr.dk()}, {gg.dv(), gr.dv()}, {gg.dTheta(), gr.dTheta()},
            {gg.dEta(), gr.dEta()}, {gg.dAlpha(), gr.dAlpha()}, {gg.dInitialState().memory().get(0),
                gr.dInitialState().memory().get(0)}};
        String[] names = {"y", "final memory", "dq", "dk", "dv", "dtheta", "deta", "dalpha", "dmemory0"};
        java.util.Map<String, Double> errs = new java.util.LinkedHashMap<>();
        // the deeper layers and the momentum too, not only layer 0
        for (int l = 1; l < gr.dInitialState().memory().size(); l++) {
            errs.put("final memory" + l, Parity.relErr(got.finalState().memory().get(l),
                    ref.finalState().memory().get(l)));
            errs.put("dmemory" + l, Parity.relErr(gg.dInitialState().memory().get(l),
                    gr.dInitialState().memory().get(l)));
        }
        if (gr.dInitialState().momentum() != null) {
            for (int l = 0; l < gr.dInitialState().momentum().size(); l++) {
                errs.put("dmomentum" + l, Parity.relErr(gg.dInitialState().momentum().get(l),
                        gr.dInitialState().momentum().get(l)));
            }
        }
        errs.forEach((name, err) -> {
            if (!(err <= TOLERANCE)) {
                throw new Parity.ParityException("titans backend " + cfg.backend() + " fails parity: " + name
                        + " relative error " + err + " > " + TOLERANCE);
            }
        });
        for (int i = 0; i < pairs.length; i++) {
            double err = Parity.relErr(pairs[i][0], pairs[i][1]);
            errs.put(names[i], err);
            if (!(err <= TOLERANCE)) {
                throw new Parity.ParityException("titans backend " + cfg.backend() + " fails parity: " + names[i]
                        + " relative error " + err + " > " + TOLERANCE);
            }
        }
        return errs;
    }
}
