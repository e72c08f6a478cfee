package io.mnemo.bench;

import io.mnemo.core.OpenBlasCheck;
import io.mnemo.core.kernel.Backend;
import io.mnemo.core.kernel.VectorSupport;
import io.mnemo.modules.linear.LinearForward;
import io.mnemo.modules.linear.LinearGrads;
import io.mnemo.modules.linear.LinearInputs;
import io.mnemo.modules.linear.LinearOp;
import io.mnemo.modules.linear.LinearOpConfig;
import io.mnemo.modules.linear.LinearOps;
import io.mnemo.modules.miras.AttentionalBias;
import io.mnemo.modules.miras.MemoryArchitecture;
import io.mnemo.modules.miras.MirasConfig;
import io.mnemo.modules.miras.MirasForward;
import io.mnemo.modules.miras.MirasGrads;
import io.mnemo.modules.miras.MirasInputs;
import io.mnemo.modules.miras.MirasOps;
import io.mnemo.modules.miras.MirasState;
import io.mnemo.modules.miras.RetentionGate;
import io.mnemo.modules.miras.UpdateRule;
import io.mnemo.modules.titans.TitansActivation;
import io.mnemo.modules.titans.TitansForward;
import io.mnemo.modules.titans.TitansGrads;
import io.mnemo.modules.titans.TitansInputs;
import io.mnemo.modules.titans.TitansOpConfig;
import io.mnemo.modules.titans.TitansOps;
import io.mnemo.modules.titans.TitansReadMode;
import io.mnemo.modules.titans.TitansState;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The price of generality (issue 6): the generic Miras kernel ({@link MirasOps}, double precision, any
 * composition of components) against the specialised kernels on the same configuration, at B = 1,
 * H = {@value #H}, D = {@value #D}:
 * <ul>
 *   <li>{@code titans1}, {@code titans2}: Titans' memory (depth 1 = matrix, depth 2 = MLP with expansion 4,
 *       SiLU), L2 bias, scalar decay (α = 1 − decay), momentum, chunk {@value #TITANS_CHUNK}, per-token
 *       reads: Miras(Linear|Mlp, L2, ScalarDecay, Momentum) vs {@link TitansOps};</li>
 *   <li>{@code gdn}: Gated DeltaNet's per-token rule: Miras(Linear, L2, ScalarDecay, Gd) with chunk 1 vs
 *       {@link LinearOps} {@code gated_delta_rule} (inputs mapped as in MirasCrossFamilyTest:
 *       v·a, g = log a, β = θ/a).</li>
 * </ul>
 * {@code impl}: {@code generic} (the Miras kernel), {@code cpu} (the specialised float kernel) or
 * {@code reference} (the specialised family's own double-precision per-token kernel, the like-for-like
 * comparison for a double kernel). The ratio generic / cpu is the price of generality.
 *
 * <p>The trial set-up throws unless the chosen family's cpu kernel and the generic kernel agree within
 * {@value #TOLERANCE} (relative) on y and on dq, dk of a small problem.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector,jdk.incubator.foreign",
    "--enable-native-access=ALL-UNNAMED", "-Xmx6g"})
public class MirasBench {
    /** Heads. */
    public static final int H = 4;
    /** Key/value dimension per head. */
    public static final int D = 64;
    /** Chunk size of the Titans configurations. */
    public static final int TITANS_CHUNK = 16;
    /** Relative error allowed between the float cpu kernels and the generic double kernel. */
    public static final double TOLERANCE = 2e-4;

    /** titans1, titans2 or gdn. */
    @Param({"titans1", "titans2", "gdn"})
    public String family;

    /** generic, cpu or reference. */
    @Param({"generic", "cpu", "reference"})
    public String impl;

    /** Sequence length. */
    @Param({"1024"})
    public int t;

    private Problem p;

    /** Parity of cpu vs generic on a small problem, configuration print-out, inputs. */
    @Setup(Level.Trial)
    public void setUp() {
        Map<String, Double> errs = requireParity(family);
        p = problem(family, t, 42);
        System.out.printf(Locale.ROOT, "miras: family %s, impl %s, B=1 H=%d D=%d T=%d, parity cpu vs generic %s, "
                + "simd %s, %s%n", family, impl, H, D, t, errs, VectorSupport.simd(), OpenBlasCheck.inspect().advice());
    }

    /** Inference forward over t tokens. */
    @Benchmark
    public Object forward() {
        return p.forward(impl, false);
    }

    /** Training: forward saving what the backward needs, then every input gradient. */
    @Benchmark
    public Object forwardBackward() {
        return p.backward(impl, p.forward(impl, true));
    }

    /** One configuration's inputs in both families' forms (the Titans or the linear pair is null). */
    record Problem(String family, MirasConfig mc, MirasInputs mi, TitansOpConfig tc, TitansInputs ti,
            LinearOpConfig lc, LinearInputs li, INDArray dY) {

        Object forward(String impl, boolean save) {
            if (impl.equals("generic")) {
                return MirasOps.forward(mc, mi, save);
            }
            Backend b = backend(impl);
            return tc != null ? TitansOps.forward(tc.withBackend(b), ti, save)
                    : LinearOps.forward(lc.withBackend(b), li, save);
        }

        /** dq and dk of the forward's backward. */
        INDArray[] backward(String impl, Object fwd) {
            if (fwd instanceof MirasForward f) {
                MirasGrads g = MirasOps.backward(f, dY, null);
                return new INDArray[] {g.dq(), g.dk()};
            }
            if (fwd instanceof TitansForward f) {
                TitansGrads g = TitansOps.backward(f, dY, null);
                return new INDArray[] {g.dq(), g.dk()};
            }
            LinearGrads g = LinearOps.backward((LinearForward) fwd, dY, null);
            return new INDArray[] {g.dq(), g.dk()};
        }

        INDArray y(Object fwd) {
            if (fwd instanceof MirasForward f) {
                return f.y();
            }
            if (fwd instanceof TitansForward f) {
                return f.y();
            }
            return ((LinearForward) fwd).o();
        }
    }

    private static Backend backend(String impl) {
        return switch (impl) {
            case "cpu" -> Backend.CPU;
            case "reference" -> Backend.REFERENCE;
            default -> throw new IllegalArgumentException("impl must be generic, cpu or reference, got " + impl);
        };
    }

    /** The inputs of one family: unit-norm q, k; v ~ N(0, 1); θ in (0, 0.1); η in (0.5, 1); decay in (0.95, 1). */
    static Problem problem(String family, int t, long seed) {
        INDArray q = unitRows(TitansBench.randn(seed, 1, t, H, D));
        INDArray k = unitRows(TitansBench.randn(seed + 1, 1, t, H, D));
        INDArray v = TitansBench.randn(seed + 2, 1, t, H, D);
        Nd4j.getRandom().setSeed(seed + 3);
        INDArray theta = Nd4j.rand(DataType.FLOAT, 1, t, H).muli(TitansBench.THETA_MAX);
        INDArray eta = Nd4j.rand(DataType.FLOAT, 1, t, H).muli(0.5).addi(0.5);
        INDArray decay = Nd4j.rand(DataType.FLOAT, 1, t, H).muli(0.05).rsubi(1.0);
        INDArray dY = TitansBench.randn(seed + 4, 1, t, H, D);
        switch (family) {
            case "titans1", "titans2" -> {
                int depth = family.equals("titans1") ? 1 : 2;
                MemoryArchitecture arch = depth == 1 ? new MemoryArchitecture.Linear()
                        : new MemoryArchitecture.Mlp(4, TitansActivation.SILU);
                MirasConfig mc = MirasConfig.of(arch, new AttentionalBias.L2(), new RetentionGate.ScalarDecay(),
                        new UpdateRule.Momentum()).withChunkSize(TITANS_CHUNK);
                TitansOpConfig tc = TitansOpConfig.defaults().withDepth(depth).withExpansion(4).withMomentum(true)
                        .withChunkSize(TITANS_CHUNK).withReadMode(TitansReadMode.PER_TOKEN)
                        .withActivation(TitansActivation.SILU);
                TitansState s0 = TitansBench.initialMemory(tc, 1, seed + 5);
                MirasInputs mi = new MirasInputs(q, k, v, theta, eta, decay, null,
                        MirasState.ofMemory(mc, s0.memory()));
                TitansInputs ti = new TitansInputs(q, k, v, theta, eta, decay.rsub(1.0), s0);
                return new Problem(family, mc, mi, tc, ti, null, null, dY);
            }
            case "gdn" -> {
                MirasConfig mc = MirasConfig.of(new MemoryArchitecture.Linear(), new AttentionalBias.L2(),
                        new RetentionGate.ScalarDecay(), new UpdateRule.Gd()).withChunkSize(1);
                MirasInputs mi = new MirasInputs(q, k, v, theta, null, decay, null, null);
                INDArray aV = decay.reshape(1, t, H, 1).broadcast(1, t, H, D);
                LinearOpConfig lc = LinearOpConfig.of(LinearOp.GATED_DELTA_RULE).withScale(1.0);
                LinearInputs li = new LinearInputs(q, k, v.mul(aV), Transforms.log(decay, true), null,
                        theta.div(decay), null);
                return new Problem(family, mc, mi, null, null, lc, li, dY);
            }
            default -> throw new IllegalArgumentException("family must be titans1, titans2 or gdn, got " + family);
        }
    }

    private static INDArray unitRows(INDArray x) {
        return x.divi(Transforms.sqrt(x.mul(x).sum(true, 3), false));
    }

    /**
     * Runs the family's cpu kernel and the generic kernel on T = 37 and compares y, dq and dk.
     *
     * @return the relative errors
     * @throws Parity.ParityException if one exceeds {@link #TOLERANCE}
     */
    public static Map<String, Double> requireParity(String family) {
        Problem small = problem(family, 37, 7);
        Object fg = small.forward("generic", true);
        Object fc = small.forward("cpu", true);
        INDArray[] gg = small.backward("generic", fg);
        INDArray[] gc = small.backward("cpu", fc);
        Map<String, Double> errs = new LinkedHashMap<>();
        errs.put("y", Parity.relErr(small.y(fc), small.y(fg)));
        errs.put("dq", Parity.relErr(gc[0], gg[0]));
        errs.put("dk", Parity.relErr(gc[1], gg[1]));
        errs.forEach((name, err) -> {
            if (!(err <= TOLERANCE)) {
                throw new Parity.ParityException("miras bench " + family + ": cpu kernel and generic kernel differ on "
                        + name + ", relative error " + err + " > " + TOLERANCE);
            }
        });
        return errs;
    }
}
