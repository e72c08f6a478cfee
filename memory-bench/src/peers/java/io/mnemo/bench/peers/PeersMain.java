package io.mnemo.bench.peers;

import ai.djl.engine.Engine;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.mnemo.bench.BenchConfig;
import io.mnemo.bench.JmhResults;
import io.mnemo.bench.MachineInfo;
import io.mnemo.bench.Parity;
import io.mnemo.bench.SelectiveScanBench;
import io.mnemo.bench.SgemmBench;
import io.mnemo.bench.TitansBench;
import io.mnemo.bench.peers.PeersRecord.Gate;
import io.mnemo.bench.peers.PeersRecord.ModelInfo;
import io.mnemo.bench.peers.PeersRecord.Settings;
import io.mnemo.bench.peers.PeersRecord.TorchInfo;
import io.mnemo.core.OpenBlasCheck;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.linear.LinearOp;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.openjdk.jmh.profile.JavaFlightRecorderProfiler;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * The runner of the peer comparison ({@code bin/mnemo-bench --peers}): Mnemo's cpu and nd4j backends against
 * PyTorch CPU (libtorch through DJL), DL4J's LSTM and self-attention language models, and the sgemm roofline
 * (ND4J/OpenBLAS and libtorch/MKL), all in one run, at 1 and 2 threads.
 *
 * <p>Order: parity gates in this JVM (a configuration that fails is never timed); then, per thread count, a
 * runner JVM started with that count's environment ({@link PeerEnv#environment}: OpenMP/OpenBLAS/MKL threads;
 * at 2 threads a second runner with {@code OMP_PROC_BIND=true} for the PyTorch forks) runs the JMH
 * selections, one fork per configuration (so peak memory is per configuration); finally
 * {@code memory-bench/results/<timestamp>-peers/{jmh.json, peers-run.json}} and the "Peers" section of {@code docs/benchmarks.md} with PNG charts
 * ({@link PeersReport}). Run with {@code --help} for the options.
 */
public final class PeersMain {
    static final String USAGE = """
            Usage: bin/mnemo-bench --peers [options]
              --quick               smoke run: threads 1, B=1, T=1024, LM T=512, 1 warm-up + 1 iteration of 1 s
              --threads LIST        thread counts (default 1,2); a runner JVM each, two above 1 thread
                                    (PyTorch with OMP_PROC_BIND=true, the rest without)
              --ops LIST            ops (default linear_attn,simple_gla,gated_delta_rule,selective_scan,titans)
              --impls LIST          op implementations (default cpu,nd4j,torch)
              --b LIST              batch sizes of the op benchmarks (default 1,4)
              --t LIST              sequence lengths of the op benchmarks (default 1024,4096,16384)
              --nd4j-max-t N        longest T for nd4j forward+backward (default 4096; slow beyond)
              --models LIST         language models (default mnemo:gdn-small,mnemo:lmm-small,mnemo:mamba-small,
                                    dl4j:lstm,dl4j:attention)
              --lm-t LIST           language-model sequence lengths (default 512,2048,8192)
              --lm-b N              language-model batch (default 1)
              --sgemm-shapes LIST   N or MxKxN (default 64,256,512,1024,2048,64x64x4096)
              --no-sgemm | --no-ops | --no-step | --no-lm   skip a part
              --forks N             JMH forks per configuration (default 1)
              --warmup N            warm-up iterations (default 1)
              --iterations N        measurement iterations (default 3; quick 1)
              --time SECONDS        length of each iteration (default 2; quick 1)
              --jfr                 also record a JFR profile of every fork (results dir, jfr/)
              --note TEXT           a remark printed at the top of the section
              --results DIR         where result directories go (default memory-bench/results)
              --docs DIR            where benchmarks.md and img/ go (default docs)
              --report DIR          only regenerate the section from a saved results directory
              --merge DIR,DIR,...   merge the results directories of runs made in parts (same machine; a
                                    configuration measured twice keeps the later run's result) into a new
                                    results directory <timestamp>-peers-merged, and write the section from it
                                    (with --note, the section's note; else the last part's)
              --help                this text
            Needs target/mnemo-bench-peers.jar and target/peers-lib/ (mvn -B -Ppeers -DskipTests package
            -pl memory-bench -am); bin/mnemo-bench --peers passes the JVM and DJL options.""";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private PeersMain() {}

    /** One JMH selection: a benchmark method pattern and its parameters. */
    record Selection(String include, Map<String, List<String>> params, boolean bigMemory) {}

    /**
     * What one runner JVM executes: one thread count, with {@code OMP_PROC_BIND=true} ({@code bind}, the
     * PyTorch forks at more than one thread) or without it (everything else; {@link PeerEnv#environment}).
     */
    record Plan(int threads, boolean bind, List<Selection> selections, String dir, int forks, int warmup,
            int iterations, double time, boolean jfr) {
        /** "2" or "2-bound": the runner's name in file names. */
        String label() {
            return threads + (bind ? "-bound" : "");
        }
    }

    /** Entry point; exit status 2 on bad arguments. */
    public static void main(String[] args) throws Exception {
        Args a;
        try {
            a = Args.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("mnemo-bench --peers: " + e.getMessage());
            System.err.println(USAGE);
            System.exit(2);
            return;
        }
        if (a.help) {
            System.out.println(USAGE);
            return;
        }
        if (a.childPlan != null) {
            child(JSON.readValue(Path.of(a.childPlan).toFile(), Plan.class));
            return;
        }
        Path root = root();
        Path docs = a.docs != null ? root.resolve(a.docs) : root.resolve("docs");
        if (a.report != null) {
            Path dir = root.resolve(a.report);
            PeersRecord rec = JSON.readValue(dir.resolve("peers-run.json").toFile(), PeersRecord.class);
            System.out.println("wrote " + new PeersReport(rec, PeerRows.read(dir.resolve("jmh.json")),
                    PeersMerge.parts(dir, rec)).write(docs));
            return;
        }
        if (a.merge != null) {
            String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
            Path results = a.results != null ? root.resolve(a.results) : root.resolve("memory-bench/results");
            Path dir = results.resolve(stamp + "-peers-merged");
            String rel = dir.startsWith(root) ? root.relativize(dir).toString() : dir.toString();
            try {
                PeersMerge.Merged m = PeersMerge.merge(a.merge.stream().map(root::resolve).toList(), stamp, rel);
                if (a.note != null) {
                    m = m.withNote(a.note);
                }
                PeersMerge.write(m, dir);
                Path md = new PeersReport(m.record(), PeerRows.read(dir.resolve("jmh.json")), m.parts()).write(docs);
                System.out.println("mnemo-bench --peers: merged " + m.parts().size() + " parts into " + dir
                        + "; wrote " + md);
            } catch (IllegalArgumentException e) {
                System.err.println("mnemo-bench --peers: " + e.getMessage());
                System.exit(2);
            }
            return;
        }
        run(a, root, docs, Arrays.stream(args).map(x -> x.contains(" ") ? "\"" + x + "\"" : x)
                .collect(Collectors.joining(" ")));
    }

    // ---------------------------------------------------------------------------------------------

    private static void run(Args a, Path root, Path docs, String argLine) throws Exception {
        long start = System.nanoTime();
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        Path resultsRoot = a.results != null ? root.resolve(a.results) : root.resolve("memory-bench/results");
        Path dir = resultsRoot.resolve(stamp + "-peers");
        Files.createDirectories(dir);
        MachineInfo machine = MachineInfo.collect();
        TorchInfo torch = new TorchInfo(Torch.version(), Engine.getDjlVersion(), "DJL's pytorch-native-cpu build for "
                + System.getProperty("os.name") + " " + System.getProperty("os.arch")
                + ", Intel oneAPI MKL linked into libtorch_cpu");
        System.out.printf(Locale.ROOT, "mnemo-bench --peers: %s, %d cores, OpenBLAS kernel %s (OPENBLAS_CORETYPE=%s), "
                + "libtorch %s via DJL %s; results in %s%n", machine.cpuModel(), machine.cores(), machine.openBlasCore(),
                machine.openBlasCoreType(), torch.libtorch(), torch.djl(), dir);
        if (OpenBlasCheck.inspect().slowerKernel()) {
            System.out.println("mnemo-bench --peers: warning: " + OpenBlasCheck.inspect().advice());
        }

        // Parity gates first, here: a configuration that fails is never timed.
        List<Gate> gates = new ArrayList<>();
        Map<String, List<String>> opsOk = new LinkedHashMap<>();
        Map<String, List<String>> stepOk = new LinkedHashMap<>();
        for (String impl : a.impls) {
            opsOk.put(impl, new ArrayList<>());
            stepOk.put(impl, new ArrayList<>());
        }
        for (String o : a.opNames) {
            if (MEMORY_OPS.contains(o)) {
                memoryGates(o, a.impls, gates, opsOk, stepOk);
                continue;
            }
            LinearOp op = LinearOp.byName(o);
            Gate cpu = gate(o, "cpu", () -> Parity.require(op, Backend.CPU));
            for (String impl : a.impls) {
                Gate g = switch (impl) {
                    case "cpu" -> cpu;
                    case "nd4j" -> gate(o, "nd4j", () -> Parity.require(op, Backend.ND4J));
                    case "torch" -> !cpu.status().equals("ok")
                            ? new Gate(o, "torch", "unavailable: the full-size check needs the cpu backend, which "
                                    + "failed its gate", Double.NaN)
                            : gate(o, "torch", () -> TorchParity.require(op));
                    default -> throw new IllegalStateException(impl);
                };
                gates.add(g);
                if (g.status().equals("ok")) {
                    opsOk.get(impl).add(o);
                    Gate s = switch (impl) {
                        case "cpu" -> gate(o, "cpu-stepper", () -> Parity.requireStepper(op));
                        case "torch" -> gate(o, "torch-step", () -> TorchParity.requireStep(op));
                        default -> g; // nd4j steps are forwards with T = 1: the same gate
                    };
                    if (s != g) {
                        gates.add(s);
                    }
                    if (s.status().equals("ok")) {
                        stepOk.get(impl).add(o);
                    }
                }
            }
        }
        for (Gate g : gates) {
            System.out.printf(Locale.ROOT, "mnemo-bench --peers: parity %-16s %-11s %s%n", g.op(), g.impl(),
                    g.status().equals("ok") ? String.format(Locale.ROOT, "ok (max relative error %.1e)", g.maxError())
                            : g.status());
        }
        List<ModelInfo> models = new ArrayList<>();
        if (a.lm) {
            for (String m : a.models) {
                PeerModels.Lm lm = PeerModels.create(m);
                models.add(new ModelInfo(m, lm.parameters(), lm.description()));
            }
        }

        Map<String, String> envs = new LinkedHashMap<>();
        List<Path> parts = new ArrayList<>();
        int configs = 0;
        for (int threads : a.threads) {
            List<Selection> sel = plan(a, threads, opsOk, stepOk);
            configs += sel.stream().mapToInt(PeersMain::count).sum();
            System.out.printf(Locale.ROOT, "mnemo-bench --peers: %d threads: %d configurations, about %.0f min%n",
                    threads, sel.stream().mapToInt(PeersMain::count).sum(),
                    sel.stream().mapToInt(PeersMain::count).sum() * estimateSeconds(a) / 60);
            envs.put(String.valueOf(threads), envLabel(threads));
            for (boolean bind : threads > 1 ? new boolean[] {false, true} : new boolean[] {false}) {
                List<Selection> mine = threads > 1 ? bound(sel, bind) : sel;
                if (mine.isEmpty()) {
                    continue;
                }
                Plan p = new Plan(threads, bind, mine, dir.toString(), a.forks, a.warmup, a.iterations, a.time,
                        a.jfr);
                Path planFile = dir.resolve("plan-" + p.label() + ".json");
                JSON.writeValue(planFile.toFile(), p);
                int rc = spawnChild(p, planFile, dir.resolve("run-" + p.label() + "threads.log"));
                if (rc != 0) {
                    System.out.println("mnemo-bench --peers: the " + p.label() + "-thread runner exited with " + rc);
                }
                for (int i = 0; i < mine.size(); i++) {
                    parts.add(partFile(dir, p, i));
                }
            }
        }
        Path jmhJson = dir.resolve("jmh.json");
        JmhResults.merge(parts, jmhJson);
        for (Path p : parts) {
            Files.deleteIfExists(p);
        }
        List<String> partsRun = new ArrayList<>();
        if (a.sgemm) {
            partsRun.add("sgemm");
        }
        if (a.ops) {
            partsRun.add("ops");
        }
        if (a.step) {
            partsRun.add("step");
        }
        if (a.lm) {
            partsRun.add("lm");
        }
        Settings settings = new Settings(a.mode(), a.forks, a.warmup, a.iterations, a.time, a.threads, a.opNames,
                a.impls, a.bs, a.ts, a.nd4jMaxT, a.models, a.lmTs, a.lmB, a.sgemmShapes, partsRun, PeerOpBench.H,
                PeerOpBench.D, PeerOpBench.CHUNK);
        String rel = dir.startsWith(root) ? root.relativize(dir).toString() : dir.toString();
        double wall = (System.nanoTime() - start) / 1e9;
        List<JfrSummary.Profile> profiles = a.jfr ? JfrSummary.read(dir.resolve("jfr"), 8, List.of())
                : List.of();
        PeersRecord rec = new PeersRecord(stamp, argLine, rel, settings, machine, torch, envs, gates, models, wall,
                profiles, a.note, MachineInfo.loadAverageNow());
        JSON.writeValue(dir.resolve("peers-run.json").toFile(), rec);
        Path md = new PeersReport(rec, PeerRows.read(jmhJson)).write(docs);
        System.out.printf(Locale.ROOT, "mnemo-bench --peers: %d configurations in %.1f min; wrote %s, %s and %s%n",
                configs, wall / 60, jmhJson, dir.resolve("peers-run.json"), md);
    }

    /** The ops with their own benchmarks besides the linear family: the selective scan and the Titans memory. */
    static final List<String> MEMORY_OPS = List.of(PeerScanBench.OP, PeerTitansBench.OP);

    /**
     * Gates of the selective scan or the Titans memory: Mnemo's backends against the reference, the PyTorch peer against the reference (needs the cpu gate, whose backend
     * the benchmark's own full-size check uses), the steps.
     */
    static void memoryGates(String o, List<String> impls, List<Gate> gates, Map<String, List<String>> opsOk,
            Map<String, List<String>> stepOk) {
        boolean scan = o.equals(PeerScanBench.OP);
        Gate cpu = scan ? gate(o, "cpu", () -> SelectiveScanBench.requireParity(Backend.CPU))
                : gate(o, "cpu", () -> TitansBench.requireParity(PeerTitansBench.config(Backend.CPU)));
        for (String impl : impls) {
            Gate g = switch (impl) {
                case "cpu" -> cpu;
                case "nd4j" -> scan ? gate(o, "nd4j", () -> SelectiveScanBench.requireParity(Backend.ND4J))
                        : gate(o, "nd4j", () -> TitansBench.requireParity(PeerTitansBench.config(Backend.ND4J)));
                case "torch" -> !cpu.status().equals("ok")
                        ? new Gate(o, "torch", "unavailable: the full-size check needs the cpu backend, which failed "
                                + "its gate", Double.NaN)
                        : gate(o, "torch", scan ? TorchMemoryParity::requireScan : TorchMemoryParity::requireTitans);
                default -> throw new IllegalStateException(impl);
            };
            gates.add(g);
            if (!g.status().equals("ok")) {
                continue;
            }
            opsOk.get(impl).add(o);
            Gate s = impl.equals("torch") ? gate(o, "torch-step", scan ? TorchMemoryParity::requireScanStep
                    : TorchMemoryParity::requireTitansStep) : g; // Mnemo's steppers are tested with their kernels
            if (!scan && impl.equals("nd4j")) {
                s = new Gate(o, "nd4j-step", "unavailable: no nd4j stepper (generation on the nd4j backend is a "
                        + "forward of T = 1)", Double.NaN);
            }
            if (s != g) {
                gates.add(s);
            }
            if (s.status().equals("ok")) {
                stepOk.get(impl).add(o);
            }
        }
    }

    /** The JMH selections of one thread count. */
    static List<Selection> plan(Args a, int threads, Map<String, List<String>> opsOk,
            Map<String, List<String>> stepOk) {
        List<Selection> s = new ArrayList<>();
        List<String> th = List.of(String.valueOf(threads));
        if (a.sgemm) {
            s.add(new Selection("PeerSgemmBench\\.mmul$", Map.of("impl", List.of("nd4j", "torch", "mnemo"), "shape",
                    a.sgemmShapes, "threads", th), false));
        }
        for (String impl : a.impls) {
            List<String> all = opsOk.getOrDefault(impl, List.of());
            List<String> ops = all.stream().filter(o -> !MEMORY_OPS.contains(o)).toList();
            List<Integer> tb = impl.equals("nd4j") ? a.ts.stream().filter(t -> t <= a.nd4jMaxT).toList() : a.ts;
            for (String o : MEMORY_OPS) {
                if (!a.ops || !all.contains(o)) {
                    continue;
                }
                String cls = o.equals(PeerScanBench.OP) ? "PeerScanBench" : "PeerTitansBench";
                s.add(new Selection(cls + "\\.forward$", Map.of("impl", List.of(impl), "b", str(a.bs), "t",
                        str(a.ts), "threads", th), false));
                if (!tb.isEmpty()) {
                    s.add(new Selection(cls + "\\.forwardBackward$", Map.of("impl", List.of(impl), "b", str(a.bs),
                            "t", str(tb), "threads", th), false));
                }
            }
            List<String> memSteps = stepOk.getOrDefault(impl, List.of()).stream().filter(MEMORY_OPS::contains)
                    .toList();
            if (a.step && !memSteps.isEmpty()) {
                s.add(new Selection("PeerMemoryStepBench\\.step$", Map.of("op", memSteps, "impl", List.of(impl), "b",
                        str(a.bs), "threads", th), false));
            }
            if (a.ops && !ops.isEmpty()) {
                s.add(new Selection("PeerOpBench\\.forward$", Map.of("op", ops, "impl", List.of(impl), "b", str(a.bs),
                        "t", str(a.ts), "threads", th), false));
                if (!tb.isEmpty()) {
                    s.add(new Selection("PeerOpBench\\.forwardBackward$", Map.of("op", ops, "impl", List.of(impl), "b",
                            str(a.bs), "t", str(tb), "threads", th), false));
                }
            }
            List<String> steps = stepOk.getOrDefault(impl, List.of()).stream().filter(o -> !MEMORY_OPS.contains(o))
                    .toList();
            if (a.step && !steps.isEmpty()) {
                s.add(new Selection("PeerStepBench\\.step$", Map.of("op", steps, "impl", List.of(impl), "b",
                        str(a.bs), "threads", th), false));
            }
        }
        if (a.lm) {
            s.add(new Selection("LmBench\\.(train|infer)$", Map.of("model", a.models, "t", str(a.lmTs), "b",
                    List.of(String.valueOf(a.lmB)), "threads", th), true));
        }
        return s;
    }

    /** Configurations (forks) of a selection. */
    static int count(Selection s) {
        int n = s.include().contains("|") ? 2 : 1;
        for (List<String> v : s.params().values()) {
            n *= v.size();
        }
        return n;
    }

    /** Rough seconds per configuration: JVM start and set-up (with its parity checks) plus the iterations. */
    static double estimateSeconds(Args a) {
        return 12 + a.forks * (a.warmup + a.iterations) * Math.max(a.time, 1.5);
    }

    private static Path partFile(Path dir, Plan p, int i) {
        return dir.resolve("part-" + p.label() + "-" + i + ".json");
    }

    /** The environment of {@code threads}-thread runners as the report states it. */
    static String envLabel(int threads) {
        String base = PeerEnv.environment(threads, false).stream().filter(e -> e[1] != null)
                .map(e -> e[0] + "=" + e[1]).collect(Collectors.joining(", "));
        return base + (threads > 1 ? "; OMP_PROC_BIND=true for the PyTorch forks only" : "") + "; JVM "
                + String.join(" ", PeerEnv.jvmArgs(threads));
    }

    /**
     * The part of {@code sel} that runs with binding ({@code bind}: the PyTorch implementation) or without it
     * (the rest); a selection over several implementations (sgemm) is split by its {@code impl} list.
     */
    static List<Selection> bound(List<Selection> sel, boolean bind) {
        List<Selection> out = new ArrayList<>();
        for (Selection s : sel) {
            List<String> impls = s.params().get("impl");
            if (impls == null) {
                if (!bind) {
                    out.add(s);
                }
                continue;
            }
            List<String> mine = impls.stream().filter(i -> i.equals("torch") == bind).toList();
            if (!mine.isEmpty()) {
                Map<String, List<String>> params = new LinkedHashMap<>(s.params());
                params.put("impl", mine);
                out.add(new Selection(s.include(), params, s.bigMemory()));
            }
        }
        return out;
    }

    /** Starts the runner JVM of {@code p} with its environment; its output goes to the console and to {@code log}. */
    private static int spawnChild(Plan p, Path plan, Path log) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(BenchConfig.JVM_FLAGS);
        cmd.add("-Xmx512m");
        cmd.addAll(passThrough());
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(PeersMain.class.getName());
        cmd.add("--child");
        cmd.add(plan.toString());
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        for (String[] e : PeerEnv.environment(p.threads(), p.bind())) {
            if (e[1] == null) {
                pb.environment().remove(e[0]);
            } else {
                pb.environment().put(e[0], e[1]);
            }
        }
        System.out.println("mnemo-bench --peers: runner JVM with " + p.threads() + " thread(s)"
                + (p.bind() ? " (OMP_PROC_BIND=true)" : "") + ", log " + log);
        Process proc = pb.start();
        try (InputStream in = proc.getInputStream(); OutputStream out = Files.newOutputStream(log)) {
            byte[] buf = new byte[8192];
            for (int n; (n = in.read(buf)) > 0; ) {
                out.write(buf, 0, n);
                System.out.write(buf, 0, n);
                System.out.flush();
            }
        }
        return proc.waitFor();
    }

    /** System properties every peer JVM needs: DJL offline with its caches, the repository root. */
    static List<String> passThrough() {
        List<String> l = new ArrayList<>();
        for (String k : List.of("ai.djl.offline", "DJL_CACHE_DIR", "ENGINE_CACHE_DIR", "mnemo.root",
                "java.awt.headless")) {
            String v = System.getProperty(k);
            if (v != null) {
                l.add("-D" + k + "=" + v);
            }
        }
        return l;
    }

    /** A runner JVM: each selection of its plan through JMH, one fork per configuration. */
    private static void child(Plan p) throws Exception {
        Path dir = Path.of(p.dir());
        System.out.printf(Locale.ROOT, "mnemo-bench --peers: runner for %d thread(s): OMP_NUM_THREADS=%s, "
                + "OMP_PROC_BIND=%s%n", p.threads(), System.getenv("OMP_NUM_THREADS"), System.getenv("OMP_PROC_BIND"));
        for (int i = 0; i < p.selections().size(); i++) {
            Selection s = p.selections().get(i);
            TimeValue t = TimeValue.milliseconds(Math.round(p.time() * 1000));
            List<String> jvm = new ArrayList<>(BenchConfig.JVM_FLAGS);
            jvm.add(BenchConfig.FORK_HEAP);
            jvm.addAll(passThrough());
            jvm.addAll(PeerEnv.jvmArgs(p.threads()));
            if (s.bigMemory()) {
                // DL4J attention at T=8192 holds several [H, T, T] score matrices off-heap
                jvm.add("-Dorg.bytedeco.javacpp.maxbytes=14G");
                jvm.add("-Dorg.bytedeco.javacpp.maxphysicalbytes=18G");
            }
            ChainedOptionsBuilder o = new OptionsBuilder().include("io\\.mnemo\\.bench\\.peers\\." + s.include())
                    .forks(p.forks()).warmupIterations(p.warmup()).warmupTime(t).measurementIterations(p.iterations())
                    .measurementTime(t).shouldFailOnError(false).jvmArgsAppend(jvm.toArray(new String[0]))
                    .addProfiler(PeakMemoryProfiler.class).result(partFile(dir, p, i).toString())
                    .resultFormat(ResultFormatType.JSON);
            if (p.jfr()) {
                o.addProfiler(JavaFlightRecorderProfiler.class, "dir=" + dir.resolve("jfr"));
            }
            for (Map.Entry<String, List<String>> e : s.params().entrySet()) {
                o.param(e.getKey(), e.getValue().toArray(new String[0]));
            }
            System.out.println("mnemo-bench --peers: JMH " + s.include() + " " + s.params());
            new Runner(o.build()).run();
        }
    }

    /** Runs a gate; the status is "ok", "refused: …" (parity) or "unavailable: …" (it threw). */
    static Gate gate(String op, String impl, Supplier<Map<String, Double>> check) {
        try {
            Map<String, Double> err = check.get();
            double max = err.values().stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
            return new Gate(op, impl, "ok", max);
        } catch (Parity.ParityException | PeerParityException e) {
            return new Gate(op, impl, "refused: " + e.getMessage(), Double.NaN);
        } catch (UnsupportedOperationException e) {
            return new Gate(op, impl, "unavailable: " + e.getMessage(), Double.NaN);
        } catch (RuntimeException | LinkageError e) {
            return new Gate(op, impl, "unavailable: " + e, Double.NaN);
        }
    }

    static Path root() {
        String p = System.getProperty("mnemo.root");
        if (p != null && !p.isBlank()) {
            return Path.of(p).toAbsolutePath().normalize();
        }
        Path cwd = Path.of("").toAbsolutePath();
        for (Path d = cwd; d != null; d = d.getParent()) {
            if (Files.isDirectory(d.resolve("memory-bench")) && Files.isRegularFile(d.resolve("pom.xml"))) {
                return d;
            }
        }
        return cwd;
    }

    private static List<String> str(List<Integer> l) {
        return l.stream().map(String::valueOf).toList();
    }

    /** Parsed command line. */
    static final class Args {
        boolean quick;
        boolean help;
        boolean custom;
        List<Integer> threads;
        List<String> opNames = java.util.stream.Stream.concat(TorchLinearOps.OPS.stream().map(LinearOp::opName),
                MEMORY_OPS.stream()).toList();
        List<String> impls = List.of("cpu", "nd4j", "torch");
        List<Integer> bs;
        List<Integer> ts;
        int nd4jMaxT = 4096;
        List<String> models = PeerModels.DEFAULT;
        List<Integer> lmTs;
        int lmB = 1;
        List<String> sgemmShapes = List.of("64", "256", "512", "1024", "2048", "64x64x4096");
        boolean sgemm = true;
        boolean ops = true;
        boolean step = true;
        boolean lm = true;
        boolean jfr;
        int forks = 1;
        Integer warmupArg;
        Integer iterationsArg;
        Double timeArg;
        int warmup;
        int iterations;
        double time;
        String note = "";
        String results;
        String docs;
        String report;
        List<String> merge;
        String childPlan;

        static Args parse(String[] argv) {
            Args a = new Args();
            for (int i = 0; i < argv.length; i++) {
                String k = argv[i];
                switch (k) {
                    case "--quick" -> a.quick = true;
                    case "--help", "-h" -> a.help = true;
                    case "--threads" -> a.threads = ints(k, value(argv, ++i, k));
                    case "--ops" -> a.opNames = list(value(argv, ++i, k)).stream()
                            .map(o -> MEMORY_OPS.contains(o) ? o : LinearOp.byName(o).opName()).toList();
                    case "--impls" -> {
                        a.impls = list(value(argv, ++i, k));
                        for (String s : a.impls) {
                            if (!List.of("cpu", "nd4j", "torch").contains(s)) {
                                throw new IllegalArgumentException("--impls: unknown '" + s + "', expected cpu, nd4j, "
                                        + "torch");
                            }
                        }
                    }
                    case "--b" -> a.bs = ints(k, value(argv, ++i, k));
                    case "--t" -> a.ts = ints(k, value(argv, ++i, k));
                    case "--nd4j-max-t" -> a.nd4jMaxT = positive(k, value(argv, ++i, k));
                    case "--models" -> a.models = list(value(argv, ++i, k));
                    case "--lm-t" -> a.lmTs = ints(k, value(argv, ++i, k));
                    case "--lm-b" -> a.lmB = positive(k, value(argv, ++i, k));
                    case "--sgemm-shapes" -> {
                        a.sgemmShapes = list(value(argv, ++i, k));
                        a.sgemmShapes.forEach(SgemmBench::dims);
                    }
                    case "--no-sgemm" -> a.sgemm = false;
                    case "--no-ops" -> a.ops = false;
                    case "--no-step" -> a.step = false;
                    case "--no-lm" -> a.lm = false;
                    case "--jfr" -> a.jfr = true;
                    case "--forks" -> a.forks = positive(k, value(argv, ++i, k));
                    case "--warmup" -> a.warmupArg = nonNegative(k, value(argv, ++i, k));
                    case "--iterations" -> a.iterationsArg = positive(k, value(argv, ++i, k));
                    case "--time" -> {
                        a.timeArg = Double.parseDouble(value(argv, ++i, k));
                        if (!(a.timeArg > 0)) {
                            throw new IllegalArgumentException("--time must be > 0");
                        }
                    }
                    case "--note" -> a.note = value(argv, ++i, k);
                    case "--results" -> a.results = value(argv, ++i, k);
                    case "--docs" -> a.docs = value(argv, ++i, k);
                    case "--report" -> a.report = value(argv, ++i, k);
                    case "--merge" -> a.merge = list(value(argv, ++i, k));
                    case "--child" -> a.childPlan = value(argv, ++i, k);
                    default -> throw new IllegalArgumentException("unknown option '" + k + "'");
                }
                if (!List.of("--quick", "--help", "-h", "--note", "--results", "--docs", "--report", "--merge", "--jfr")
                        .contains(k)) {
                    a.custom = true;
                }
            }
            for (String m : a.models) {
                if (!(m.startsWith("mnemo:") || m.equals("dl4j:lstm") || m.equals("dl4j:attention"))) {
                    throw new IllegalArgumentException("--models: unknown '" + m + "', expected mnemo:PRESET, "
                            + "dl4j:lstm or dl4j:attention");
                }
            }
            if (a.threads == null) {
                a.threads = a.quick ? List.of(1) : List.of(1, 2);
            }
            if (a.bs == null) {
                a.bs = a.quick ? List.of(1) : List.of(1, 4);
            }
            if (a.ts == null) {
                a.ts = a.quick ? List.of(1024) : List.of(1024, 4096, 16384);
            }
            if (a.lmTs == null) {
                a.lmTs = a.quick ? List.of(512) : List.of(512, 2048, 8192);
            }
            // about 470 configurations in a full run (236 per thread count): 1 + 3 iterations of 2 s, 4-5 hours
            a.warmup = a.warmupArg != null ? a.warmupArg : 1;
            a.iterations = a.iterationsArg != null ? a.iterationsArg : a.quick ? 1 : 3;
            a.time = a.timeArg != null ? a.timeArg : a.quick ? 1 : 2;
            return a;
        }

        String mode() {
            return custom ? (quick ? "quick (customised)" : "custom") : quick ? "quick" : "full";
        }

        private static String value(String[] argv, int i, String k) {
            if (i >= argv.length) {
                throw new IllegalArgumentException(k + " needs a value");
            }
            return argv[i];
        }

        private static List<String> list(String s) {
            List<String> l = Arrays.stream(s.split(",")).map(String::trim).filter(x -> !x.isEmpty()).toList();
            if (l.isEmpty()) {
                throw new IllegalArgumentException("empty list '" + s + "'");
            }
            return l;
        }

        private static List<Integer> ints(String k, String s) {
            return list(s).stream().map(x -> positive(k, x)).sorted().distinct().toList();
        }

        private static int positive(String k, String s) {
            int v = nonNegative(k, s);
            if (v == 0) {
                throw new IllegalArgumentException(k + " must be > 0");
            }
            return v;
        }

        private static int nonNegative(String k, String s) {
            try {
                int v = Integer.parseInt(s.trim());
                if (v < 0) {
                    throw new IllegalArgumentException(k + " must be >= 0, got " + s);
                }
                return v;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(k + " needs an integer, got '" + s + "'");
            }
        }
    }
}
