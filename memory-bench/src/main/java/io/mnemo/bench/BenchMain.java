package io.mnemo.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.mnemo.bench.RunRecord.CoreType;
import io.mnemo.bench.RunRecord.Settings;
import io.mnemo.bench.RunRecord.Unavailable;
import io.mnemo.core.OpenBlasCheck;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.linear.LinearOp;
import java.io.IOException;
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
import java.util.stream.Collectors;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * The benchmark runner behind {@code bin/mnemo-bench}: checks which backends are available (and pass
 * parity), measures the sgemm roofline in one child JVM per {@code OPENBLAS_CORETYPE}, runs the JMH
 * benchmarks of the linear ops through the JMH Runner API, and writes
 * {@code memory-bench/results/<timestamp>/{jmh.json, run.json}}, {@code docs/benchmarks.md} and
 * {@code docs/img/bench-*.png}. Run with {@code --help} for the options.
 */
public final class BenchMain {
    static final String USAGE = """
            Usage: bin/mnemo-bench [options]
              --quick                 smoke run: 1 fork, 1 warm-up + 2 measurement iterations of 1 s, T=256,1024
              --backends LIST         backends to time (default cpu,nd4j)
              --ops LIST              ops (default linear_attn,simple_gla,gla,delta_rule,gated_delta_rule)
              --t LIST                sequence lengths (default 256,1024,4096,16384; quick 256,1024)
              --nd4j-max-t N          longest T for nd4j forward+backward (default 4096; slow beyond)
              --forks N               JMH forks per configuration (default 1)
              --warmup N              warm-up iterations (default 2; quick 1)
              --iterations N          measurement iterations (default 5; quick 2)
              --time SECONDS          length of each iteration (default 2; quick 1)
              --coretypes LIST        OPENBLAS_CORETYPE values for the sgemm roofline, one JVM each
                                      (default unset,Prescott,Haswell and SkylakeX if the CPU has avx512f)
              --sgemm-shapes LIST     N or MxKxN (default 64,256,512,1024,2048,64x64x4096)
              --no-sgemm              skip the sgemm roofline
              --no-step               skip the step benchmarks
              --no-seq                skip the forward / forward+backward benchmarks
              --note TEXT             a remark printed at the top of the report (e.g. machine load)
              --results DIR           where result directories go (default memory-bench/results)
              --docs DIR              where benchmarks.md and img/ go (default docs)
              --report DIR            only regenerate the report from a saved results directory
              --peers [OPTIONS]       the comparison with PyTorch CPU, DL4J and the roofline instead
                                      (needs the peers build; bin/mnemo-bench --peers --help)
              --help                  this text
            Lists are comma-separated. Paths are relative to the repository root (-Dmnemo.root, set by
            bin/mnemo-bench). The JVM needs: --add-modules jdk.incubator.vector,jdk.incubator.foreign
            --enable-native-access=ALL-UNNAMED (bin/mnemo-bench passes them).""";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private BenchMain() {}

    /** Entry point; exit status 2 on bad arguments, 1 on failure. */
    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--peers")) {
            peers(Arrays.copyOfRange(args, 1, args.length));
            return;
        }
        Args a;
        try {
            a = Args.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("mnemo-bench: " + e.getMessage());
            System.err.println(USAGE);
            System.exit(2);
            return;
        }
        if (a.help) {
            System.out.println(USAGE);
            return;
        }
        if (a.childLabel != null) {
            sgemmChild(a);
            return;
        }
        Path root = root();
        if (a.report != null) {
            Path dir = root.resolve(a.report);
            RunRecord rec = JSON.readValue(dir.resolve("run.json").toFile(), RunRecord.class);
            Path md = new BenchReport(rec, JmhResults.read(dir.resolve("jmh.json"))).write(docs(root, a));
            System.out.println("wrote " + md);
            return;
        }
        run(a, root, Arrays.stream(args).map(x -> x.contains(" ") ? "\"" + x + "\"" : x)
                .collect(Collectors.joining(" ")));
    }

    /**
     * The peer comparison (PyTorch CPU, DL4J, roofline): {@code io.mnemo.bench.peers.PeersMain}, compiled only by
     * the {@code peers} Maven profile, so it is looked up by name.
     */
    private static void peers(String[] args) throws Exception {
        Class<?> c;
        try {
            c = Class.forName("io.mnemo.bench.peers.PeersMain");
            Class.forName("ai.djl.engine.Engine");
        } catch (ClassNotFoundException | LinkageError e) {
            System.err.println("mnemo-bench: --peers needs the peers build: mvn -B -Ppeers -DskipTests package -pl "
                    + "memory-bench -am");
            System.exit(2);
            return;
        }
        c.getMethod("main", String[].class).invoke(null, (Object) args);
    }

    // ---------------------------------------------------------------------------------------------

    private static void run(Args a, Path root, String argLine) throws Exception {
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        Path resultsRoot = a.results != null ? root.resolve(a.results) : root.resolve("memory-bench/results");
        Path dir = resultsRoot.resolve(stamp);
        Files.createDirectories(dir);
        MachineInfo machine = MachineInfo.collect();
        System.out.printf(Locale.ROOT, "mnemo-bench: %s, %d cores, OpenBLAS kernel %s (OPENBLAS_CORETYPE=%s), "
                + "Vector API %s; results in %s%n", machine.cpuModel(), machine.cores(), machine.openBlasCore(),
                machine.openBlasCoreType(), machine.vectorApi() ? "on" : "off", dir);
        if (OpenBlasCheck.inspect().genericKernel()) {
            System.out.println("mnemo-bench: warning: " + OpenBlasCheck.inspect().advice());
        }

        // Availability and parity first, in this JVM: an unimplemented backend costs no fork, and a
        // configuration that fails parity is never timed.
        List<Unavailable> unavailable = new ArrayList<>();
        Map<String, List<String>> ok = new LinkedHashMap<>();
        List<String> stepperOk = new ArrayList<>();
        for (String b : a.backends) {
            List<String> good = new ArrayList<>();
            for (String o : a.ops) {
                String status = check(() -> Parity.require(LinearOp.byName(o), Backend.parse(b)));
                if (status == null) {
                    good.add(o);
                } else {
                    unavailable.add(new Unavailable(o, b, status));
                }
                System.out.printf("mnemo-bench: parity %-16s %-5s %s%n", o, b, status == null ? "ok" : status);
                if (b.equals("cpu") && a.step && status == null) {
                    String s = check(() -> Parity.requireStepper(LinearOp.byName(o)));
                    if (s == null) {
                        stepperOk.add(o);
                    } else {
                        unavailable.add(new Unavailable(o, "cpu-stepper", s));
                        System.out.printf("mnemo-bench: parity %-16s stepper %s%n", o, s);
                    }
                }
            }
            ok.put(b, good);
        }

        List<Path> parts = new ArrayList<>();
        List<CoreType> coreTypes = new ArrayList<>();
        if (a.sgemm) {
            for (String label : a.coretypes) {
                Path out = dir.resolve("sgemm-" + label + ".json");
                coreTypes.add(sgemmInChild(a, label, out));
                parts.add(out);
            }
        }
        int part = 0;
        for (Map.Entry<String, List<String>> e : ok.entrySet()) {
            String b = e.getKey();
            List<String> ops = e.getValue();
            if (ops.isEmpty()) {
                continue;
            }
            if (a.seq) {
                List<Integer> ts = a.ts;
                parts.add(jmh(a, dir, part++, "LinearSeqBench\\.forward$", Map.of("op", ops, "backend", List.of(b),
                        "t", str(ts))));
                List<Integer> tb = b.equals("nd4j") ? ts.stream().filter(t -> t <= a.nd4jMaxT).toList() : ts;
                if (!tb.isEmpty()) {
                    parts.add(jmh(a, dir, part++, "LinearSeqBench\\.forwardBackward$", Map.of("op", ops, "backend",
                            List.of(b), "t", str(tb))));
                }
            }
            if (a.step) {
                if (b.equals("cpu") && !stepperOk.isEmpty()) {
                    parts.add(jmh(a, dir, part++, "LinearStepBench\\.", Map.of("op", stepperOk)));
                }
                parts.add(jmh(a, dir, part++, "LinearOpsStepBench\\.step$", Map.of("op", ops, "backend", List.of(b))));
            }
        }
        Path jmhJson = dir.resolve("jmh.json");
        JmhResults.merge(parts, jmhJson);
        for (Path p : parts) {
            Files.deleteIfExists(p);
        }

        Settings settings = new Settings(a.mode(), a.forks, a.warmup, a.iterations, a.time, a.ops, a.backends, a.ts,
                a.nd4jMaxT, a.step, a.sgemmShapes, BenchConfig.B, BenchConfig.H, BenchConfig.D);
        String rel = dir.startsWith(root) ? root.relativize(dir).toString() : dir.toString();
        RunRecord rec = new RunRecord(stamp, argLine, rel, settings, machine, coreTypes, unavailable, a.note);
        JSON.writeValue(dir.resolve("run.json").toFile(), rec);
        Path md = new BenchReport(rec, JmhResults.read(jmhJson)).write(docs(root, a));
        System.out.println("mnemo-bench: wrote " + jmhJson + ", " + dir.resolve("run.json") + " and " + md);
    }

    /** Runs one JMH selection in forked JVMs; returns its JSON result file. */
    private static Path jmh(Args a, Path dir, int part, String include, Map<String, List<String>> params)
            throws RunnerException {
        Path out = dir.resolve("part-" + part + ".json");
        ChainedOptionsBuilder o = timing(new OptionsBuilder().include("io\\.mnemo\\.bench\\." + include), a)
                .forks(a.forks).jvmArgsAppend(forkArgs()).result(out.toString()).resultFormat(ResultFormatType.JSON);
        for (Map.Entry<String, List<String>> p : params.entrySet()) {
            o.param(p.getKey(), p.getValue().toArray(new String[0]));
        }
        System.out.println("mnemo-bench: JMH " + include + " " + params);
        new Runner(o.build()).run();
        return out;
    }

    private static ChainedOptionsBuilder timing(ChainedOptionsBuilder o, Args a) {
        TimeValue t = TimeValue.milliseconds(Math.round(a.time * 1000));
        return o.warmupIterations(a.warmup).warmupTime(t).measurementIterations(a.iterations).measurementTime(t)
                .shouldFailOnError(false);
    }

    /** Arguments of forked JVMs: the Mnemo flags and a heap large enough for T=16384. */
    private static String[] forkArgs() {
        List<String> l = new ArrayList<>(BenchConfig.JVM_FLAGS);
        l.add(BenchConfig.FORK_HEAP);
        return l.toArray(new String[0]);
    }

    /**
     * Starts a JVM with {@code OPENBLAS_CORETYPE=label} (removed for "unset") that measures sgemm: the
     * variable is read once when OpenBLAS loads, so it cannot change inside a running JVM.
     */
    private static CoreType sgemmInChild(Args a, String label, Path out) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(Arrays.asList(forkArgs()));
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(BenchMain.class.getName());
        cmd.addAll(List.of("--child-sgemm", label, out.toString(), "--warmup", String.valueOf(a.warmup), "--iterations",
                String.valueOf(a.iterations), "--time", String.valueOf(a.time), "--sgemm-shapes",
                String.join(",", a.sgemmShapes)));
        ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
        if (label.equals("unset")) {
            pb.environment().remove("OPENBLAS_CORETYPE");
        } else {
            pb.environment().put("OPENBLAS_CORETYPE", label);
        }
        System.out.println("mnemo-bench: sgemm in a JVM with OPENBLAS_CORETYPE=" + label);
        int rc = pb.start().waitFor();
        Path core = Path.of(out + ".core");
        String coreName = Files.exists(core) ? Files.readString(core).trim() : "(unknown)";
        Files.deleteIfExists(core);
        return new CoreType(label, coreName, rc == 0 ? "ok" : "child JVM exited with " + rc);
    }

    /** The child side: record the kernel OpenBLAS loaded, then run the sgemm benchmark in this JVM. */
    private static void sgemmChild(Args a) throws IOException, RunnerException {
        String core = OpenBlasCheck.inspect().coreName().orElse("(unknown)");
        Files.writeString(Path.of(a.childOut + ".core"), core);
        System.out.println("mnemo-bench: OPENBLAS_CORETYPE=" + a.childLabel + " loaded OpenBLAS kernel " + core);
        // forks(0): this JVM was started for exactly this measurement, with the environment under test.
        ChainedOptionsBuilder o = timing(new OptionsBuilder().include("io\\.mnemo\\.bench\\.SgemmBench\\.mmul$"), a)
                .forks(0).param("coretype", a.childLabel).param("shape", a.sgemmShapes.toArray(new String[0]))
                .result(a.childOut).resultFormat(ResultFormatType.JSON);
        new Runner(o.build()).run();
    }

    /** Null when {@code r} passes; else "refused: …" (parity) or "unavailable: …" (it threw). */
    static String check(Runnable r) {
        try {
            r.run();
            return null;
        } catch (Parity.ParityException e) {
            return "refused: " + e.getMessage();
        } catch (UnsupportedOperationException e) {
            return "unavailable: " + e.getMessage();
        } catch (RuntimeException | LinkageError e) {
            return "unavailable: " + e;
        }
    }

    private static Path root() {
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

    private static Path docs(Path root, Args a) {
        return a.docs != null ? root.resolve(a.docs) : root.resolve("docs");
    }

    private static List<String> str(List<Integer> l) {
        return l.stream().map(String::valueOf).toList();
    }

    /** Parsed command line. */
    static final class Args {
        boolean quick;
        boolean help;
        boolean custom;
        List<String> backends = List.of("cpu", "nd4j");
        List<String> ops = Arrays.stream(LinearOp.values()).map(LinearOp::opName).toList();
        List<Integer> ts;
        int nd4jMaxT = 4096;
        int forks = 1;
        Integer warmupArg;
        Integer iterationsArg;
        Double timeArg;
        int warmup;
        int iterations;
        double time;
        List<String> coretypes;
        List<String> sgemmShapes = List.of("64", "256", "512", "1024", "2048", "64x64x4096");
        boolean sgemm = true;
        boolean step = true;
        boolean seq = true;
        String note = "";
        String results;
        String docs;
        String report;
        String childLabel;
        String childOut;

        static Args parse(String[] argv) {
            Args a = new Args();
            for (int i = 0; i < argv.length; i++) {
                String k = argv[i];
                switch (k) {
                    case "--quick" -> a.quick = true;
                    case "--help", "-h" -> a.help = true;
                    case "--backends" -> a.backends = list(value(argv, ++i, k)).stream().map(b -> {
                        Backend.parse(b);
                        return b.toLowerCase(Locale.ROOT);
                    }).toList();
                    case "--ops" -> a.ops = list(value(argv, ++i, k)).stream().map(o -> LinearOp.byName(o).opName())
                            .toList();
                    case "--t" -> a.ts = list(value(argv, ++i, k)).stream().map(s -> positive(k, s)).sorted().toList();
                    case "--nd4j-max-t" -> a.nd4jMaxT = positive(k, value(argv, ++i, k));
                    case "--forks" -> a.forks = nonNegative(k, value(argv, ++i, k));
                    case "--warmup" -> a.warmupArg = nonNegative(k, value(argv, ++i, k));
                    case "--iterations" -> a.iterationsArg = positive(k, value(argv, ++i, k));
                    case "--time" -> {
                        a.timeArg = Double.parseDouble(value(argv, ++i, k));
                        if (!(a.timeArg > 0)) {
                            throw new IllegalArgumentException("--time must be > 0");
                        }
                    }
                    case "--coretypes" -> a.coretypes = list(value(argv, ++i, k));
                    case "--sgemm-shapes" -> {
                        a.sgemmShapes = list(value(argv, ++i, k));
                        a.sgemmShapes.forEach(SgemmBench::dims);
                    }
                    case "--no-sgemm" -> a.sgemm = false;
                    case "--no-step" -> a.step = false;
                    case "--no-seq" -> a.seq = false;
                    case "--note" -> a.note = value(argv, ++i, k);
                    case "--results" -> a.results = value(argv, ++i, k);
                    case "--docs" -> a.docs = value(argv, ++i, k);
                    case "--report" -> a.report = value(argv, ++i, k);
                    case "--child-sgemm" -> {
                        a.childLabel = value(argv, ++i, k);
                        a.childOut = value(argv, ++i, k);
                    }
                    default -> throw new IllegalArgumentException("unknown option '" + k + "'");
                }
                if (!List.of("--quick", "--help", "-h", "--note", "--results", "--docs", "--report").contains(k)) {
                    a.custom = true;
                }
            }
            if (a.ts == null) {
                a.ts = a.quick ? List.of(256, 1024) : List.of(256, 1024, 4096, 16384);
            }
            a.warmup = a.warmupArg != null ? a.warmupArg : a.quick ? 1 : 2;
            a.iterations = a.iterationsArg != null ? a.iterationsArg : a.quick ? 2 : 5;
            a.time = a.timeArg != null ? a.timeArg : a.quick ? 1 : 2;
            if (a.coretypes == null) {
                List<String> c = new ArrayList<>(List.of("unset", "Prescott", "Haswell"));
                if (OpenBlasCheck.cpuFlags().contains("avx512f")) {
                    c.add("SkylakeX");
                }
                a.coretypes = c;
            }
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
            List<String> l = Arrays.stream(s.split(",")).map(String::trim).filter(x -> !x.isEmpty())
                    .collect(Collectors.toList());
            if (l.isEmpty()) {
                throw new IllegalArgumentException("empty list '" + s + "'");
            }
            return List.copyOf(l);
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
