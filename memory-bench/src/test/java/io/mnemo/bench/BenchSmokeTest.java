package io.mnemo.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.bench.RunRecord.CoreType;
import io.mnemo.bench.RunRecord.Settings;
import io.mnemo.bench.RunRecord.Unavailable;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.linear.LinearOp;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The benchmarks' parity gate and the report writer, without timing anything. */
class BenchSmokeTest {

    @ParameterizedTest
    @EnumSource(LinearOp.class)
    void cpuBackendAndStepperPassParity(LinearOp op) {
        Map<String, Double> fwdBwd = Parity.require(op, Backend.CPU);
        assertTrue(fwdBwd.containsKey("o") && fwdBwd.containsKey("dq") && fwdBwd.containsKey("d_initial_state"),
                fwdBwd.toString());
        fwdBwd.values().forEach(e -> assertTrue(e <= Parity.TOLERANCE, fwdBwd.toString()));
        Map<String, Double> step = Parity.requireStepper(op);
        step.values().forEach(e -> assertTrue(e <= Parity.TOLERANCE, step.toString()));
        assertNull(BenchMain.check(() -> Parity.require(op, Backend.CPU)));
    }

    @Test
    void unavailableBackendIsReportedNotThrown() {
        String status = BenchMain.check(() -> {
            throw new UnsupportedOperationException("not yet");
        });
        assertEquals("unavailable: not yet", status);
        assertTrue(BenchMain.check(() -> {
            throw new Parity.ParityException("off by 1");
        }).startsWith("refused: "));
    }

    @Test
    void relErrFlagsNaN() {
        var a = BenchData.randn(1, 3, 4);
        assertEquals(0.0, Parity.relErr(a, a));
        assertEquals(Double.POSITIVE_INFINITY, Parity.relErr(a.dup().putScalar(0, Float.NaN), a));
        assertThrows(Parity.ParityException.class, () -> Parity.relErr(a, BenchData.randn(1, 4, 3)));
    }

    @Test
    void reportFromFakeJmhResult(@TempDir Path tmp) throws Exception {
        String json = """
                [
                  {"benchmark": "io.mnemo.bench.LinearSeqBench.forward", "mode": "avgt",
                   "params": {"op": "linear_attn", "backend": "cpu", "t": "256"},
                   "primaryMetric": {"score": 2.0, "scoreError": 0.1, "scoreUnit": "ms/op"}},
                  {"benchmark": "io.mnemo.bench.LinearSeqBench.forward", "mode": "avgt",
                   "params": {"op": "linear_attn", "backend": "cpu", "t": "1024"},
                   "primaryMetric": {"score": 8.0, "scoreError": "NaN", "scoreUnit": "ms/op"}},
                  {"benchmark": "io.mnemo.bench.LinearSeqBench.forwardBackward", "mode": "avgt",
                   "params": {"op": "linear_attn", "backend": "cpu", "t": "256"},
                   "primaryMetric": {"score": 6000.0, "scoreError": 10.0, "scoreUnit": "us/op"}},
                  {"benchmark": "io.mnemo.bench.LinearStepBench.stepKernel", "mode": "avgt",
                   "params": {"op": "linear_attn"},
                   "primaryMetric": {"score": 16.0, "scoreError": 1.0, "scoreUnit": "us/op"}},
                  {"benchmark": "io.mnemo.bench.SgemmBench.mmul", "mode": "avgt",
                   "params": {"shape": "256", "coretype": "unset"},
                   "primaryMetric": {"score": 3355.4432, "scoreError": 1.0, "scoreUnit": "us/op"}},
                  {"benchmark": "io.mnemo.bench.SgemmBench.mmul", "mode": "avgt",
                   "params": {"shape": "256", "coretype": "SkylakeX"},
                   "primaryMetric": {"score": 335.54432, "scoreError": 1.0, "scoreUnit": "us/op"}}
                ]""";
        Path jmh = tmp.resolve("jmh.json");
        Files.writeString(jmh, json);
        List<JmhResults.Row> rows = JmhResults.read(jmh);
        assertEquals(6, rows.size());
        assertEquals(2e-3, rows.get(0).seconds(), 1e-12);
        assertEquals(6e-3, rows.get(2).seconds(), 1e-12);
        assertTrue(Double.isNaN(rows.get(1).errorSeconds()));

        MachineInfo m = new MachineInfo("Test CPU", 2, "SkylakeX", "SkylakeX", "SkylakeX", "avx avx2 avx512f",
                "OpenJDK 17", true, 512, "CpuBackend", "unset", "Linux", "0.5 0.5 0.5");
        Settings s = new Settings("quick", 1, 1, 2, 1, List.of("linear_attn"), List.of("cpu", "nd4j"),
                List.of(256, 1024), 4096, true, List.of("256"), 4, 4, 64);
        RunRecord rec = new RunRecord("20260101-000000", "--quick", "memory-bench/results/x", s, m,
                List.of(new CoreType("unset", "Prescott", "ok"), new CoreType("SkylakeX", "SkylakeX", "ok")),
                List.of(new Unavailable("linear_attn", "nd4j", "unavailable: not there yet")), "test note");
        Path md = new BenchReport(rec, rows).write(tmp.resolve("docs"));
        String text = Files.readString(md);

        // sgemm: 2·256³ flops in 3355 µs = 10 GFLOP/s unset, 100 with SkylakeX, the roofline.
        assertTrue(text.contains("| unset | Prescott | 10.0 | 10.0 | 1.00× |"), text);
        assertTrue(text.contains("| SkylakeX | SkylakeX | 100 | 100 | 10.0× |"), text);
        // forward T=256: 2 ms over 4·4·256 token-heads = 0.488 µs; 4·64·64 flops each → 33.6 GFLOP/s, 33.6 % of 100.
        assertTrue(text.contains("| 256 | cpu | 2.00 ± 0.100 | 0.488 | 33.6 | 33.6 % | 6.00 ± 0.0100 | 1.46 | 33.6 |"),
                text);
        assertTrue(text.contains("| 1024 | cpu | 8.00 | 0.488 |"), text);
        assertTrue(text.contains("| all | nd4j | unavailable: not there yet |"), text);
        // step kernel: 16 µs for 16 heads.
        assertTrue(text.contains("`LinearStepper.stepArrays` (kernel only) | 16.0 | 1.00 |"), text);
        assertTrue(text.contains("Flatness: needs T=1024 and a longer T"), text);
        assertTrue(text.contains("> test note"));
        assertTrue(Files.size(tmp.resolve("docs/img/bench-linear_attn.png")) > 1000);
        assertTrue(Files.size(tmp.resolve("docs/img/bench-sgemm.png")) > 1000);
    }
}
