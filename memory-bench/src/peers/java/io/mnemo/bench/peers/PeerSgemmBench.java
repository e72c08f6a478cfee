package io.mnemo.bench.peers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.mnemo.bench.SgemmBench;
import io.mnemo.core.OpenBlasCheck;
import io.mnemo.core.kernel.VecOps;
import io.mnemo.core.kernel.VectorSupport;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
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
import org.openjdk.jmh.infra.Blackhole;

/**
 * The roofline of the peer comparison, measured in the same run and with the same thread counts: FLOAT
 * matrix products with ND4J ({@code mmul} into a preallocated result: OpenBLAS sgemm, refused when OpenBLAS
 * loaded a kernel for an older instruction set than this CPU's) and with libtorch ({@code matmul}, MKL; a new result per call, freed
 * by a per-call sub-manager) and with Mnemo's own {@link VecOps#gemm} ({@code mnemo}: the register-blocked Vector
 * API micro-kernel of the chunked cpu kernels, written for 64×64 operands that stay in L1/L2; one thread whatever
 * the thread count, no cache blocking, the result zeroed before each call because it accumulates).
 * GFLOP/s = {@code 2·M·K·N / time}; shapes as in {@link SgemmBench}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class PeerSgemmBench {
    /** {@code nd4j}, {@code torch} or {@code mnemo}. */
    @Param({"nd4j", "torch", "mnemo"})
    public String impl;

    /** {@code N} for N×N·N×N, or {@code MxKxN}. */
    @Param({"64", "256", "512", "1024", "2048", "64x64x4096"})
    public String shape;

    /** Threads of this JVM (a label checked by {@link PeerEnv#require}). */
    @Param({"1"})
    public int threads;

    private INDArray a;
    private INDArray bm;
    private INDArray c;
    private NDManager base;
    private NDArray ta;
    private NDArray tb;
    private VecOps vec;
    private float[] fa;
    private float[] fb;
    private float[] fc;
    private int m;
    private int k;
    private int n;

    /** Thread and BLAS-kernel checks, operands. */
    @Setup(Level.Trial)
    public void setUp() {
        PeerEnv.require(threads, impl.equals("torch"));
        long[] mkn = SgemmBench.dims(shape);
        Nd4j.getRandom().setSeed(47);
        a = Nd4j.rand(DataType.FLOAT, mkn[0], mkn[1]);
        bm = Nd4j.rand(DataType.FLOAT, mkn[1], mkn[2]);
        if (impl.equals("nd4j")) {
            OpenBlasCheck.Report r = OpenBlasCheck.inspect();
            if (r.slowerKernel() || r.coreName().isEmpty()) {
                throw new IllegalStateException("not the OpenBLAS kernel for this CPU: " + r.advice());
            }
            c = Nd4j.create(DataType.FLOAT, mkn[0], mkn[2]);
        } else if (impl.equals("torch")) {
            base = Torch.newManager();
            ta = Torch.of(base, a);
            tb = Torch.of(base, bm);
        } else if (impl.equals("mnemo")) {
            vec = VectorSupport.ops();
            m = Math.toIntExact(mkn[0]);
            k = Math.toIntExact(mkn[1]);
            n = Math.toIntExact(mkn[2]);
            fa = a.data().asFloat();
            fb = bm.data().asFloat();
            fc = new float[m * n];
            float[] want = a.mmul(bm).data().asFloat();
            vec.gemm(false, m, n, k, fa, 0, k, fb, 0, n, fc, 0, n);
            for (int i = 0; i < want.length; i++) {
                if (Math.abs(fc[i] - want[i]) > 1e-4f * (1 + Math.abs(want[i]))) {
                    throw new IllegalStateException("VecOps.gemm differs from ND4J mmul at element " + i + ": "
                            + fc[i] + " vs " + want[i] + " (shape " + shape + ")");
                }
            }
        } else {
            throw new IllegalArgumentException("impl must be nd4j, torch or mnemo, got '" + impl + "'");
        }
    }

    /** Frees the PyTorch arrays. */
    @TearDown(Level.Trial)
    public void tearDown() {
        if (base != null) {
            base.close();
        }
    }

    /** One product. */
    @Benchmark
    public Object mmul(Blackhole bh) {
        if (vec != null) {
            Arrays.fill(fc, 0f);
            vec.gemm(false, m, n, k, fa, 0, k, fb, 0, n, fc, 0, n);
            return fc;
        }
        if (base == null) {
            return a.mmuli(bm, c);
        }
        try (NDManager sub = base.newSubManager()) {
            sub.tempAttachAll(ta, tb);
            bh.consume(ta.matMul(tb));
        }
        return null;
    }
}
