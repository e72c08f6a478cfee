package io.mnemo.bench.peers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.mnemo.bench.MachineInfo;
import io.mnemo.bench.peers.PeersRecord.Gate;
import io.mnemo.bench.peers.PeersRecord.ModelInfo;
import io.mnemo.bench.peers.PeersRecord.Settings;
import io.mnemo.bench.peers.PeersRecord.TorchInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Merging peer runs made in parts: union, later part wins, same machine only, failed gates kept, report, re-merge. */
class PeersMergeTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static String row(String method, String impl, double ms) {
        return "{\"benchmark\": \"io.mnemo.bench.peers.PeerOpBench." + method + "\", \"mode\": \"avgt\", \"params\": "
                + "{\"op\": \"linear_attn\", \"impl\": \"" + impl + "\", \"b\": \"1\", \"t\": \"4096\", \"threads\": "
                + "\"1\"}, \"primaryMetric\": {\"score\": " + ms + ", \"scoreError\": 0.1, \"scoreUnit\": \"ms/op\"}, "
                + "\"secondaryMetrics\": {}}";
    }

    private static MachineInfo machine(int cores, String load) {
        return new MachineInfo("Test CPU", cores, "SkylakeX", "SkylakeX", "SkylakeX", "avx512f", "OpenJDK 17", true, 512,
                "CpuBackend", "unset", "Linux", load);
    }

    private static Settings settings(List<Integer> threads, List<String> parts) {
        return new Settings("custom", 1, 1, 3, 2, threads, List.of("linear_attn"), List.of("cpu", "torch"), List.of(1),
                List.of(4096), 4096, List.of("mnemo:gdn-small"), List.of(512), 1, List.of("256"), parts, 4, 64, 64);
    }

    /** Writes a results directory with one run's record and rows. */
    private static Path part(Path root, String stamp, MachineInfo m, Settings s, List<Gate> gates, String... rows)
            throws Exception {
        Path dir = root.resolve(stamp + "-peers");
        Files.createDirectories(dir);
        PeersRecord rec = new PeersRecord(stamp, "--threads " + s.threads().get(0), "memory-bench/results/" + stamp
                + "-peers", s, m, new TorchInfo("2.7.1", "0.35.1", "test"), Map.of(String.valueOf(s.threads().get(0)),
                "OMP_NUM_THREADS=" + s.threads().get(0)), gates, List.of(new ModelInfo("mnemo:gdn-small", 1, "gdn")), 600,
                List.of(), "part " + stamp, "0.5 0.5 0.5");
        JSON.writeValue(dir.resolve("peers-run.json").toFile(), rec);
        Files.writeString(dir.resolve("jmh.json"), "[" + String.join(",\n", rows) + "]");
        return dir;
    }

    @Test
    void aRefusalStaysNamedThroughLaterPasses(@TempDir Path tmp) throws Exception {
        Path a = part(tmp, "20260101-000000", machine(2, "0.1 0.1 0.1"), settings(List.of(1), List.of("ops")),
                List.of(new Gate("gated_delta_rule", "torch", "refused: dq 2e36", Double.NaN)),
                row("forwardBackward", "cpu", 10));
        Path b = part(tmp, "20260102-000000", machine(2, "0.1 0.1 0.1"), settings(List.of(1), List.of("ops")),
                List.of(new Gate("gated_delta_rule", "torch", "ok", 3e-7)), row("forwardBackward", "cpu", 11));
        Path c = part(tmp, "20260103-000000", machine(2, "0.1 0.1 0.1"), settings(List.of(2), List.of("ops")),
                List.of(new Gate("gated_delta_rule", "torch", "ok", 4e-7)), row("forwardBackward", "cpu", 12));
        PeersMerge.Merged m = PeersMerge.merge(List.of(c, a, b), "20260104-000000", "memory-bench/results/merged");
        Gate g = m.record().gates().get(0);
        assertEquals("ok (refused in the earlier part 20260101-000000: refused: dq 2e36)", g.status(),
                "the last pass keeps naming the refusal");
        assertEquals(4e-7, g.maxError());
    }

    @Test
    void unionLaterPartWinsAndRefusalsStayVisible(@TempDir Path tmp) throws Exception {
        // given in reverse order: the merge orders parts by timestamp, not by argument order
        Path b = part(tmp, "20260102-000000", machine(2, "0.2 0.2 0.2"), settings(List.of(2), List.of("ops")),
                List.of(new Gate("linear_attn", "torch", "ok", 1e-7), new Gate("simple_gla", "torch", "refused: NaN",
                        Double.NaN)), row("forwardBackward", "cpu", 20),
                row("forward", "torch", 9));
        Path a = part(tmp, "20260101-000000", machine(2, "0.1 0.1 0.1"), settings(List.of(1), List.of("ops", "sgemm")),
                List.of(new Gate("linear_attn", "torch", "refused: differs by 1e-2", 1e-2),
                        new Gate("simple_gla", "torch", "ok", 2e-7)),
                row("forwardBackward", "cpu", 10), row("forwardBackward", "torch", 37));
        PeersMerge.Merged m = PeersMerge.merge(List.of(b, a), "20260103-000000", "memory-bench/results/merged");

        List<PeerRows> rows = PeerRows.parse(JSON.writeValueAsString(m.jmh()));
        assertEquals(3, rows.size(), "union of 2 + 2 rows with one configuration in both");
        double cpuFb = rows.stream().filter(r -> r.row().method().equals("forwardBackward")
                && r.row().param("impl").equals("cpu")).findFirst().orElseThrow().row().seconds() * 1e3;
        assertEquals(20, cpuFb, 1e-12, "the later part's result wins");
        assertEquals(List.of(1, 2), m.record().settings().threads());
        assertEquals(List.of("ops", "sgemm"), m.record().settings().parts());
        assertEquals("merged", m.record().settings().mode());
        assertEquals(2, m.record().gates().size());
        Gate fixed = m.record().gates().get(0);
        assertEquals("ok (refused in the earlier part 20260101-000000: refused: differs by 1e-2)", fixed.status(),
                "a later pass wins and names the earlier refusal");
        assertEquals(1e-7, fixed.maxError());
        assertTrue(PeersMerge.passed(fixed));
        assertEquals("refused: NaN", m.record().gates().get(1).status(), "a later refusal wins over an earlier pass");
        assertEquals(List.of("20260101-000000", "20260102-000000"), m.parts().stream().map(PeersMerge.Part::timestamp)
                .toList());
        assertEquals("0.1 0.1 0.1", m.parts().get(0).loadAverageStart());
        assertEquals(1200, m.record().wallSeconds(), 1e-9);

        // the report lists the parts
        Path docs = tmp.resolve("docs");
        Files.createDirectories(docs);
        String text = Files.readString(new PeersReport(m.record(), rows, m.parts()).write(docs));
        assertTrue(text.contains("Merged from 2 runs made in parts"), text);
        assertTrue(text.contains("| `memory-bench/results/20260101-000000-peers` |"), text);
        assertTrue(text.contains("| `memory-bench/results/20260102-000000-peers` |"), text);

        // a merged directory can be merged again: its parts are carried over
        Path merged = tmp.resolve("20260103-000000-peers-merged");
        PeersMerge.write(m, merged);
        Path c = part(tmp, "20260104-000000", machine(2, "0.3 0.3 0.3"), settings(List.of(1), List.of("lm")), List.of(),
                row("forward", "cpu", 3));
        PeersMerge.Merged again = PeersMerge.merge(List.of(merged, c), "20260105-000000", "x");
        assertEquals(3, again.parts().size());
        assertEquals(4, again.jmh().size());
        assertEquals(List.of("ops", "sgemm", "lm"), again.record().settings().parts());
        // a later part recorded under JFR fills gaps only: its timing of a configuration measured cleanly is dropped
        Path j = part(tmp, "20260106-000000", machine(2, "0.3 0.3 0.3"), settings(List.of(1), List.of("ops")), List.of(),
                row("forward", "cpu", 99), row("forward", "nd4j", 50));
        PeersRecord jr = JSON.readValue(j.resolve("peers-run.json").toFile(), PeersRecord.class);
        JSON.writeValue(j.resolve("peers-run.json").toFile(), new PeersRecord(jr.timestamp(), "--impls cpu --jfr",
                jr.resultsDir(), jr.settings(), jr.machine(), jr.torch(), jr.environments(), jr.gates(), jr.models(),
                jr.wallSeconds(), List.of(new JfrSummary.Profile("PeerOpBench.forward-impl-cpu", 10, List.of("x 100 %"))),
                jr.note(), jr.loadAverageEnd()));
        PeersMerge.Merged withJfr = PeersMerge.merge(List.of(merged, c, j), "20260107-000000", "y");
        List<PeerRows> jrows = PeerRows.parse(JSON.writeValueAsString(withJfr.jmh()));
        assertEquals(5, jrows.size(), "4 clean rows and the profiled part's one new configuration");
        assertEquals(3, jrows.stream().filter(r -> r.row().method().equals("forward")
                && r.row().param("impl").equals("cpu")).findFirst().orElseThrow().row().seconds() * 1e3, 1e-12,
                "the clean timing stays");
        assertEquals(1, withJfr.record().profiles().size(), "the profile is kept");

        // the last part's note, unless the merge gives its own
        assertEquals("part 20260104-000000", again.record().note());
        assertEquals("all parts on a quiet machine", again.withNote("all parts on a quiet machine").record().note());
    }

    @Test
    void partsFromAnotherMachineOrMissingAreRefused(@TempDir Path tmp) throws Exception {
        Path a = part(tmp, "20260101-000000", machine(2, "0 0 0"), settings(List.of(1), List.of("ops")), List.of(),
                row("forward", "cpu", 1));
        Path b = part(tmp, "20260102-000000", machine(4, "0 0 0"), settings(List.of(2), List.of("ops")), List.of(),
                row("forward", "cpu", 1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PeersMerge.merge(List.of(a, b), "s", "d"));
        assertTrue(e.getMessage().contains("cores is '2'") && e.getMessage().contains("'4'"), e.getMessage());

        Path missing = tmp.resolve("nope");
        e = assertThrows(IllegalArgumentException.class, () -> PeersMerge.merge(List.of(a, missing), "s", "d"));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> PeersMerge.merge(List.of(a), "s", "d"));
        assertTrue(e.getMessage().contains("at least two"), e.getMessage());

        PeersMain.Args args = PeersMain.Args.parse(new String[] {"--merge", "a,b"});
        assertEquals(List.of("a", "b"), args.merge);
    }
}
