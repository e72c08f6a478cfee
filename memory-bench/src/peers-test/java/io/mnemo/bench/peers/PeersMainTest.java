package io.mnemo.bench.peers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The runner's plan: which JMH selections the ops that passed their gates get. */
class PeersMainTest {

    @Test
    void memoryOpsGetTheirOwnBenchmarksAndTheLinearOpsKeepTheirs() {
        PeersMain.Args a = PeersMain.Args.parse(new String[] {"--quick", "--no-lm", "--no-sgemm"});
        assertTrue(a.opNames.containsAll(List.of("linear_attn", "selective_scan", "titans")), a.opNames.toString());
        Map<String, List<String>> ok = new LinkedHashMap<>();
        ok.put("cpu", List.of("linear_attn", "selective_scan", "titans"));
        ok.put("nd4j", List.of("linear_attn", "selective_scan", "titans"));
        ok.put("torch", List.of("selective_scan", "titans"));
        List<PeersMain.Selection> s = PeersMain.plan(a, 1, ok, ok);
        List<String> includes = s.stream().map(x -> x.include() + " " + x.params().get("impl")).toList();
        assertTrue(includes.contains("PeerScanBench\\.forward$ [nd4j]"), includes.toString());
        assertTrue(includes.contains("PeerTitansBench\\.forwardBackward$ [torch]"), includes.toString());
        assertTrue(includes.contains("PeerTitansBench\\.forward$ [nd4j]"), includes.toString());
        PeersMain.Selection titansNd4jFb = s.stream().filter(x -> x.include().equals("PeerTitansBench\\.forwardBackward$")
                && x.params().get("impl").equals(List.of("nd4j"))).findFirst().orElseThrow();
        assertEquals(List.of("1024"), titansNd4jFb.params().get("t"));
        // the nd4j step of Titans: no stepper, so the gates never mark it ok; the forward rows keep --t, the
        // forward+backward rows stop at --nd4j-max-t like every nd4j row
        Map<String, List<String>> steps2 = new LinkedHashMap<>(ok);
        steps2.put("nd4j", List.of("selective_scan"));
        PeersMain.Args longT = PeersMain.Args.parse(new String[] {"--quick", "--no-lm", "--no-sgemm", "--t",
            "1024,8192", "--nd4j-max-t", "4096"});
        List<PeersMain.Selection> s2 = PeersMain.plan(longT, 1, ok, steps2);
        assertEquals(List.of("1024", "8192"), s2.stream().filter(x -> x.include().equals("PeerTitansBench\\.forward$")
                && x.params().get("impl").equals(List.of("nd4j"))).findFirst().orElseThrow().params().get("t"));
        assertEquals(List.of("1024"), s2.stream().filter(x -> x.include().equals("PeerTitansBench\\.forwardBackward$")
                && x.params().get("impl").equals(List.of("nd4j"))).findFirst().orElseThrow().params().get("t"));
        assertEquals(List.of("selective_scan"), s2.stream().filter(x -> x.include().startsWith("PeerMemoryStepBench")
                && x.params().get("impl").equals(List.of("nd4j"))).findFirst().orElseThrow().params().get("op"));
        assertTrue(includes.stream().noneMatch(x -> x.startsWith("PeerOpBench") && x.endsWith("[torch]")),
                includes.toString());
        PeersMain.Selection steps = s.stream().filter(x -> x.include().startsWith("PeerMemoryStepBench")
                && x.params().get("impl").equals(List.of("cpu"))).findFirst().orElseThrow();
        assertEquals(List.of("selective_scan", "titans"), steps.params().get("op"));
        PeersMain.Selection linear = s.stream().filter(x -> x.include().startsWith("PeerOpBench\\.forward$")
                && x.params().get("impl").equals(List.of("cpu"))).findFirst().orElseThrow();
        assertEquals(List.of("linear_attn"), linear.params().get("op"));
        assertThrows(IllegalArgumentException.class, () -> PeersMain.Args.parse(new String[] {"--ops", "mamba3"}));
    }

    @Test
    void titansNd4jPassesItsGateForTheForwardRowsButHasNoStep() {
        List<PeersRecord.Gate> gates = new java.util.ArrayList<>();
        Map<String, List<String>> opsOk = new LinkedHashMap<>();
        Map<String, List<String>> stepOk = new LinkedHashMap<>();
        opsOk.put("nd4j", new java.util.ArrayList<>());
        stepOk.put("nd4j", new java.util.ArrayList<>());
        PeersMain.memoryGates("titans", List.of("nd4j"), gates, opsOk, stepOk);
        assertEquals("ok", gates.get(0).status(), gates.toString()); // Nd4jTitansKernel against the reference
        assertEquals(List.of("titans"), opsOk.get("nd4j"));
        assertEquals(List.of(), stepOk.get("nd4j"));
        assertEquals("nd4j-step", gates.get(1).impl());
        assertTrue(gates.get(1).status().startsWith("unavailable: no nd4j stepper"), gates.toString());
    }

    @Test
    void everyRunnerGetsOmpThreadsEqualToItsThreadCount() {
        for (int n : new int[] {1, 2}) {
            Map<String, String> env = new LinkedHashMap<>();
            for (String[] e : PeerEnv.environment(n, true)) {
                env.put(e[0], e[1]);
            }
            assertEquals(n > 1 ? "true" : null, env.get("OMP_PROC_BIND"));
            assertEquals(String.valueOf(n), env.get("OMP_NUM_THREADS"));
            assertEquals(String.valueOf(n), env.get("OPENBLAS_NUM_THREADS"));
            assertTrue(PeerEnv.jvmArgs(n).contains("-D" + PeerEnv.THREADS + "=" + n), PeerEnv.jvmArgs(n).toString());
        }
        // a fork whose OMP_NUM_THREADS differs from its label is refused (this test JVM has no label)
        assertThrows(IllegalStateException.class, () -> PeerEnv.require(1, false));
    }

    @Test
    void onlyPyTorchForksRunWithBinding() {
        for (boolean bind : new boolean[] {false, true}) {
            Map<String, String> env = new LinkedHashMap<>();
            for (String[] e : PeerEnv.environment(2, bind)) {
                env.put(e[0], e[1]);
            }
            assertEquals(bind ? "true" : null, env.get("OMP_PROC_BIND"));
            assertEquals("2", env.get("OMP_NUM_THREADS"));
        }
        List<PeersMain.Selection> sel = List.of(
                new PeersMain.Selection("PeerSgemmBench\\.mmul$", Map.of("impl", List.of("nd4j", "torch", "mnemo"),
                        "threads", List.of("2")), false),
                new PeersMain.Selection("PeerOpBench\\.forward$", Map.of("impl", List.of("torch"), "threads",
                        List.of("2")), false),
                new PeersMain.Selection("PeerOpBench\\.forward$", Map.of("impl", List.of("cpu"), "threads",
                        List.of("2")), false),
                new PeersMain.Selection("LmBench\\.(train|infer)$", Map.of("model", List.of("gdn-small"),
                        "threads", List.of("2")), true));
        List<PeersMain.Selection> bound = PeersMain.bound(sel, true);
        List<PeersMain.Selection> free = PeersMain.bound(sel, false);
        assertEquals(2, bound.size());
        assertEquals(List.of("torch"), bound.get(0).params().get("impl"));
        assertEquals(List.of("torch"), bound.get(1).params().get("impl"));
        assertEquals(3, free.size());
        assertEquals(List.of("nd4j", "mnemo"), free.get(0).params().get("impl"));
        assertEquals(List.of("cpu"), free.get(1).params().get("impl"));
        assertEquals(sel.get(3), free.get(2)); // language models: no PyTorch, no binding
        assertEquals(sel.stream().mapToInt(PeersMain::count).sum(),
                bound.stream().mapToInt(PeersMain::count).sum() + free.stream().mapToInt(PeersMain::count).sum());
    }

    @Test
    void countsLinuxCpuLists() {
        assertEquals(1, PeerEnv.countCpus("0"));
        assertEquals(2, PeerEnv.countCpus("0-1"));
        assertEquals(7, PeerEnv.countCpus("0-3,8,10-11"));
        assertEquals(0, PeerEnv.countCpus(""));
    }
}
