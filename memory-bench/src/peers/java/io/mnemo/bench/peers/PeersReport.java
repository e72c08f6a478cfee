package io.mnemo.bench.peers;

import static io.mnemo.bench.BenchReport.num;

import io.mnemo.bench.BenchCharts;
import io.mnemo.bench.BenchReport;
import io.mnemo.bench.FlopModel;
import io.mnemo.bench.SelectiveScanBench;
import io.mnemo.bench.SgemmBench;
import io.mnemo.bench.TitansBench;
import io.mnemo.bench.peers.PeersRecord.Gate;
import io.mnemo.bench.peers.PeersRecord.ModelInfo;
import io.mnemo.bench.peers.PeersRecord.Settings;
import io.mnemo.modules.linear.CpuLinearKernel;
import io.mnemo.modules.linear.LinearOp;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Writes the "Peers" section of {@code docs/benchmarks.md} (between {@link BenchReport#PEERS_BEGIN} and
 * {@link BenchReport#PEERS_END}; the rest of the file is left as it is) and its PNG charts
 * ({@code docs/img/peers-*.png}) from a run's {@link PeersRecord} and JMH rows. Pure formatting: a section can
 * be regenerated from saved results ({@code bin/mnemo-bench --peers --report DIR}).
 */
public final class PeersReport {
    static final String OPS = "PeerOpBench";
    static final String SCAN = "PeerScanBench";
    static final String TITANS = "PeerTitansBench";
    static final String STEP = "PeerStepBench";
    static final String MEMORY_STEP = "PeerMemoryStepBench";
    static final String SGEMM = "PeerSgemmBench";
    static final String LM = "LmBench";
    /** The reference shape: B=1, H=4, T=4096, D=64, 1 thread. */
    static final int REF_T = 4096;
    /** Goals for Mnemo's cpu backend (forward+backward, T ≥ 4096): speed-up over PyTorch, over nd4j, % roof. */
    static final double GOAL_TORCH = 2;
    static final double GOAL_ND4J = 10;
    static final double GOAL_ROOF = 50;

    private final PeersRecord run;
    private final Settings set;
    private final List<PeerRows> rows;
    private final List<PeersMerge.Part> parts;

    /**
     * An op of the run with its benchmark class and FLOPs per token (all heads or channels): {@code rec*} for
     * Mnemo's cpu backend, {@code chk*} for nd4j and PyTorch.
     */
    record Kind(String name, String cls, String shape, boolean nd4j, double recFwd, double recFb, double chkFwd,
            double chkFb, String flopText, LinearOp linear, int heads, int d, int chunk) {
        Kind(String name, String cls, String shape, boolean nd4j, double recFwd, double recFb, double chkFwd,
                double chkFb, String flopText) {
            this(name, cls, shape, nd4j, recFwd, recFb, chkFwd, chkFb, flopText, null, 0, 0, 0);
        }

        /** FLOPs per token of the algorithm Mnemo's cpu backend runs at length t, forward. */
        double cpuFwd(int t) {
            return linear == null ? recFwd : FlopModel.cpuForward(linear, d, d, chunk, t) * heads;
        }

        /** As {@link #cpuFwd}, forward+backward. */
        double cpuFb(int t) {
            return linear == null ? recFb : FlopModel.cpuForwardBackward(linear, d, d, chunk, t) * heads;
        }
    }

    /** The ops of the run, in order. */
    List<Kind> kinds() {
        List<Kind> l = new ArrayList<>();
        for (String o : set.ops()) {
            if (o.equals(PeerScanBench.OP)) {
                int d = SelectiveScanBench.D;
                int n = SelectiveScanBench.N;
                double f = FlopModel.selectiveScanForward(n) * d;
                l.add(new Kind(o, SCAN, "D_inner=" + d + ", N=" + n, true, f, 3 * f, f, 3 * f,
                        "D_inner·(7·N + 7)"));
            } else if (o.equals(PeerTitansBench.OP)) {
                int h = TitansBench.H;
                int d = TitansBench.D;
                int e = PeerTitansBench.EXPANSION;
                int c = TitansBench.CHUNK;
                l.add(new Kind(o, TITANS, "depth 2, H=" + h + ", D=" + d + ", E=" + e + ", chunk " + c, true,
                        FlopModel.titansForward(d, e) * h, FlopModel.titansForwardBackward(d, e) * h,
                        FlopModel.titansChunkedForward(d, e, c) * h, FlopModel.titansChunkedForwardBackward(d, e, c) * h,
                        "H·20·E·D²"));
            } else {
                LinearOp op = LinearOp.byName(o);
                int h = set.h();
                int d = set.d();
                l.add(new Kind(o, OPS, "H=" + h + ", Dk=Dv=" + d, true, FlopModel.forward(op, d, d) * h,
                        FlopModel.forwardBackward(op, d, d) * h, FlopModel.chunkedForward(op, d, d, set.chunk()) * h,
                        FlopModel.chunkedForwardBackward(op, d, d, set.chunk()) * h, "H·" + FlopModel.describe(op),
                        op, h, d, set.chunk()));
            }
        }
        return l;
    }

    /** A report of {@code run} from its JMH rows. */
    public PeersReport(PeersRecord run, List<PeerRows> rows) {
        this(run, rows, List.of());
    }

    /** A report of {@code run}, merged from {@code parts} when there are more than one ({@link PeersMerge}). */
    public PeersReport(PeersRecord run, List<PeerRows> rows, List<PeersMerge.Part> parts) {
        this.run = run;
        this.set = run.settings();
        this.rows = rows;
        this.parts = List.copyOf(parts);
    }

    /**
     * Writes the section into {@code docsDir/benchmarks.md} (replacing an earlier one, else appended; a new
     * file gets a title) and the charts into {@code docsDir/img}.
     *
     * @return the markdown file
     */
    public Path write(Path docsDir) throws IOException {
        Path img = docsDir.resolve("img");
        Files.createDirectories(img);
        String section = section(img);
        Path file = docsDir.resolve("benchmarks.md");
        String text = Files.isRegularFile(file) ? Files.readString(file) : "# Mnemo benchmarks\n\n";
        int from = text.indexOf(BenchReport.PEERS_BEGIN);
        int to = text.indexOf(BenchReport.PEERS_END);
        if (from >= 0 && to > from) {
            text = text.substring(0, from) + section + text.substring(to + BenchReport.PEERS_END.length());
        } else {
            text = text + (text.endsWith("\n\n") ? "" : text.endsWith("\n") ? "\n" : "\n\n") + section + "\n";
        }
        Files.writeString(file, text);
        return file;
    }

    /** The section, markers included. */
    String section(Path img) throws IOException {
        StringBuilder md = new StringBuilder();
        md.append(BenchReport.PEERS_BEGIN).append("\n\n");
        header(md);
        notInRun(md);
        gates(md);
        if (set.parts().contains("sgemm")) {
            roofline(md, img);
        }
        if (set.parts().contains("ops")) {
            goals(md);
            flops(md);
            for (Kind k : kinds()) {
                op(md, k, img);
            }
        }
        if (set.parts().contains("step")) {
            steps(md);
        }
        if (set.parts().contains("lm")) {
            lm(md, img);
        }
        md.append(BenchReport.PEERS_END);
        return md.toString();
    }

    // ---------------------------------------------------------------------------------------------

    private void header(StringBuilder md) {
        md.append("## Peers: PyTorch CPU, DL4J and the roofline\n\n");
        if (parts.size() > 1) {
            md.append("Merged from ").append(parts.size()).append(" runs made in parts on this machine (`bin/mnemo-bench "
                    + "--peers --merge`; a configuration measured in two parts shows the later part's result):\n\n"
                    + "| part | started | arguments | min | load average at start | at end |\n|---|---|---|---:|---|---|\n");
            for (PeersMerge.Part p : parts) {
                md.append("| `").append(p.resultsDir()).append("` | ").append(BenchReport.readableTime(p.timestamp()))
                        .append(" | `").append(p.arguments().isBlank() ? "(defaults)" : p.arguments().replace("|", "\\|"))
                        .append("` | ").append(String.format(Locale.ROOT, "%.1f", p.wallSeconds() / 60)).append(" | ")
                        .append(p.loadAverageStart()).append(" | ")
                        .append(p.loadAverageEnd() == null ? "–" : p.loadAverageEnd()).append(" |\n");
            }
            md.append('\n');
        }
        String args = run.note() == null || run.note().isBlank() ? run.arguments()
                : run.arguments().replace("\"" + run.note() + "\"", "\"…\"").replace(run.note(), "\"…\"");
        md.append("Generated by `io.mnemo.bench.peers.PeersMain` (`bin/mnemo-bench --peers")
                .append(args.isBlank() ? "" : " " + args).append("`) on ").append(BenchReport.readableTime(run.timestamp()))
                .append(String.format(Locale.ROOT, " in %.1f min", run.wallSeconds() / 60)).append(". Raw JMH results: `")
                .append(run.resultsDir()).append("/jmh.json`; settings, machine and parity gates: `")
                .append(run.resultsDir()).append("/peers-run.json`; logs: `").append(run.resultsDir())
                .append("/run-*threads.log`.\n\n");
        md.append("Reproduce (from the repository root; the `peers` profile downloads DJL, libtorch ")
                .append(run.torch().libtorch()).append(" (a 112 MB jar) and DL4J once; the default build never does):\n\n")
                .append("```\nmvn -B -Ppeers -DskipTests package -pl memory-bench -am\n")
                .append("bin/mnemo-bench --peers            # full comparison: about 470 configurations, 4-5 h on 2 cores\n")
                .append("bin/mnemo-bench --peers --quick    # smoke run: T=1024, B=1, 1 thread, a few minutes\n")
                .append("bin/mnemo-bench --peers --help     # options (threads, ops, B, T, models, --jfr)\n```\n\n");
        md.append(String.format(Locale.ROOT, "Run: **%s** — JMH average time, %d fork(s) per configuration (one JVM "
                + "each, so peak memory is per configuration), %d warm-up + %d measurement iterations of %s s. Ops: "
                + "linear family H=%d, Dk=Dv=%d, chunk %d; selective scan D_inner=" + SelectiveScanBench.D + ", N="
                + SelectiveScanBench.N + "; Titans H=" + TitansBench.H + ", D=" + TitansBench.D + ", chunk "
                + TitansBench.CHUNK + "; B ∈ %s, T ∈ %s, implementations %s%s. Language models: B=%d, T ∈ %s. "
                + "Threads ∈ %s.\n\n", set.mode(), set.forks(), set.warmup(), set.iterations(),
                BigDecimal.valueOf(set.iterationSeconds()).stripTrailingZeros().toPlainString(), set.h(), set.d(),
                set.chunk(), set.bs(), set.ts(), set.impls(), set.impls().contains("nd4j") && set.ts().stream()
                        .anyMatch(t -> t > set.nd4jMaxT()) ? " (nd4j forward+backward up to T=" + set.nd4jMaxT() + ")"
                                : "", set.lmB(), set.lmTs(), set.threads()));
        md.append("Implementations: **cpu** and **nd4j** are Mnemo's backends (`LinearOps`, `SelectiveScan`, ")
                .append("`TitansOps`); **torch** is PyTorch CPU: ")
                .append("libtorch ").append(run.torch().libtorch()).append(" through DJL ").append(run.torch().djl())
                .append(" (").append(run.torch().build()).append("), written in PyTorch ops with autograd for the ")
                .append("backward: the linear family in the chunked forms (`TorchLinearOps`, flash-linear-attention's ")
                .append("naive chunked references); the selective scan as mamba_ssm's `selective_scan_ref`, the loop over ")
                .append("L that a PyTorch CPU user runs (its fused kernel is CUDA-only; `TorchSelectiveScan`: per-token ")
                .append("pieces by one split instead of the reference's indexing, whose backward is quadratic in L); the ")
                .append("Titans memory in the chunked form with the inner gradient written out in tensor ops, so that ")
                .append("autograd takes the second-order terms (`TorchTitans`); ")
                .append("each call in its own sub-manager so intermediates are freed. The machine: ")
                .append(run.machine().cpuModel()).append(", ").append(run.machine().cores()).append(" cores, ")
                .append(run.machine().java()).append(", OpenBLAS kernel ").append(run.machine().openBlasCore())
                .append(" (OPENBLAS_CORETYPE=").append(run.machine().openBlasCoreType()).append("), load average at ")
                .append("start ").append(run.machine().loadAverage()).append(", at end ")
                .append(run.loadAverageEnd() == null ? "not recorded" : run.loadAverageEnd())
                .append(" (1, 5, 15 min; ND4J's OpenMP pool oversubscribes when another process holds a core: the "
                        + "nd4j Titans forward at depth 2, T = 1024, B = 1, H = 4, D = 64 took 0.3–2.6 s with 2 OMP "
                        + "threads beside a busy single-thread process and 0.09–0.14 s with OMP_NUM_THREADS=1, so "
                        + "numbers of a loaded part are not comparable). Every runner JVM and its JMH forks run with "
                        + "OMP_NUM_THREADS equal to their thread count, which each benchmark checks.\n\n");
        md.append("Thread settings (one runner JVM per count; its JMH forks inherit them):\n\n| threads | environment and JVM "
                + "options |\n|---:|---|\n");
        run.environments().forEach((k, v) -> md.append("| ").append(k).append(" | ").append(v.replace("|", "\\|"))
                .append(" |\n"));
        md.append('\n');
        if (run.note() != null && !run.note().isBlank()) {
            md.append("> ").append(run.note().replace("\n", "\n> ")).append("\n\n");
        }
    }

    /** Whether the nd4j parity gate of {@code op} ran and did not pass (so the op has no nd4j rows). */
    private boolean nd4jGateFailed(String op) {
        return run.gates().stream().anyMatch(g -> g.op().equals(op) && g.impl().equals("nd4j")
                && !PeersMerge.passed(g));
    }

    private void notInRun(StringBuilder md) {
        md.append("### Not in this run\n\n");
        md.append("- **Titans memory, one-token step on the nd4j backend**: Mnemo has a cpu stepper "
                + "(`TitansStepper`) and no nd4j stepper; generation on the nd4j backend is a forward of T = 1, so "
                + "the step rows compare the cpu stepper with PyTorch. The Titans forward and forward+backward rows "
                + "include the nd4j kernel (`Nd4jTitansKernel`, gated against the reference like every nd4j row).\n");
        md.append("- **Other Mnemo language models**: the default run times the d = 128 presets gdn-small, lmm-small "
                + "(Titans) and mamba-small; `--models mnemo:NAME` adds any preset of `Presets`.\n");
        md.append("- **DL4J equivalents of the ops**: DL4J has no linear-attention, selective-scan or Titans layers; "
                + "its built-ins (LSTM, self-attention) are compared at model level.\n");
        md.append("- **mamba_ssm's fused selective scan**: `selective_scan_fn` is a CUDA kernel; on CPU mamba_ssm "
                + "runs `selective_scan_ref`, which is what the PyTorch peer reproduces.\n\n");
    }

    private void gates(StringBuilder md) {
        md.append("### Parity gates\n\nBefore anything is timed, every implementation is checked against Mnemo's "
                + "double-precision reference (`LinearOps` with the reference backend): Mnemo backends with `Parity` "
                + "(B=1, T=64, H=2, D=16), the PyTorch peer with `TorchParity` (B=2, T=100, H=2, D=16, chunk 16 and "
                + "64, random initial state: o, the final state and every autograd gradient; the step recurrence "
                + "token by token), relative error ≤ ").append(TorchParity.TOLERANCE).append(". Each PyTorch "
                + "benchmark's set-up also checks the peer on its own inputs against the cpu backend (o and final "
                + "state; every gradient for forward+backward; ≤ ").append(TorchParity.FULL_SIZE_TOLERANCE)
                .append("). The selective scan and Titans: Mnemo backends with the gates of `SelectiveScanBench` and "
                + "`TitansBench` (out or y, final state and every gradient of a small problem, ≤ ")
                .append(SelectiveScanBench.TOLERANCE).append(" and ").append(TitansBench.TOLERANCE).append("); the "
                + "PyTorch peers with `TorchMemoryParity`: the scan at B=2, D=8, N=4, L=50 with every optional input "
                + "and a random initial state (out, last state and all 9 gradients, ≤ ")
                .append(TorchMemoryParity.SCAN_TOLERANCE).append("), Titans at B=2, T=100, H=2, D=8, chunk 16 and "
                + "64, random initial memory and momentum (y, committed memory and momentum, every gradient including "
                + "both memory and momentum layers, ≤ ").append(TorchMemoryParity.TITANS_TOLERANCE).append("), both "
                + "steps token by token; each benchmark's set-up also checks the peer on its own inputs against the "
                + "cpu backend (≤ ").append(TorchMemoryParity.FULL_SIZE_TOLERANCE).append(" scan, ")
                .append(TorchMemoryParity.TITANS_FULL_SIZE_TOLERANCE).append(" Titans).\n\n");
        md.append("| op | implementation | status | max relative error |\n|---|---|---|---:|\n");
        for (Gate g : run.gates()) {
            md.append("| ").append(g.op()).append(" | ").append(g.impl()).append(" | ")
                    .append(g.status().replace("|", "\\|")).append(" | ")
                    .append(Double.isNaN(g.maxError()) ? "–" : String.format(Locale.ROOT, "%.1e", g.maxError()))
                    .append(" |\n");
        }
        md.append('\n');
    }

    private void roofline(StringBuilder md, Path img) throws IOException {
        md.append("### Roofline: sgemm in the same run\n\nFLOAT matrix products, GFLOP/s = 2·M·K·N / time per call: "
                + "ND4J `mmul` into a preallocated result (OpenBLAS, refused if OpenBLAS loaded a kernel for an older "
                + "instruction set than the CPU's), libtorch `matmul` (MKL; a new result per call) and Mnemo's own "
                + "`VecOps.gemm` (the Vector API micro-kernel of the chunked cpu kernels, written for 64×64 operands: "
                + "one thread at every thread count and no cache blocking, so its large shapes show what it is not "
                + "built for). The roofline "
                + "of a thread count is the best of all of them; every *% roof* below divides by it.\n\n");
        md.append("| threads | implementation |");
        for (String s : set.sgemmShapes()) {
            md.append(' ').append(s).append(" |");
        }
        md.append(" best |\n|---:|---|").append("---:|".repeat(set.sgemmShapes().size() + 1)).append('\n');
        List<String> labels = new ArrayList<>();
        List<List<Double>> chart = new ArrayList<>();
        for (int th : set.threads()) {
            for (String impl : List.of("nd4j", "torch", "mnemo")) {
                if (impl.equals("mnemo") && Double.isNaN(best(impl, th))) {
                    continue; // runs before Mnemo's GEMM was timed
                }
                md.append("| ").append(th).append(" | ").append(switch (impl) {
                    case "nd4j" -> "ND4J / OpenBLAS";
                    case "torch" -> "libtorch / MKL";
                    default -> "Mnemo `VecOps.gemm` (1 thread)";
                }).append(" |");
                List<Double> ys = new ArrayList<>();
                for (String s : set.sgemmShapes()) {
                    double g = sgemm(impl, s, th);
                    ys.add(g);
                    md.append(' ').append(num(g)).append(" |");
                }
                md.append(" **").append(num(best(impl, th))).append("** |\n");
                labels.add(impl + ", " + th + " thread" + (th > 1 ? "s" : ""));
                chart.add(ys);
            }
        }
        md.append("\nRoofline per thread count:");
        for (int th : set.threads()) {
            md.append(' ').append(th).append(" thread").append(th > 1 ? "s" : "").append(": **").append(num(roof(th)))
                    .append(" GFLOP/s**;");
        }
        md.setLength(md.length() - 1);
        md.append(".\n\n");
        if (chart.stream().anyMatch(l -> l.stream().anyMatch(v -> !Double.isNaN(v)))) {
            BenchCharts.sgemm(img.resolve("peers-sgemm.png"), set.sgemmShapes(), labels, chart);
            md.append("![sgemm GFLOP/s, ND4J, libtorch and Mnemo, per thread count](img/peers-sgemm.png)\n\n");
        }
    }

    private void goals(StringBuilder md) {
        md.append("### Reference numbers and goals\n\n");
        md.append("| figure | issue's reference (measured elsewhere) | this run |\n|---|---:|---:|\n");
        Optional<PeerRows> tf = op("linear_attn", "torch", "forward", 1, REF_T, 1);
        Optional<PeerRows> tb = op("linear_attn", "torch", "forwardBackward", 1, REF_T, 1);
        md.append("| PyTorch CPU chunked linear_attn forward, B=1 H=4 T=4096 D=64, 1 thread | ~9 ms | ")
                .append(tf.map(r -> num(r.row().seconds() * 1e3) + " ms").orElse("not measured")).append(" |\n");
        md.append("| same, forward+backward | ~37 ms | ")
                .append(tb.map(r -> num(r.row().seconds() * 1e3) + " ms").orElse("not measured")).append(" |\n");
        md.append("| sgemm, 1 thread (best shape) | ~150 GFLOP/s | ").append(set.threads().contains(1)
                ? "ND4J " + num(best("nd4j", 1)) + ", libtorch " + num(best("torch", 1)) + " GFLOP/s" : "not measured")
                .append(" |\n\n");
        md.append("Goals for Mnemo's **cpu** backend, forward+backward at T ≥ 4096: at least ").append(num(GOAL_TORCH))
                .append("× faster than PyTorch CPU, at least ").append(num(GOAL_ND4J)).append("× faster than the nd4j "
                + "backend, at least ").append(num(GOAL_ROOF)).append(" % of the roofline for the FLOPs of its "
                + "algorithm (the chunked form for the linear family, the recurrence for the other ops: see "
                + "the FLOP table). The issue states them for the linear family; the "
                + "selective scan and Titans rows are held to the same bars. Every ratio, including misses "
                + "(speed-up = peer time / cpu time):\n\n");
        md.append("| op | B | T | threads | cpu ms | PyTorch ms | speed-up vs PyTorch (≥ 2) | nd4j ms | speed-up vs nd4j "
                + "(≥ 10) | cpu % roof (≥ 50) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        int met = 0;
        int missed = 0;
        for (Kind k : kinds()) {
            String o = k.name();
            for (int b : set.bs()) {
                for (int t : set.ts()) {
                    if (t < REF_T) {
                        continue;
                    }
                    for (int th : set.threads()) {
                        Optional<PeerRows> c = row(k, "cpu", "forwardBackward", b, t, th);
                        if (c.isEmpty()) {
                            continue;
                        }
                        double cs = c.get().row().seconds();
                        Optional<PeerRows> p = row(k, "torch", "forwardBackward", b, t, th);
                        Optional<PeerRows> n = row(k, "nd4j", "forwardBackward", b, t, th);
                        double pct = pctRoof(k.cpuFb(t), b, t, cs, th);
                        String vsT = p.map(x -> verdict(x.row().seconds() / cs, GOAL_TORCH, "×")).orElse("–");
                        String vsN = n.map(x -> verdict(x.row().seconds() / cs, GOAL_ND4J, "×"))
                                .orElse(!k.nd4j() ? "no nd4j backend" : nd4jGateFailed(k.name()) ? "failed its gate"
                                        : t > set.nd4jMaxT() ? "skipped (T > "
                                        + set.nd4jMaxT() + ")" : "–");
                        String roof = Double.isNaN(pct) ? "–" : verdict(pct, GOAL_ROOF, " %");
                        for (String v : List.of(vsT, vsN, roof)) {
                            if (v.contains("met")) {
                                met++;
                            } else if (v.contains("missed")) {
                                missed++;
                            }
                        }
                        md.append("| ").append(o).append(" | ").append(b).append(" | ").append(t).append(" | ").append(th)
                                .append(" | ").append(num(cs * 1e3)).append(" | ")
                                .append(p.map(x -> num(x.row().seconds() * 1e3)).orElse("–")).append(" | ").append(vsT)
                                .append(" | ").append(n.map(x -> num(x.row().seconds() * 1e3)).orElse("–")).append(" | ")
                                .append(vsN).append(" | ").append(roof).append(" |\n");
                    }
                }
            }
        }
        if (met + missed == 0) {
            md.append("| (no cpu forward+backward result with T ≥ ").append(REF_T).append(" in this run) |||||||||\n");
        }
        md.append(String.format(Locale.ROOT, "%nGoals met: %d; missed: %d.", met, missed));
        if (missed > 0) {
            md.append(run.profiles().isEmpty() ? " Where a goal is missed, a profile says where the time goes: rerun "
                    + "with `--jfr` (JMH's JFR profiler over the measurement iterations, one recording per fork) and "
                    + "the section lists the hottest methods of every configuration."
                    : " Where the time goes: see the JFR profiles below.");
        }
        md.append("\n\n");
        profiles(md);
    }

    private void profiles(StringBuilder md) {
        if (run.profiles().isEmpty()) {
            return;
        }
        md.append("### Where the time goes (JFR)\n\nMnemo's cpu backend and language models: hottest methods by "
                + "top-frame samples of the benchmark threads over the measurement iterations (Java execution samples "
                + "and native-method samples; *(native)* is time inside ND4J's native code). Every fork's recording, "
                + "peers included, is in the results directory under `jfr/`.\n\n| configuration | samples | hottest methods |\n|---|---:|---|\n");
        for (JfrSummary.Profile p : run.profiles()) {
            // Mnemo's own code is what a missed goal asks about: its cpu backend and its language models
            if (!(p.config().contains("impl-cpu") || p.config().contains("model-mnemo"))) {
                continue;
            }
            md.append("| ").append(p.config().replace("io.mnemo.bench.peers.", "").replace("|", "\\|")).append(" | ")
                    .append(p.samples()).append(" | ").append(String.join("; ", p.top()).replace("|", "\\|"))
                    .append(" |\n");
        }
        md.append('\n');
    }

    private void flops(StringBuilder md) {
        md.append("### FLOPs per token\n\n*% roof* uses the FLOPs of the algorithm each implementation runs "
                + "(`FlopModel`), per token for all heads (channels for the selective scan). Linear family: Mnemo's cpu "
                + "backend runs the chunked form for linear_attn, simple_gla and gated_delta_rule (from T = "
                + CpuLinearKernel.CHUNKED_MIN_T + "; its kernels skip most of the masked half of the C×C products and "
                + "solve the delta rule's triangular system by substitution, so its % roof is an upper bound); nd4j "
                + "and PyTorch run the "
                + "chunked form (chunk " + set.chunk() + "), "
                + "which does more arithmetic (the C×C intra-chunk products, the triangular inverse of the delta rule) "
                + "in larger matrix products. Selective scan: every implementation performs the same per-state-entry "
                + "operations, 7·N + 7 per channel (Δ·A, exp, ·B·Δu, the state update 2, y 2; bias, softplus, Δu, D "
                + "skip 2, silu gate 2 per channel; a transcendental counts as one FLOP). Titans, depth 2, "
                + "P = 2·E·D² weights per head: recurrent (cpu) 20·E·D² per token per head (inner gradient 6·E·D², "
                + "momentum and forgetting writes 5·P, read 4·E·D²); chunked (PyTorch) 22·E·D² + 4·C·D + 4·C·E·D + "
                + "2·C² (inner gradient 6·E·D², reads against the chunk-start memory and momentum 8·E·D², intra-chunk "
                + "products, chunk-end memory and momentum 8·E·D², the C×C coefficient product). Forward+backward "
                + "counts 3× the forward for all.\n\n");
        md.append("| op | shape | recurrent (cpu: selective_scan, titans), forward | chunked or loop "
                + "(nd4j, PyTorch; cpu: the linear family), forward |\n"
                + "|---|---|---:|---:|\n");
        for (Kind k : kinds()) {
            md.append("| ").append(k.name()).append(" | ").append(k.shape()).append(" | ").append(k.flopText())
                    .append(" = ").append(String.format(Locale.ROOT, "%,.0f", k.recFwd())).append(" | ")
                    .append(String.format(Locale.ROOT, "%,.0f", k.chkFwd())).append(" |\n");
        }
        md.append('\n');
    }

    private void op(StringBuilder md, Kind k, Path img) throws IOException {
        String o = k.name();
        md.append("### ").append(o).append(" (").append(k.shape()).append(")\n\n*ms* per call for the whole batch; ")
                .append("*µs/tok* = ms / (B·T) (the whole token: all heads or channels); Mnemo/peer = cpu time / peer ")
                .append("time (below 1: Mnemo faster); *% roof* against the roofline of the thread count; *MB* = peak ")
                .append("resident set of the configuration's JVM (cpu / nd4j / PyTorch).\n\n");
        md.append("| B | T | threads | pass | cpu ms | nd4j ms | PyTorch ms | cpu µs/tok | cpu/PyTorch | cpu/nd4j | cpu % roof "
                + "| nd4j % roof | PyTorch % roof | peak MB |\n|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        List<BenchCharts.Series> series = new ArrayList<>();
        int bChart = set.bs().get(set.bs().size() - 1);
        for (int b : set.bs()) {
            for (int t : set.ts()) {
                for (int th : set.threads()) {
                    for (String pass : List.of("forward", "forwardBackward")) {
                        boolean fb = pass.equals("forwardBackward");
                        Optional<PeerRows> c = row(k, "cpu", pass, b, t, th);
                        Optional<PeerRows> n = row(k, "nd4j", pass, b, t, th);
                        Optional<PeerRows> p = row(k, "torch", pass, b, t, th);
                        if (c.isEmpty() && n.isEmpty() && p.isEmpty()) {
                            continue;
                        }
                        double rec = fb ? k.cpuFb(t) : k.cpuFwd(t);
                        double chk = fb ? k.chkFb() : k.chkFwd();
                        md.append("| ").append(b).append(" | ").append(t).append(" | ").append(th).append(" | ")
                                .append(fb ? "fwd+bwd" : "forward").append(" | ").append(ms(c)).append(" | ")
                                .append(!k.nd4j() ? "n/a" : n.isEmpty() && fb && t > set.nd4jMaxT() ? "skipped"
                                        : ms(n)).append(" | ")
                                .append(ms(p)).append(" | ")
                                .append(c.map(x -> num(x.row().seconds() * 1e6 / ((double) b * t))).orElse("–"))
                                .append(" | ").append(ratio(c, p)).append(" | ").append(ratio(c, n)).append(" | ")
                                .append(pct(c, rec, b, t, th)).append(" | ").append(pct(n, chk, b, t, th)).append(" | ")
                                .append(pct(p, chk, b, t, th)).append(" | ").append(mb(c)).append(" / ").append(mb(n))
                                .append(" / ").append(mb(p)).append(" |\n");
                    }
                }
            }
        }
        md.append('\n');
        for (int th : set.threads()) {
            series.clear();
            for (String impl : set.impls()) {
                for (String pass : List.of("forward", "forwardBackward")) {
                    List<Double> xs = new ArrayList<>();
                    List<Double> ys = new ArrayList<>();
                    for (int t : set.ts()) {
                        row(k, impl, pass, bChart, t, th).ifPresent(r -> {
                            xs.add((double) t);
                            ys.add(r.row().seconds() * 1e6 / ((double) bChart * t));
                        });
                    }
                    series.add(new BenchCharts.Series(label(impl) + " " + (pass.equals("forward") ? "fwd" : "fwd+bwd"),
                            xs, ys, false));
                }
            }
            if (series.stream().anyMatch(x -> !x.x().isEmpty())) {
                String file = "peers-" + o + "-" + th + "t.png";
                BenchCharts.costPerToken(img.resolve(file), o + ": time per token (B=" + bChart + ", " + k.shape()
                        + ", " + th + " thread" + (th > 1 ? "s" : "") + ")", "µs per token", series);
                md.append("![").append(o).append(", ").append(th).append(" thread(s): µs per token against T, cpu, nd4j "
                        + "and PyTorch](img/").append(file).append(")\n\n");
            }
        }
    }

    private void steps(StringBuilder md) {
        md.append("### Step (one token for the whole batch, state carried, arrays in and out)\n\n");
        md.append("Linear family: B·H heads of H=").append(set.h()).append(", D=").append(set.d())
                .append("; selective_scan: D_inner=").append(SelectiveScanBench.D).append(", N=")
                .append(SelectiveScanBench.N).append(" (cpu: `SelectiveScanStepper`; nd4j: a forward with L = 1); "
                + "titans: H=").append(TitansBench.H).append(", D=").append(TitansBench.D).append(", depth 2, chunk ")
                .append(TitansBench.CHUNK).append(" (cpu: `TitansStepper`, O(P) per token; the chunk commits "
                + "included as calls cross chunk ends).\n\n");
        md.append("| op | B | threads | cpu µs | nd4j µs | PyTorch µs | cpu/PyTorch | cpu/nd4j |\n"
                + "|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (String o : set.ops()) {
            for (int b : set.bs()) {
                for (int th : set.threads()) {
                    Optional<PeerRows> c = step(o, "cpu", b, th);
                    Optional<PeerRows> n = step(o, "nd4j", b, th);
                    Optional<PeerRows> p = step(o, "torch", b, th);
                    if (c.isEmpty() && n.isEmpty() && p.isEmpty()) {
                        continue;
                    }
                    md.append("| ").append(o).append(" | ").append(b).append(" | ").append(th).append(" | ")
                            .append(us(c)).append(" | ").append(us(n)).append(" | ").append(us(p)).append(" | ")
                            .append(ratio(c, p)).append(" | ").append(ratio(c, n)).append(" |\n");
                }
            }
        }
        md.append('\n');
    }

    private void lm(StringBuilder md, Path img) throws IOException {
        md.append("### Language models: Mnemo against DL4J at equal size\n\nByte-level (vocabulary 256), width 128, 2 "
                + "layers; random bytes (speed does not depend on them); *train* = forward, loss, backward and the "
                + "optimizer step (Mnemo: AdamW; DL4J: `fit` with Adam); *infer* = forward over the whole sequence "
                + "(prefill). Tokens/s = B·T / time. DL4J's `SelfAttentionLayer` has no causal mask (1.0.0-M2.1 masks "
                + "padding only): the attention model is timed as a DL4J user's attention layer, not as a valid "
                + "language model.\n\n| model | parameters | layers |\n|---|---:|---|\n");
        for (ModelInfo m : run.models()) {
            md.append("| ").append(m.name()).append(" | ").append(String.format(Locale.ROOT, "%,d", m.parameters()))
                    .append(" | ").append(m.description()).append(" |\n");
        }
        String mnemo = set.models().stream().filter(m -> m.startsWith("mnemo:")).findFirst().orElse(null);
        md.append("\n| model | T | threads | train tok/s | infer tok/s | ").append(mnemo == null ? "" : mnemo)
                .append(" / model, train | same, infer | peak MB train | peak MB infer |\n"
                        + "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        List<BenchCharts.Series> series = new ArrayList<>();
        int thChart = set.threads().get(set.threads().size() - 1);
        for (String m : set.models()) {
            for (int t : set.lmTs()) {
                for (int th : set.threads()) {
                    Optional<PeerRows> tr = lmRow(m, "train", t, th);
                    Optional<PeerRows> in = lmRow(m, "infer", t, th);
                    Optional<PeerRows> mt = mnemo == null ? Optional.empty() : lmRow(mnemo, "train", t, th);
                    Optional<PeerRows> mi = mnemo == null ? Optional.empty() : lmRow(mnemo, "infer", t, th);
                    md.append("| ").append(m).append(" | ").append(t).append(" | ").append(th).append(" | ")
                            .append(tokS(tr, t)).append(" | ").append(tokS(in, t)).append(" | ")
                            .append(m.equals(mnemo) ? "1" : ratio(tr, mt)).append(" | ")
                            .append(m.equals(mnemo) ? "1" : ratio(in, mi)).append(" | ").append(mb(tr)).append(" | ")
                            .append(mb(in)).append(" |\n");
                }
            }
            for (String pass : List.of("train", "infer")) {
                List<Double> xs = new ArrayList<>();
                List<Double> ys = new ArrayList<>();
                for (int t : set.lmTs()) {
                    lmRow(m, pass, t, thChart).ifPresent(r -> {
                        xs.add((double) t);
                        ys.add(r.row().seconds() * 1e6 / ((double) set.lmB() * t));
                    });
                }
                series.add(new BenchCharts.Series(m.substring(m.indexOf(':') + 1) + " " + pass, xs, ys, false));
            }
        }
        md.append("\nThe ratio columns are time ratios turned into speed: model time / Mnemo time (above 1: Mnemo "
                + "processes more tokens per second). *peak MB*: resident-set high-water mark of the configuration's "
                + "JVM (Java heap, ND4J's native buffers and code).\n\n");
        if (series.stream().anyMatch(s -> !s.x().isEmpty())) {
            BenchCharts.costPerToken(img.resolve("peers-lm.png"), "2-layer d=128 byte LM: time per token (B=" + set.lmB()
                    + ", " + thChart + " thread" + (thChart > 1 ? "s" : "") + ")", "µs per token", series);
            md.append("![language models: µs per token against T](img/peers-lm.png)\n\n");
        }
    }

    // ---------------------------------------------------------------------------------------------

    private Optional<PeerRows> op(String op, String impl, String method, int b, int t, int th) {
        return PeerRows.find(rows, OPS, method, PeerRows.params("op", op, "impl", impl, "b", b, "t", t, "threads", th));
    }

    private Optional<PeerRows> row(Kind k, String impl, String method, int b, int t, int th) {
        if (k.cls().equals(OPS)) {
            return op(k.name(), impl, method, b, t, th);
        }
        return PeerRows.find(rows, k.cls(), method, PeerRows.params("impl", impl, "b", b, "t", t, "threads", th));
    }

    private Optional<PeerRows> step(String op, String impl, int b, int th) {
        String cls = PeersMain.MEMORY_OPS.contains(op) ? MEMORY_STEP : STEP;
        return PeerRows.find(rows, cls, "step", PeerRows.params("op", op, "impl", impl, "b", b, "threads", th));
    }

    private Optional<PeerRows> lmRow(String model, String method, int t, int th) {
        return PeerRows.find(rows, LM, method, PeerRows.params("model", model, "t", t, "b", set.lmB(), "threads", th));
    }

    private double sgemm(String impl, String shape, int th) {
        return PeerRows.find(rows, SGEMM, "mmul", PeerRows.params("impl", impl, "shape", shape, "threads", th))
                .map(r -> SgemmBench.flops(shape) / r.row().seconds() / 1e9).orElse(Double.NaN);
    }

    private double best(String impl, int th) {
        double b = Double.NaN;
        for (String s : set.sgemmShapes()) {
            double g = sgemm(impl, s, th);
            if (!Double.isNaN(g) && (Double.isNaN(b) || g > b)) {
                b = g;
            }
        }
        return b;
    }

    /** The roofline of a thread count: the best sgemm of any implementation; NaN when none was measured. */
    double roof(int th) {
        double r = Double.NaN;
        for (String impl : List.of("nd4j", "torch", "mnemo")) {
            double g = best(impl, th);
            if (!Double.isNaN(g) && (Double.isNaN(r) || g > r)) {
                r = g;
            }
        }
        return r;
    }

    private double pctRoof(double flopsPerToken, int b, int t, double seconds, int th) {
        double gf = flopsPerToken * b * t / seconds / 1e9;
        return 100 * gf / roof(th);
    }

    private String pct(Optional<PeerRows> r, double flopsPerToken, int b, int t, int th) {
        return r.map(x -> {
            double p = pctRoof(flopsPerToken, b, t, x.row().seconds(), th);
            return Double.isNaN(p) ? "–" : num(p) + " %";
        }).orElse("–");
    }

    private static String verdict(double value, double goal, String unit) {
        return num(value) + unit + (value >= goal ? " met" : " **missed**");
    }

    private static String ms(Optional<PeerRows> r) {
        return r.map(x -> num(x.row().seconds() * 1e3)).orElse("–");
    }

    private static String us(Optional<PeerRows> r) {
        return r.map(x -> num(x.row().seconds() * 1e6)).orElse("–");
    }

    private String tokS(Optional<PeerRows> r, int t) {
        return r.map(x -> String.format(Locale.ROOT, "%,.0f", set.lmB() * t / x.row().seconds())).orElse("–");
    }

    /** Time of {@code a} / time of {@code b}. */
    private static String ratio(Optional<PeerRows> a, Optional<PeerRows> b) {
        return a.isPresent() && b.isPresent() ? num(a.get().row().seconds() / b.get().row().seconds()) : "–";
    }

    private static String mb(Optional<PeerRows> r) {
        return r.map(x -> Double.isNaN(x.peakRssMb()) ? "–" : String.format(Locale.ROOT, "%,.0f", x.peakRssMb()))
                .orElse("–");
    }

    private static String label(String impl) {
        return Map.of("cpu", "cpu", "nd4j", "nd4j", "torch", "PyTorch").getOrDefault(impl, impl);
    }
}
