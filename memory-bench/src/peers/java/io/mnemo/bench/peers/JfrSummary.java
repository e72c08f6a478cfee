package io.mnemo.bench.peers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedMethod;
import jdk.jfr.consumer.RecordedThread;
import jdk.jfr.consumer.RecordingFile;

/**
 * Where the time goes: the hottest methods of the JFR recordings that {@code --jfr} makes (JMH's JFR profiler,
 * one {@code profile.jfr} per fork, recorded over the measurement iterations only). Counts the Java execution
 * samples and native-method samples of the benchmark's threads by their top frame; "native" covers ND4J's and
 * libtorch's native code called from Java.
 */
public final class JfrSummary {
    private JfrSummary() {}

    /**
     * One recording's hot methods.
     *
     * @param config the fork's JMH id (benchmark, mode and parameters)
     * @param samples execution samples in the recording
     * @param top the hottest methods, "Class.method 12.3 %", hottest first
     */
    public record Profile(String config, long samples, List<String> top) {}

    /** Profiles of every {@code profile.jfr} under {@code dir} whose fork id contains all of {@code filters}. */
    public static List<Profile> read(Path dir, int topN, List<String> filters) throws IOException {
        List<Profile> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        List<Path> files;
        try (Stream<Path> s = Files.walk(dir)) {
            files = s.filter(p -> p.getFileName().toString().equals("profile.jfr")).sorted().toList();
        }
        for (Path f : files) {
            String config = f.getParent().getFileName().toString();
            if (filters.stream().allMatch(config::contains)) {
                out.add(summarize(f, config, topN));
            }
        }
        return out;
    }

    /**
     * Samples of the threads doing the benchmark's work: JMH's worker and the common fork/join pool (Mnemo's cpu
     * kernels); not JMH's own bookkeeping threads (e.g. the one waiting for {@code jcmd}).
     */
    private static boolean benchmarkThread(RecordedEvent e) {
        RecordedThread t = e.getThread("sampledThread");
        String name = t == null ? null : t.getJavaName();
        return name != null && (name.contains("jmh-worker") || name.startsWith("ForkJoinPool"));
    }

    /** The {@code topN} methods of one recording by top-frame samples. */
    static Profile summarize(Path file, String config, int topN) throws IOException {
        Map<String, Long> counts = new HashMap<>();
        long total = 0;
        try (RecordingFile rf = new RecordingFile(file)) {
            while (rf.hasMoreEvents()) {
                RecordedEvent e = rf.readEvent();
                String type = e.getEventType().getName();
                if (!type.equals("jdk.ExecutionSample") && !type.equals("jdk.NativeMethodSample")) {
                    continue;
                }
                if (e.getStackTrace() == null || e.getStackTrace().getFrames().isEmpty() || !benchmarkThread(e)) {
                    continue;
                }
                RecordedFrame top = e.getStackTrace().getFrames().get(0);
                RecordedMethod m = top.getMethod();
                String name = m.getType().getName().replaceAll("^.*\\.", "") + "." + m.getName()
                        + (type.equals("jdk.NativeMethodSample") ? " (native)" : "");
                counts.merge(name, 1L, Long::sum);
                total++;
            }
        }
        long n = total;
        List<String> top = counts.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue(
                Comparator.reverseOrder())).limit(topN)
                .map(x -> String.format(Locale.ROOT, "%s %.1f %%", x.getKey(), 100.0 * x.getValue() / n)).toList();
        return new Profile(config, total, top);
    }
}
