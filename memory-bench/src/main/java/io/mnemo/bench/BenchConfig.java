package io.mnemo.bench;

import java.util.List;

/** Sizes and JVM settings shared by the benchmarks, the runner and the report. */
public final class BenchConfig {
    private BenchConfig() {}

    /** Batch size of the sequence benchmarks. */
    public static final int B = 4;
    /** Heads. */
    public static final int H = 4;
    /** Key and value size per head (Dk = Dv). */
    public static final int D = 64;

    /**
     * Flags every JVM running Mnemo needs: the Vector API for the cpu kernels and the foreign linker to
     * ask OpenBLAS which kernel it loaded. Given to JMH forks and to the sgemm child JVMs.
     */
    public static final List<String> JVM_FLAGS = List.of("--add-modules", "jdk.incubator.vector,jdk.incubator.foreign",
            "--enable-native-access=ALL-UNNAMED");

    /**
     * Heap of forked JVMs. ND4J's off-heap limit defaults to the heap size, and T=16384 fwd+bwd holds
     * about 1 GB of native arrays (inputs, outputs, checkpoints and gradients).
     */
    public static final String FORK_HEAP = "-Xmx4g";
}
