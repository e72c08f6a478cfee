package io.mnemo.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Reads JMH's JSON result format ({@code -rf json}) into rows with times in seconds. */
public final class JmhResults {
    private static final ObjectMapper JSON = new ObjectMapper();

    private JmhResults() {}

    /**
     * One benchmark result.
     *
     * @param benchmarkClass simple class name, e.g. {@code LinearSeqBench}
     * @param method benchmark method, e.g. {@code forward}
     * @param params JMH parameters
     * @param seconds mean time per call in seconds
     * @param errorSeconds JMH's 99.9 % confidence half-width in seconds, NaN when it has none
     */
    public record Row(String benchmarkClass, String method, Map<String, String> params, double seconds,
            double errorSeconds) {
        /** A parameter, or null. */
        public String param(String name) {
            return params.get(name);
        }
    }

    /** Rows of a JMH JSON file. */
    public static List<Row> read(Path file) throws IOException {
        return parse(Files.readString(file));
    }

    /** Rows of a JMH JSON document (an array of benchmark results). */
    public static List<Row> parse(String json) throws IOException {
        JsonNode root = JSON.readTree(json);
        List<Row> out = new ArrayList<>();
        if (root == null || !root.isArray()) {
            return out;
        }
        for (JsonNode r : root) {
            String full = r.path("benchmark").asText();
            int dot = full.lastIndexOf('.');
            String cls = full.substring(0, Math.max(dot, 0));
            cls = cls.substring(cls.lastIndexOf('.') + 1);
            String method = full.substring(dot + 1);
            Map<String, String> params = new LinkedHashMap<>();
            Iterator<Map.Entry<String, JsonNode>> it = r.path("params").fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                params.put(e.getKey(), e.getValue().asText());
            }
            JsonNode pm = r.path("primaryMetric");
            String unit = pm.path("scoreUnit").asText("s/op");
            double score = pm.path("score").asDouble(Double.NaN);
            JsonNode errNode = pm.path("scoreError");
            double err = errNode.isNumber() ? errNode.asDouble() : Double.NaN;
            out.add(new Row(cls, method, params, toSeconds(score, unit), toSecondsError(score, err, unit)));
        }
        return out;
    }

    /** Concatenates JMH JSON arrays from several runs into one array (the raw results of a whole run). */
    public static void merge(List<Path> parts, Path target) throws IOException {
        ArrayNode all = JSON.createArrayNode();
        for (Path p : parts) {
            if (Files.isRegularFile(p) && Files.size(p) > 0) {
                JsonNode n = JSON.readTree(p.toFile());
                if (n != null && n.isArray()) {
                    all.addAll((ArrayNode) n);
                }
            }
        }
        JSON.writerWithDefaultPrettyPrinter().writeValue(target.toFile(), all);
    }

    /** The first row of {@code cls.method} whose parameters include all of {@code match}. */
    public static Optional<Row> find(List<Row> rows, String cls, String method, Map<String, String> match) {
        for (Row r : rows) {
            if (r.benchmarkClass().equals(cls) && r.method().equals(method)
                    && match.entrySet().stream().allMatch(e -> e.getValue().equals(r.params().get(e.getKey())))) {
                return Optional.of(r);
            }
        }
        return Optional.empty();
    }

    /** Time per call in seconds for average-time ({@code ms/op}) and throughput ({@code ops/ms}) units. */
    static double toSeconds(double score, String unit) {
        String[] p = unit.split("/");
        if (p.length != 2) {
            throw new IllegalArgumentException("unknown JMH score unit '" + unit + "'");
        }
        if (p[1].equals("op")) {
            return score * unitSeconds(p[0]);
        }
        if (p[0].equals("ops")) {
            return unitSeconds(p[1]) / score;
        }
        throw new IllegalArgumentException("unknown JMH score unit '" + unit + "'");
    }

    private static double toSecondsError(double score, double err, String unit) {
        if (Double.isNaN(err)) {
            return Double.NaN;
        }
        if (unit.endsWith("/op")) {
            return toSeconds(err, unit);
        }
        // Throughput: propagate the half-width to time per op to first order.
        return Math.abs(toSeconds(score, unit)) * err / Math.abs(score);
    }

    private static double unitSeconds(String u) {
        return switch (u) {
            case "s" -> 1;
            case "ms" -> 1e-3;
            case "us" -> 1e-6;
            case "ns" -> 1e-9;
            case "min" -> 60;
            default -> throw new IllegalArgumentException("unknown JMH time unit '" + u + "'");
        };
    }
}
