package io.mnemo.bench.peers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.bench.BenchReport;
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

/** The peers section from fake JMH results: ratios, fraction of roofline, goals, markers. */
class PeersReportTest {

    private static String row(String bench, String params, double score, String unit, double rss) {
        return "{\"benchmark\": \"io.mnemo.bench.peers." + bench + "\", \"mode\": \"avgt\", \"params\": {" + params
                + "}, \"primaryMetric\": {\"score\": " + score + ", \"scoreError\": 0.1, \"scoreUnit\": \"" + unit
                + "\"}, \"secondaryMetrics\": {\"peak-rss\": {\"score\": " + rss + ", \"scoreUnit\": \"MB\"}}}";
    }

    private static String op(String method, String impl, double ms) {
        return row("PeerOpBench." + method, "\"op\": \"linear_attn\", \"impl\": \"" + impl
                + "\", \"b\": \"1\", \"t\": \"4096\", \"threads\": \"1\"", ms, "ms/op", 321);
    }

    @Test
    void sectionStatesRatiosRooflineAndGoals(@TempDir Path tmp) throws Exception {
        String json = "[" + String.join(",\n", List.of(
                // 2·256³ flops: 335.54432 µs = 100 GFLOP/s, 167.77216 µs = 200 GFLOP/s (the roofline)
                row("PeerSgemmBench.mmul", "\"impl\": \"nd4j\", \"shape\": \"256\", \"threads\": \"1\"", 335.54432,
                        "us/op", 200),
                row("PeerSgemmBench.mmul", "\"impl\": \"torch\", \"shape\": \"256\", \"threads\": \"1\"", 167.77216,
                        "us/op", 200),
                op("forwardBackward", "cpu", 10), op("forwardBackward", "torch", 37),
                op("forwardBackward", "nd4j", 120), op("forward", "torch", 9),
                row("LmBench.train", "\"model\": \"mnemo:gdn-small\", \"t\": \"512\", \"b\": \"1\", \"threads\": \"1\"",
                        100, "ms/op", 400),
                row("LmBench.train", "\"model\": \"dl4j:lstm\", \"t\": \"512\", \"b\": \"1\", \"threads\": \"1\"", 300,
                        "ms/op", 500),
                // Mnemo's own GEMM at 50 GFLOP/s: a row of the roofline table, not the roofline
                row("PeerSgemmBench.mmul", "\"impl\": \"mnemo\", \"shape\": \"256\", \"threads\": \"1\"", 671.08864,
                        "us/op", 200))) + "]";
        List<PeerRows> rows = PeerRows.parse(json);
        assertEquals(321, rows.get(2).peakRssMb());
        MachineInfo m = new MachineInfo("Test CPU", 2, "SkylakeX", "SkylakeX", "SkylakeX", "avx512f", "OpenJDK 17", true,
                512, "CpuBackend", "unset", "Linux", "0.1 0.1 0.1");
        Settings s = new Settings("full", 1, 1, 3, 2, List.of(1), List.of("linear_attn"), List.of("cpu", "nd4j", "torch"),
                List.of(1), List.of(4096), 4096, List.of("mnemo:gdn-small", "dl4j:lstm"), List.of(512), 1, List.of("256"),
                List.of("sgemm", "ops", "step", "lm"), 4, 64, 64);
        PeersRecord rec = new PeersRecord("20260101-000000", "", "memory-bench/results/x", s, m,
                new TorchInfo("2.7.1", "0.35.1", "test build"), Map.of("1", "OMP_NUM_THREADS=1"),
                List.of(new Gate("linear_attn", "torch", "ok", 2e-7)),
                List.of(new ModelInfo("mnemo:gdn-small", 431824, "gdn"), new ModelInfo("dl4j:lstm", 432660, "lstm")), 60,
                List.of(new JfrSummary.Profile("PeerOpBench.forwardBackward-impl-cpu", 100, List.of("Kernel.run 90.0 %"))),
                "", "1.5 0.7 0.2");
        Path docs = tmp.resolve("docs");
        Files.createDirectories(docs);
        Files.writeString(docs.resolve("benchmarks.md"), "# Mnemo benchmarks\n\nother sections\n");
        new PeersReport(rec, rows).write(docs);
        Path md = new PeersReport(rec, rows).write(docs); // a second run replaces the section
        String text = Files.readString(md);
        assertTrue(text.contains("load average at start 0.1 0.1 0.1, at end 1.5 0.7 0.2 (1, 5, 15 min;"), text);

        assertTrue(text.startsWith("# Mnemo benchmarks\n\nother sections\n"), text);
        assertEquals(text.indexOf(BenchReport.PEERS_BEGIN), text.lastIndexOf(BenchReport.PEERS_BEGIN), text);
        assertTrue(text.contains("| 1 | ND4J / OpenBLAS | 100 | **100** |"), text);
        assertTrue(text.contains("| 1 | Mnemo `VecOps.gemm` (1 thread) | 50.0 | **50.0** |"), text);
        assertTrue(text.contains("1 thread: **200 GFLOP/s**"), text);
        assertTrue(text.contains("B=1 H=4 T=4096 D=64, 1 thread | ~9 ms | 9.00 ms |"), text);
        assertTrue(text.contains("| same, forward+backward | ~37 ms | 37.0 ms |"), text);
        // the cpu backend runs linear_attn at T=4096 in the chunked form (CpuChunkedLinearKernel): fwd+bwd
        // 3·32768 flops × 4·4096 token-heads / 10 ms = 161 GFLOP/s = 80.5 % of 200
        assertTrue(text.contains("| linear_attn | 1 | 4096 | 1 | 10.0 | 37.0 | 3.70× met | 120 | 12.0× met | 80.5 % "
                + "met |"), text);
        assertTrue(text.contains("Goals met: 3; missed: 0."), text);
        // per-op table: cpu/PyTorch 10/37 = 0.270, cpu/nd4j 0.0833; chunked fwd+bwd 3·32768 → PyTorch 21.8 %
        assertTrue(text.contains("| 1 | 4096 | 1 | fwd+bwd | 10.0 | 120 | 37.0 | 2.44 | 0.270 | 0.0833 | 80.5 % |"),
                text);
        assertTrue(text.contains("| 21.8 % | 321 / 321 / 321 |"), text);
        // LM: 512 tokens in 100 ms = 5,120 tok/s; LSTM 300 ms: Mnemo 3× the tokens per second
        assertTrue(text.contains("| mnemo:gdn-small | 512 | 1 | 5,120 | – | 1 | 1 | 400 | – |"), text);
        assertTrue(text.contains("| dl4j:lstm | 512 | 1 | 1,707 | – | 3.00 | – | 500 | – |"), text);
        assertTrue(text.contains("Kernel.run 90.0 %"), text);
        assertTrue(text.contains("Titans memory, one-token step on the nd4j backend"), text);
        assertTrue(Files.size(docs.resolve("img/peers-linear_attn-1t.png")) > 1000);
        assertTrue(Files.size(docs.resolve("img/peers-sgemm.png")) > 1000);
        assertTrue(Files.size(docs.resolve("img/peers-lm.png")) > 1000);
        // the main report keeps the section when it rewrites the file
        assertTrue(BenchReport.peersSection(md).orElseThrow().endsWith(BenchReport.PEERS_END));
    }
    private static String mem(String cls, String method, String impl, double ms) {
        return row(cls + "." + method, "\"impl\": \"" + impl + "\", \"b\": \"1\", \"t\": \"4096\", \"threads\": \"1\"",
                ms, "ms/op", 500);
    }

    @Test
    void selectiveScanAndTitansGetTheirRowsRatiosAndFlopModels(@TempDir Path tmp) throws Exception {
        String json = "[" + String.join(",\n", List.of(
                row("PeerSgemmBench.mmul", "\"impl\": \"torch\", \"shape\": \"256\", \"threads\": \"1\"", 167.77216,
                        "us/op", 200),
                mem("PeerScanBench", "forwardBackward", "cpu", 10), mem("PeerScanBench", "forwardBackward", "torch", 50),
                mem("PeerScanBench", "forwardBackward", "nd4j", 120),
                mem("PeerTitansBench", "forwardBackward", "cpu", 100),
                mem("PeerTitansBench", "forwardBackward", "torch", 400),
                row("PeerMemoryStepBench.step", "\"op\": \"titans\", \"impl\": \"cpu\", \"b\": \"1\", "
                        + "\"threads\": \"1\"", 20, "us/op", 300),
                row("PeerMemoryStepBench.step", "\"op\": \"titans\", \"impl\": \"torch\", \"b\": \"1\", "
                        + "\"threads\": \"1\"", 200, "us/op", 300))) + "]";
        MachineInfo m = new MachineInfo("Test CPU", 2, "SkylakeX", "SkylakeX", "SkylakeX", "avx512f", "OpenJDK 17", true,
                512, "CpuBackend", "unset", "Linux", "0.1 0.1 0.1");
        Settings s = new Settings("full", 1, 1, 3, 2, List.of(1), List.of("selective_scan", "titans"),
                List.of("cpu", "nd4j", "torch"), List.of(1), List.of(4096), 4096, List.of(), List.of(512), 1,
                List.of("256"), List.of("sgemm", "ops", "step"), 4, 64, 64);
        PeersRecord rec = new PeersRecord("20260101-000000", "", "memory-bench/results/x", s, m,
                new TorchInfo("2.7.1", "0.35.1", "test build"), Map.of("1", "OMP_NUM_THREADS=1"),
                List.of(new Gate("titans", "nd4j", "unavailable: no nd4j backend", Double.NaN)), List.of(), 60,
                List.of(), "", null);
        Path docs = tmp.resolve("docs");
        String text = Files.readString(new PeersReport(rec, PeerRows.parse(json)).write(docs));
        assertTrue(text.contains("load average at start 0.1 0.1 0.1, at end not recorded"), text);
        // scan fwd+bwd: 3·(7·16 + 7)·256 = 91,392 flops/token × 4096 / 10 ms = 37.4 GFLOP/s = 18.7 % of 200
        assertTrue(text.contains("| selective_scan | 1 | 4096 | 1 | 10.0 | 50.0 | 5.00× met | 120 | 12.0× met | 18.7 % "
                + "**missed** |"), text);
        // Titans: cpu 3·20·4·64²·4 = 3,932,160 flops/token / 100 ms → 161 GFLOP/s = 80.5 %; PyTorch chunked
        // 3·(22·4·64² + 4·64·64 + 4·64·4·64 + 2·64²)·4 = 5,406,720 / 400 ms → 55.4 GFLOP/s = 27.7 %
        assertTrue(text.contains("| titans | 1 | 4096 | 1 | 100 | 400 | 4.00× met | – | failed its gate | 80.5 % met |"),
                text);
        assertTrue(text.contains("| 1 | 4096 | 1 | fwd+bwd | 100 | – | 400 | 24.4 | 0.250 | – | 80.5 % | – | 27.7 % |"),
                text);
        assertTrue(text.contains("| selective_scan | D_inner=256, N=16 | D_inner·(7·N + 7) = 30,464 | 30,464 |"), text);
        assertTrue(text.contains("| titans | depth 2, H=4, D=64, E=4, chunk 64 | H·20·E·D² = 1,310,720 | 1,802,240 |"),
                text);
        assertTrue(text.contains("| titans | 1 | 1 | 20.0 | – | 200 | 0.100 | – |"), text);
        assertTrue(text.contains("Goals met: 4; missed: 1."), text);
        assertTrue(Files.size(docs.resolve("img/peers-selective_scan-1t.png")) > 1000);
        assertTrue(Files.size(docs.resolve("img/peers-titans-1t.png")) > 1000);
    }
}
