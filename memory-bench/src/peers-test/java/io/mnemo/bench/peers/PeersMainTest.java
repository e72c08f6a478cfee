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
        ok.put("nd4j", List.of("linear_attn", "selective_scan")); // titans has no nd4j backend: its gate fails
        ok.put("torch", List.of("selective_scan", "titans"));
        List<PeersMain.Selection> s = PeersMain.plan(a, 1, ok, ok);
        List<String> includes = s.stream().map(x -> x.include() + " " + x.params().get("impl")).toList();
        assertTrue(includes.contains("PeerScanBench\\.forward$ [nd4j]"), includes.toString());
        assertTrue(includes.contains("PeerTitansBench\\.forwardBackward$ [torch]"), includes.toString());
        assertTrue(includes.stream().noneMatch(x -> x.startsWith("PeerTitansBench") && x.endsWith("[nd4j]")),
                includes.toString());
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
}
