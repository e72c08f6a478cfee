package io.mnemo.bench.peers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import io.mnemo.bench.MachineInfo;
import io.mnemo.bench.peers.PeersRecord.Gate;
import io.mnemo.bench.peers.PeersRecord.ModelInfo;
import io.mnemo.bench.peers.PeersRecord.Settings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * Merges the results directories of several peer runs ({@code bin/mnemo-bench --peers --merge A,B,…}) into one
 * results directory, so that the comparison, 4–5 hours of a quiet machine in full, can run in parts (for
 * example {@code --threads 1 --no-lm}, then {@code --threads 2 --no-lm}, then {@code --no-ops --no-sgemm --no-step})
 * and still be reported as one.
 *
 * <p>Rules: parts are taken in the order of their timestamps; a configuration (benchmark and parameters) measured
 * in several parts keeps the <b>later</b> part's result, except that a part recorded under the JFR profiler
 * ({@code --jfr}) only fills configurations no unprofiled part measured (its profiles are kept; its timings, taken
 * with the recorder running, do not replace clean ones); parts from different machines (CPU model, cores,
 * OpenBLAS kernel and core type, Java, vector width, ND4J backend) are refused, naming the field; a parity gate
 * keeps the later part's result like the timings (a refused configuration has no rows in the part that refused it),
 * and a pass after a refusal names the refusal and its part, so a fix between parts stays visible; settings are the
 * union of the parts' (JMH settings and the note of the latest part);
 * the merged directory gets {@code jmh.json}, {@code peers-run.json} and {@code parts.json} (the list of parts,
 * each with its directory, timestamp, arguments and load averages), so that it can be reported, or merged again
 * (a merged part contributes its own parts to the list).
 */
public final class PeersMerge {
    /** Whether a gate passed: status {@code ok}, possibly annotated with an earlier part's refusal. */
    static boolean passed(Gate g) {
        return g.status().startsWith("ok");
    }

    /** One source run of a merged result. */
    public record Part(String resultsDir, String timestamp, String arguments, String loadAverageStart,
            String loadAverageEnd, double wallSeconds) {}

    /** The merged run: its record, its parts, and the JMH rows as raw JSON (written back unchanged). */
    public record Merged(PeersRecord record, List<Part> parts, ArrayNode jmh) {
        /** The same merge with the report's note replaced (by default it is the last part's). */
        public Merged withNote(String note) {
            return new Merged(record.withNote(note), parts, jmh);
        }
    }

    static final String PARTS_FILE = "parts.json";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private PeersMerge() {}

    /** Reads the parts of a results directory: {@code parts.json} if it was merged, else the run itself. */
    public static List<Part> parts(Path dir, PeersRecord rec) throws IOException {
        Path f = dir.resolve(PARTS_FILE);
        if (Files.isRegularFile(f)) {
            return List.of(JSON.readValue(f.toFile(), Part[].class));
        }
        return List.of(new Part(rec.resultsDir(), rec.timestamp(), rec.arguments(), rec.machine().loadAverage(),
                rec.loadAverageEnd(), rec.wallSeconds()));
    }

    /**
     * Merges {@code dirs} (each holding {@code peers-run.json} and {@code jmh.json}).
     *
     * @param dirs at least two results directories
     * @param timestamp the merged run's timestamp
     * @param resultsDir where the merged run will be written, as it should be named in the report
     */
    public static Merged merge(List<Path> dirs, String timestamp, String resultsDir) throws IOException {
        if (dirs.size() < 2) {
            throw new IllegalArgumentException("--merge needs at least two results directories, got " + dirs.size());
        }
        record Loaded(Path dir, PeersRecord rec, ArrayNode jmh, List<Part> parts) {}
        List<Loaded> in = new ArrayList<>();
        for (Path d : dirs) {
            Path run = d.resolve("peers-run.json");
            Path jmh = d.resolve("jmh.json");
            if (!Files.isRegularFile(run) || !Files.isRegularFile(jmh)) {
                throw new IllegalArgumentException("--merge: " + d + " is not a peers results directory (it needs "
                        + "peers-run.json and jmh.json)");
            }
            PeersRecord rec = JSON.readValue(run.toFile(), PeersRecord.class);
            JsonNode rows = JSON.readTree(jmh.toFile());
            if (!rows.isArray()) {
                throw new IllegalArgumentException("--merge: " + jmh + " is not a JMH result array");
            }
            in.add(new Loaded(d, rec, (ArrayNode) rows, parts(d, rec)));
        }
        in.sort(Comparator.comparing(l -> l.rec().timestamp()));
        MachineInfo m0 = in.get(0).rec().machine();
        for (Loaded l : in.subList(1, in.size())) {
            sameMachine(m0, in.get(0).dir(), l.rec().machine(), l.dir());
        }
        Loaded last = in.get(in.size() - 1);

        Map<String, JsonNode> rows = new LinkedHashMap<>();
        for (boolean profiledPass : new boolean[] {false, true}) {
            for (Loaded l : in) {
                if (profiled(l.rec()) != profiledPass) {
                    continue;
                }
                for (JsonNode r : l.jmh()) {
                    String key = r.path("benchmark").asText() + " " + new TreeMap<>(JSON.convertValue(r.path("params"),
                            Map.class));
                    if (profiledPass && rows.containsKey(key)) {
                        continue; // a clean timing is not replaced by one taken under the profiler
                    }
                    rows.remove(key); // keep the later part's row, in the later part's order
                    rows.put(key, r);
                }
            }
        }
        ArrayNode jmh = JSON.createArrayNode();
        rows.values().forEach(jmh::add);

        Map<String, Gate> gates = new LinkedHashMap<>();
        Map<String, String> refusals = new LinkedHashMap<>(); // the latest refusal of each gate, with its part
        for (Loaded l : in) {
            for (Gate g : l.rec().gates()) {
                String key = g.op() + "/" + g.impl();
                String refusal = refusals.get(key);
                if (passed(g) && refusal != null) {
                    gates.put(key, new Gate(g.op(), g.impl(), g.status() + " (refused in the earlier part " + refusal
                            + ")", g.maxError()));
                } else {
                    gates.put(key, g);
                }
                if (!passed(g)) {
                    refusals.put(key, l.rec().timestamp() + ": " + g.status());
                }
            }
        }
        Map<String, ModelInfo> models = new LinkedHashMap<>();
        Map<String, String> envs = new TreeMap<>();
        List<JfrSummary.Profile> profiles = new ArrayList<>();
        List<Part> parts = new ArrayList<>();
        double wall = 0;
        for (Loaded l : in) {
            l.rec().models().forEach(mi -> models.put(mi.name(), mi));
            envs.putAll(l.rec().environments());
            profiles.addAll(l.rec().profiles());
            parts.addAll(l.parts());
            wall += l.rec().wallSeconds();
        }
        Settings s = settings(in.stream().map(l -> l.rec().settings()).toList());
        String args = "--merge " + String.join(",", in.stream().map(l -> l.rec().resultsDir()).toList());
        PeersRecord rec = new PeersRecord(timestamp, args, resultsDir, s, last.rec().machine(), last.rec().torch(),
                envs, List.copyOf(gates.values()), List.copyOf(models.values()), wall, profiles, last.rec().note(),
                last.rec().loadAverageEnd());
        return new Merged(rec, parts, jmh);
    }

    /** True when the run was recorded under the JFR profiler ({@code --jfr}). */
    static boolean profiled(PeersRecord rec) {
        return !rec.profiles().isEmpty() || (" " + rec.arguments() + " ").contains(" --jfr ");
    }

    /** Writes a merged run as a results directory ({@code jmh.json}, {@code peers-run.json}, {@code parts.json}). */
    public static void write(Merged m, Path dir) throws IOException {
        Files.createDirectories(dir);
        JSON.writeValue(dir.resolve("jmh.json").toFile(), m.jmh());
        JSON.writeValue(dir.resolve("peers-run.json").toFile(), m.record());
        JSON.writeValue(dir.resolve(PARTS_FILE).toFile(), m.parts());
    }

    private static void sameMachine(MachineInfo a, Path da, MachineInfo b, Path db) {
        check("CPU model", a.cpuModel(), b.cpuModel(), da, db);
        check("cores", a.cores(), b.cores(), da, db);
        check("OpenBLAS kernel", a.openBlasCore(), b.openBlasCore(), da, db);
        check("OPENBLAS_CORETYPE", a.openBlasCoreType(), b.openBlasCoreType(), da, db);
        check("Java", a.java(), b.java(), da, db);
        check("vector width", a.vectorBits(), b.vectorBits(), da, db);
        check("ND4J backend", a.nd4jBackend(), b.nd4jBackend(), da, db);
    }

    private static void check(String field, Object x, Object y, Path dx, Path dy) {
        if (!Objects.equals(x, y)) {
            throw new IllegalArgumentException("--merge: the parts ran on different machines: " + field + " is '" + x
                    + "' in " + dx + " but '" + y + "' in " + dy);
        }
    }

    private static Settings settings(List<Settings> all) {
        Settings last = all.get(all.size() - 1);
        for (Settings s : all) {
            if (s.h() != last.h() || s.d() != last.d() || s.chunk() != last.chunk()) {
                throw new IllegalArgumentException("--merge: the parts used different op shapes (H, D, chunk): "
                        + s.h() + ", " + s.d() + ", " + s.chunk() + " against " + last.h() + ", " + last.d() + ", "
                        + last.chunk());
            }
        }
        return new Settings("merged", last.forks(), last.warmup(), last.iterations(), last.iterationSeconds(),
                sortedUnion(all, Settings::threads), union(all, Settings::ops), union(all, Settings::impls),
                sortedUnion(all, Settings::bs), sortedUnion(all, Settings::ts),
                all.stream().mapToInt(Settings::nd4jMaxT).max().orElse(last.nd4jMaxT()), union(all, Settings::models),
                sortedUnion(all, Settings::lmTs), last.lmB(), union(all, Settings::sgemmShapes),
                union(all, Settings::parts), last.h(), last.d(), last.chunk());
    }

    private static <T> List<T> union(List<Settings> all, Function<Settings, List<T>> f) {
        LinkedHashSet<T> u = new LinkedHashSet<>();
        all.forEach(s -> u.addAll(f.apply(s)));
        return List.copyOf(u);
    }

    private static List<Integer> sortedUnion(List<Settings> all, Function<Settings, List<Integer>> f) {
        TreeSet<Integer> u = new TreeSet<>();
        all.forEach(s -> u.addAll(f.apply(s)));
        return List.copyOf(u);
    }
}
