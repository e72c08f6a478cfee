package io.mnemo.bench.peers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The thread configuration of a peer benchmark JVM. Thread counts are fixed when a JVM starts (OpenMP and
 * MKL read their environment once, libtorch's pool is sized once, the common fork/join pool of Mnemo's cpu
 * kernels is sized once), so {@link PeersMain} starts runner JVMs per thread count (one for the PyTorch
 * forks, one for the rest) with the environment of {@link #environment} and gives every JMH fork the
 * options of {@link #jvmArgs}. The benchmarks' {@code threads} parameter is a label that {@link #require}
 * checks against the JVM, so a label cannot lie.
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

    /**
     * Checks that this JVM runs with {@code threads} threads; {@code torch} also checks libtorch's pool, and
     * otherwise that the calling thread may still run on {@code threads} cores once ND4J has loaded (the
     * binding trap of {@link #environment}).
     */
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
        if (!torch) {
            Nd4j.scalar(0f); // loads ND4J and its OpenMP runtime, which binds this thread if told to
            int cores = allowedCores();
            if (cores > 0 && cores < threads) {
                throw new IllegalStateException("threads label " + threads + " but this thread may run on " + cores
                        + " core(s) only (OMP_PROC_BIND=" + System.getenv("OMP_PROC_BIND") + "): ND4J's OpenMP "
                        + "bound it, and the fork/join workers it starts inherit that");
            }
        }
    }

    /** Cores the calling thread may run on (Linux {@code Cpus_allowed_list}), or 0 when unknown. */
    static int allowedCores() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/thread-self/status"))) {
                if (line.startsWith("Cpus_allowed_list:")) {
                    return countCpus(line.substring(line.indexOf(':') + 1).trim());
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }

    /** Cores in a Linux CPU list such as {@code 0-3,8,10-11}. */
    static int countCpus(String list) {
        int n = 0;
        for (String part : list.split(",")) {
            String p = part.trim();
            if (p.isEmpty()) {
                continue;
            }
            int dash = p.indexOf('-');
            n += dash < 0 ? 1 : Integer.parseInt(p.substring(dash + 1)) - Integer.parseInt(p.substring(0, dash)) + 1;
        }
        return n;
    }
}
