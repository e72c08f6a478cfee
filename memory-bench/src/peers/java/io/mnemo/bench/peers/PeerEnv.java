package io.mnemo.bench.peers;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The thread configuration of a peer benchmark JVM. Thread counts are fixed when a JVM starts (OpenMP and
 * MKL read their environment once, libtorch's pool is sized once, the common fork/join pool of Mnemo's cpu
 * kernels is sized once), so {@link PeersMain} starts runner JVMs per thread count (one for the PyTorch
 * forks, one for the rest) with the environment of {@link #environment} and gives every JMH fork the options of {@link #jvmArgs}. The benchmarks' {@code threads}
 * parameter is a label that {@link #require} checks against the JVM, so a label cannot lie.
 */
public final class PeerEnv {
    /** System property carrying the thread count of this JVM. */
    public static final String THREADS = "mnemo.peers.threads";

    private PeerEnv() {}

    /**
     * Environment of a runner JVM (inherited by its JMH forks): OpenMP, OpenBLAS and MKL thread counts, and
     * {@code OMP_PROC_BIND=true} for more than one thread when {@code bind} (without it 2-thread libtorch
     * timings are erratic).
     *
     * <p>Only the runner of PyTorch forks binds. ND4J's OpenMP runtime binds the Java thread that first
     * calls into ND4J to the first core, and every thread that thread starts afterwards (the common
     * fork/join pool's workers that run Mnemo's cpu kernels) inherits that one-core mask: with binding, a
     * 2-thread Mnemo fork ran both of its workers on one core (Linux {@code Cpus_allowed_list} of the
     * threads: {@code 0} with {@code OMP_PROC_BIND=true}, {@code 0-1} without).
     *
     * @return variable name and value pairs; a null value means "remove the variable"
     */
    public static List<String[]> environment(int threads, boolean bind) {
        List<String[]> env = new ArrayList<>();
        String n = String.valueOf(threads);
        env.add(new String[] {"OMP_NUM_THREADS", n});
        env.add(new String[] {"OPENBLAS_NUM_THREADS", n});
        env.add(new String[] {"MKL_NUM_THREADS", n});
        env.add(new String[] {"OMP_PROC_BIND", threads > 1 && bind ? "true" : null});
        return env;
    }

    /**
     * JVM options of a fork with {@code threads} threads: libtorch intra-op threads (inter-op 1), the common
     * fork/join pool of Mnemo's cpu kernels ({@code threads − 1} workers plus the calling thread) and the
     * label.
     */
    public static List<String> jvmArgs(int threads) {
        return List.of("-D" + THREADS + "=" + threads, "-Dai.djl.pytorch.num_threads=" + threads,
                "-Dai.djl.pytorch.num_interop_threads=1",
                "-Djava.util.concurrent.ForkJoinPool.common.parallelism=" + (threads - 1));
    }

    /** Checks that this JVM runs with {@code threads} threads; {@code torch} also checks libtorch's pool. */
    public static void require(int threads, boolean torch) {
        String prop = System.getProperty(THREADS);
        String omp = System.getenv("OMP_NUM_THREADS");
        if (prop == null || Integer.parseInt(prop) != threads || omp == null || Integer.parseInt(omp) != threads) {
            throw new IllegalStateException(String.format(Locale.ROOT, "threads label %d but this JVM has -D%s=%s and "
                    + "OMP_NUM_THREADS=%s; run the peer benchmarks through bin/mnemo-bench --peers", threads, THREADS,
                    prop, omp));
        }
        if (torch && Torch.threads() != threads) {
            throw new IllegalStateException("threads label " + threads + " but libtorch runs " + Torch.threads()
                    + " intra-op threads");
        }
    }
}
