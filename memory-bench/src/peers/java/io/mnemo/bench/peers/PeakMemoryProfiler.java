package io.mnemo.bench.peers;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.profile.InternalProfiler;
import org.openjdk.jmh.results.AggregationPolicy;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.ScalarResult;

/**
 * Peak memory of a benchmark JVM, as JMH secondary results: {@code peak-rss} is the process's resident-set
 * high-water mark ({@code VmHWM} in /proc/self/status: Java heap, ND4J's and libtorch's native buffers and
 * the code, everything), {@code peak-heap} the sum of the Java heap pools' peak usage. Every configuration
 * runs in its own fork, so the figures are per configuration (set-up and parity checks included).
 */
public final class PeakMemoryProfiler implements InternalProfiler {
    /** Label of the resident-set peak in JMH's results. */
    public static final String RSS = "peak-rss";
    /** Label of the Java heap peak. */
    public static final String HEAP = "peak-heap";

    @Override
    public String getDescription() {
        return "peak resident set (VmHWM) and peak Java heap of the fork, MB";
    }

    @Override
    public void beforeIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams) {}

    @Override
    public Collection<? extends Result> afterIteration(BenchmarkParams benchmarkParams,
            IterationParams iterationParams, IterationResult result) {
        double heap = 0;
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            if (p.getType() == MemoryType.HEAP && p.getPeakUsage() != null) {
                heap += p.getPeakUsage().getUsed();
            }
        }
        return List.of(new ScalarResult(RSS, vmHwmBytes() / 1048576.0, "MB", AggregationPolicy.MAX),
                new ScalarResult(HEAP, heap / 1048576.0, "MB", AggregationPolicy.MAX));
    }

    /** {@code VmHWM} of this process in bytes, NaN where /proc is not available. */
    static double vmHwmBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    String[] p = line.substring(6).trim().split("\\s+");
                    return Double.parseDouble(p[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
        return Double.NaN;
    }
}
