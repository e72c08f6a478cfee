package io.mnemo.bench.peers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mnemo.bench.JmhResults;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * JMH rows of a peer run with their secondary results (the peak memory of {@link PeakMemoryProfiler}).
 *
 * @param row the primary result (time per call)
 * @param peakRssMb peak resident set of the fork in MB, NaN if not recorded
 * @param peakHeapMb peak Java heap of the fork in MB, NaN if not recorded
 */
public record PeerRows(JmhResults.Row row, double peakRssMb, double peakHeapMb) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Rows of a JMH JSON file; an absent file gives no rows. */
    public static List<PeerRows> read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            return List.of();
        }
        return parse(Files.readString(file));
    }

    /** Rows of a JMH JSON document. */
    public static List<PeerRows> parse(String json) throws IOException {
        List<JmhResults.Row> rows = JmhResults.parse(json);
        JsonNode root = JSON.readTree(json);
        List<PeerRows> out = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            JsonNode sec = root.get(i).path("secondaryMetrics");
            out.add(new PeerRows(rows.get(i), metric(sec, PeakMemoryProfiler.RSS), metric(sec,
                    PeakMemoryProfiler.HEAP)));
        }
        return out;
    }

    private static double metric(JsonNode sec, String label) {
        JsonNode n = sec.path(label);
        if (n.isMissingNode()) {
            // JMH may prefix secondary labels (e.g. "·peak-rss")
            var it = sec.fields();
            while (it.hasNext()) {
                var e = it.next();
                if (e.getKey().endsWith(label)) {
                    n = e.getValue();
                    break;
                }
            }
        }
        return n.path("score").isNumber() ? n.path("score").asDouble() : Double.NaN;
    }

    /** The first row of {@code cls.method} whose parameters include all of {@code match}. */
    public static Optional<PeerRows> find(List<PeerRows> rows, String cls, String method, Map<String, String> match) {
        for (PeerRows r : rows) {
            JmhResults.Row x = r.row();
            if (x.benchmarkClass().equals(cls) && x.method().equals(method)
                    && match.entrySet().stream().allMatch(e -> e.getValue().equals(x.params().get(e.getKey())))) {
                return Optional.of(r);
            }
        }
        return Optional.empty();
    }

    /** A parameter map from alternating keys and values. */
    static Map<String, String> params(Object... kv) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(String.valueOf(kv[i]), String.valueOf(kv[i + 1]));
        }
        return m;
    }
}
