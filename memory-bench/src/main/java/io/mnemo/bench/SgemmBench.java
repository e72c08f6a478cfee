package io.mnemo.bench;

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
 * The sgemm roofline: ND4J {@code mmul} in FLOAT into a preallocated result, i.e. OpenBLAS sgemm plus
 * ND4J's per-call overhead. GFLOP/s = {@code 2·M·K·N / time}.
 *
 * <p>OpenBLAS reads {@code OPENBLAS_CORETYPE} only when it loads, so one JVM measures one kernel;
 * {@link BenchMain} starts one JVM per value and labels the results with the {@code coretype}
 * parameter, which the set-up checks against the environment so a label cannot lie.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector,jdk.incubator.foreign",
    "--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
public class SgemmBench {
    /** {@code N} for N×N·N×N, or {@code MxKxN} for [M×K]·[K×N]. */
    @Param({"64", "256", "512", "1024", "2048", "64x64x4096"})
    public String shape;

    /** The OPENBLAS_CORETYPE this JVM was started with, or {@code unset}; a label checked at set-up. */
    @Param({"unset"})
    public String coretype;

    private INDArray a;
    private INDArray b;
    private INDArray c;

    /** Checks the label and allocates the operands. */
    @Setup(Level.Trial)
    public void setUp() {
        String env = System.getenv("OPENBLAS_CORETYPE");
        String actual = env == null || env.isBlank() ? "unset" : env;
        if (!actual.equalsIgnoreCase(coretype)) {
            throw new IllegalStateException("coretype label '" + coretype + "' but this JVM runs with OPENBLAS_CORETYPE="
                    + actual + "; start one JVM per value (BenchMain does)");
        }
        long[] mkn = dims(shape);
        Nd4j.getRandom().setSeed(47);
        a = Nd4j.rand(DataType.FLOAT, mkn[0], mkn[1]);
        b = Nd4j.rand(DataType.FLOAT, mkn[1], mkn[2]);
        c = Nd4j.create(DataType.FLOAT, mkn[0], mkn[2]);
    }

    /** {@code c = a · b}. */
    @Benchmark
    public INDArray mmul() {
        return a.mmuli(b, c);
    }

    /** {M, K, N} of a shape parameter. */
    public static long[] dims(String shape) {
        String[] p = shape.toLowerCase(Locale.ROOT).split("x");
        if (p.length == 1) {
            long n = Long.parseLong(p[0].trim());
            return new long[] {n, n, n};
        }
        if (p.length == 3) {
            return new long[] {Long.parseLong(p[0].trim()), Long.parseLong(p[1].trim()), Long.parseLong(p[2].trim())};
        }
        throw new IllegalArgumentException("sgemm shape must be N or MxKxN, got '" + shape + "'");
    }

    /** Floating-point operations of one product: {@code 2·M·K·N}. */
    public static double flops(String shape) {
        long[] d = dims(shape);
        return 2.0 * d[0] * d[1] * d[2];
    }
}
