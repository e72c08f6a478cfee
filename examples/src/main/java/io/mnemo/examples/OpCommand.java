package io.mnemo.examples;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mnemo.core.Shapes;
import io.mnemo.core.io.Npy;
import io.mnemo.core.kernel.Backend;
import io.mnemo.core.memory.SeqDims;
import io.mnemo.modules.linear.LinearForward;
import io.mnemo.modules.linear.LinearGrads;
import io.mnemo.modules.linear.LinearInputs;
import io.mnemo.modules.linear.LinearOp;
import io.mnemo.modules.linear.LinearOpConfig;
import io.mnemo.modules.linear.LinearOps;
import io.mnemo.modules.mamba.ScanDims;
import io.mnemo.modules.mamba.SelectiveScan;
import io.mnemo.modules.mamba.SelectiveScanConfig;
import io.mnemo.modules.mamba.SelectiveScanForward;
import io.mnemo.modules.mamba.SelectiveScanGrads;
import io.mnemo.modules.mamba.SelectiveScanInputs;
import io.mnemo.modules.mamba.Ssd;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code mnemo op <name> --in DIR --out DIR [--grad]}: runs one linear-family op on {@code .npy} files named
 * after flash-linear-attention's arguments, so that its results can be compared with fla's (or any other
 * implementation's) file by file.
 *
 * <p>Files, in fla's layout: q, k {@code [B, T, H, Dk]}; v {@code [B, T, H, Dv]}; g, beta {@code [B, T, H]};
 * gk {@code [B, T, H, Dk]}; initial_state {@code [B, H, Dk, Dv]}; scale (0-d float), chunk_size (0-d int),
 * output_final_state (0-d bool). Writes o {@code [B, T, H, Dv]} and final_state {@code [B, H, Dk, Dv]}; with
 * {@code --grad} reads do {@code [B, T, H, Dv]} and dht {@code [B, H, Dk, Dv]} and writes the gradient of
 * every input ({@code dq, dk, dv, dg | dgk | dbeta, dh0}).
 *
 * <p>{@code mnemo op selective_scan} (Mamba-1) reads files named after mamba_ssm's {@code selective_scan_ref}
 * arguments: u, delta {@code [B, D, L]}; A {@code [D, N]}; B, C {@code [D, N] | [B, N, L] | [B, G, N, L]};
 * optional D {@code [D]}, z {@code [B, D, L]}, delta_bias {@code [D]}, delta_softplus (0-d bool, default False),
 * initial_state {@code [B, D, N]}, chunk_size (0-d int). Writes out {@code [B, D, L]} and last_state
 * {@code [B, D, N]}; with {@code --grad} reads dout (and dlast_state) and writes d + the name of every tensor
 * input ({@code du, ddelta, dA, dB, dC, dD, dz, ddelta_bias, dinitial_state}).
 *
 * <p>{@code mnemo op ssd} (Mamba-2) reads files named after mamba_ssm's {@code ssd_minimal_discrete}
 * arguments: X {@code [B, L, H, P]}, A {@code [B, L, H]} (both already multiplied by Δ), B, C
 * {@code [B, L, G, N]} (G = H in the reference; any G dividing H), optional block_len (0-d int) and
 * initial_states {@code [B, H, P, N]} or the reference's {@code [B, 1, H, P, N]}. Writes Y and final_state;
 * with {@code --grad} reads dY (and dfinal_state) and writes dX, dA, dB, dC, dinitial_states.
 */
@Command(name = "op", sortOptions = false,
        description = {"Run a linear-family op on .npy files named after flash-linear-attention's arguments "
                + "and write its outputs (and with --grad, the gradients of its inputs) as .npy files."})
final class OpCommand implements Callable<Integer> {
    /** The name of the selective scan (Mamba-1) op. */
    static final String SCAN = "selective_scan";
    /** Required inputs of selective_scan, as selective_scan_ref's arguments. */
    static final List<String> SCAN_REQUIRED = List.of("u", "delta", "A", "B", "C");
    /** Optional inputs of selective_scan: its optional arguments, an initial state and the settings. */
    static final List<String> SCAN_OPTIONAL = List.of("D", "z", "delta_bias", "delta_softplus", "initial_state",
            "chunk_size");
    /** Tensors whose gradients --grad writes (as d + name), in this order. */
    static final List<String> SCAN_GRAD_OF = List.of("u", "delta", "A", "B", "C", "D", "z", "delta_bias",
            "initial_state");

    /** The name of the Mamba-2 SSD op. */
    static final String SSD = "ssd";
    /** Required inputs of ssd, as ssd_minimal_discrete's arguments. */
    static final List<String> SSD_REQUIRED = List.of("X", "A", "B", "C");
    /** Optional inputs of ssd. */
    static final List<String> SSD_OPTIONAL = List.of("block_len", "initial_states");
    /** Tensors whose gradients --grad writes for ssd (as d + name), in this order. */
    static final List<String> SSD_GRAD_OF = List.of("X", "A", "B", "C", "initial_states");
    /** block_len when block_len.npy is absent. */
    static final int SSD_DEFAULT_BLOCK = 64;

    /** Optional inputs every op takes. */
    static final List<String> OPTIONAL = List.of("initial_state", "scale", "chunk_size", "output_final_state");
    /** Chunk size when chunk_size.npy is absent (as LinearOpConfig.of). */
    private static final int DEFAULT_CHUNK = LinearOpConfig.of(LinearOp.LINEAR_ATTN).chunkSize();

    @Parameters(index = "0", paramLabel = "<name>",
            description = "linear_attn, simple_gla, gla, delta_rule, gated_delta_rule, selective_scan or ssd")
    String name;

    @Option(names = "--in", required = true, paramLabel = "DIR", description = "directory holding the input .npy files")
    Path in;

    @Option(names = "--out", required = true, paramLabel = "DIR",
            description = "directory for the output .npy files (created if missing; files are replaced)")
    Path out;

    @Option(names = "--grad", description = "also read do.npy (and dht.npy) and write the gradients "
            + "(selective_scan: dout.npy and dlast_state.npy; ssd: dY.npy and dfinal_state.npy)")
    boolean grad;

    @Option(names = "--backend", paramLabel = "auto|reference|cpu|nd4j",
            description = "implementation; default reference (exact, double) for float64 files, auto for float32")
    String backend;

    @Option(names = "--json", description = "print a JSON summary (op, backend, dtype, shapes, files, milliseconds)")
    boolean json;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Spec
    CommandSpec spec;

    /** Required input files of {@code op} (without .npy), in fla's argument order. */
    static List<String> required(LinearOp op) {
        List<String> r = new ArrayList<>(List.of("q", "k", "v"));
        if (op.scalarGate()) {
            r.add("g");
        }
        if (op.vectorGate()) {
            r.add("gk");
        }
        if (op.delta()) {
            r.add("beta");
        }
        return r;
    }

    /** Gradient files written with --grad, in the order of {@link #required} then dh0. */
    static List<String> gradOutputs(LinearOp op) {
        List<String> r = new ArrayList<>();
        for (String s : required(op)) {
            r.add("d" + s);
        }
        r.add("dh0");
        return r;
    }

    /** "q, k, v, g, beta, [initial_state, scale, chunk_size, output_final_state]" */
    static String takes(LinearOp op) {
        return String.join(", ", required(op)) + ", [" + String.join(", ", OPTIONAL) + "]";
    }

    /** The footer of {@code mnemo op --help}: each op's files, the shapes, the defaults (fits 80 columns). */
    static String helpFooter() {
        StringBuilder b = new StringBuilder("%nOps and their files ([optional]; read from --in, written to --out):%n");
        String row = "  %-17s %-17s %s%n";
        b.append(String.format(Locale.ROOT, row, "op", "reads", "--grad also writes"));
        for (LinearOp op : LinearOp.values()) {
            b.append(String.format(Locale.ROOT, row, op.opName(), String.join(", ", required(op)),
                    String.join(", ", gradOutputs(op))));
        }
        b.append("Every op also reads [").append(String.join(", ", OPTIONAL)).append("]%n")
                .append("and writes o, final_state; with --grad it also reads do, [dht].%n")
                .append("%nShapes (flash-linear-attention's layout):%n")
                .append("  q, k, gk, dq, dk, dgk                 [B, T, H, Dk]%n")
                .append("  v, o, do, dv                          [B, T, H, Dv]%n")
                .append("  g, beta, dg, dbeta                    [B, T, H]%n")
                .append("  initial_state, final_state, dht, dh0  [B, H, Dk, Dv]%n")
                .append("  scale               0-d float, default Dk^-1/2%n")
                .append("  chunk_size          0-d int, default ").append(DEFAULT_CHUNK)
                .append(" (results agree up to rounding)%n")
                .append("  output_final_state  0-d bool, default True (False: no final_state, no dht)%n")
                .append("%nTensors are float32 or float64, all alike; outputs have the inputs' dtype.%n")
                .append("dh0 is the gradient w.r.t. initial_state (a zero state when none is given).%n")
                .append("Any other file in --in is an error.%n")
                .append("Exit codes: 0 ok, 2 bad input (one line on stderr), 1 internal error.%n")
                .append("%nselective_scan (Mamba-1, mamba_ssm's selective_scan_ref):%n")
                .append("  reads   u, delta [B, D, L]; A [D, N]; B, C [D, N] | [B, N, L] | [B, G, N, L];%n")
                .append("          [D [D], z [B, D, L], delta_bias [D], initial_state [B, D, N],%n")
                .append("          delta_softplus (0-d bool, default False), chunk_size (0-d int)]%n")
                .append("  writes  out [B, D, L], last_state [B, D, N]%n")
                .append("  --grad  reads dout [B, D, L], [dlast_state [B, D, N]]; writes du, ddelta, dA,%n")
                .append("          dB, dC, [dD, dz, ddelta_bias], dinitial_state (shapes of the inputs)%n")
                .append("%nssd (Mamba-2, mamba_ssm's ssd_minimal_discrete; X and A already times dt):%n")
                .append("  reads   X [B, L, H, P]; A [B, L, H]; B, C [B, L, G, N] (G divides H; G = H%n")
                .append("          as in the reference); [block_len (0-d int, default ").append(SSD_DEFAULT_BLOCK)
                .append("),%n          initial_states [B, H, P, N] or [B, 1, H, P, N]]%n")
                .append("  writes  Y [B, L, H, P], final_state [B, H, P, N]%n")
                .append("  --grad  reads dY, [dfinal_state]; writes dX, dA, dB, dC, dinitial_states%n")
                .append("%nExample:%n  bin/mnemo op gated_delta_rule --in fla_dump --out mnemo_out --grad --json%n");
        return b.toString();
    }

    @Override
    public Integer call() throws IOException {
        long t0 = System.nanoTime();
        if (SCAN.equals(name)) {
            return callScan(t0);
        }
        if (SSD.equals(name)) {
            return callSsd(t0);
        }
        LinearOp op;
        try {
            op = LinearOp.byName(name);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage() + ", or " + SCAN + ", or " + SSD, e);
        }
        if (!Files.isDirectory(in)) {
            throw new IllegalArgumentException("--in " + in
                    + (Files.exists(in) ? " is not a directory" : " does not exist"));
        }
        Map<String, Path> files = inputFiles(op);
        Map<String, INDArray> a = new LinkedHashMap<>();
        for (Map.Entry<String, Path> e : files.entrySet()) {
            a.put(e.getKey(), Npy.read(e.getValue()));
        }
        DataType dtype = requireFloatTensors(a);
        double scale = a.containsKey("scale") ? number("scale", a.get("scale")) : Double.NaN;
        int chunk = a.containsKey("chunk_size") ? chunkSize(a.get("chunk_size")) : DEFAULT_CHUNK;
        boolean outputFinalState = !a.containsKey("output_final_state")
                || flag("output_final_state", a.get("output_final_state"));
        if (a.containsKey("dht") && !outputFinalState) {
            throw new IllegalArgumentException("dht.npy is given but output_final_state.npy is False: "
                    + "there is no final state to take a gradient from");
        }
        Backend requested = backend != null ? Backend.parse(backend)
                : dtype == DataType.DOUBLE ? Backend.REFERENCE : Backend.AUTO;
        Backend resolved = requested.resolve();
        LinearOpConfig cfg = LinearOpConfig.of(op).withBackend(resolved).withScale(scale).withChunkSize(chunk);
        LinearInputs inputs = new LinearInputs(a.get("q"), a.get("k"), a.get("v"), a.get("g"), a.get("gk"),
                a.get("beta"), a.get("initial_state"));
        long tRead = System.nanoTime();

        LinearForward f = LinearOps.forward(cfg, inputs, grad);
        long tForward = System.nanoTime();
        SeqDims d = f.dims();
        LinearGrads g = null;
        if (grad) {
            INDArray dO = Shapes.require("do.npy", a.get("do"), "[B, T, H, Dv]", d.b(), d.t(), d.h(), d.dv());
            INDArray dht = a.get("dht");
            if (dht != null) {
                Shapes.require("dht.npy", dht, "[B, H, Dk, Dv]", d.b(), d.h(), d.dk(), d.dv());
            }
            g = LinearOps.backward(f, dO, dht);
        }
        long tBackward = System.nanoTime();

        Map<String, INDArray> outputs = new LinkedHashMap<>();
        outputs.put("o", f.o());
        if (outputFinalState) {
            outputs.put("final_state", f.finalState());
        }
        if (g != null) {
            outputs.put("dq", g.dq());
            outputs.put("dk", g.dk());
            outputs.put("dv", g.dv());
            outputs.put("dg", g.dg());
            outputs.put("dgk", g.dgk());
            outputs.put("dbeta", g.dbeta());
            outputs.put("dh0", g.dInitialState());
        }
        Files.createDirectories(out);
        List<String> written = new ArrayList<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        a.forEach((k, v) -> shapes.put(k, v.shape()));
        for (Map.Entry<String, INDArray> e : outputs.entrySet()) {
            if (e.getValue() == null) {
                continue;
            }
            INDArray v = e.getValue().dataType() == dtype ? e.getValue() : e.getValue().castTo(dtype);
            String file = e.getKey() + ".npy";
            Npy.write(out.resolve(file), v);
            written.add(file);
            shapes.put(e.getKey(), v.shape());
        }
        long tEnd = System.nanoTime();

        PrintWriter w = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("op", op.opName());
            s.put("backend", resolved.name().toLowerCase(Locale.ROOT));
            s.put("dtype", dtypeName(dtype));
            Map<String, Integer> dims = new LinkedHashMap<>();
            dims.put("B", d.b());
            dims.put("T", d.t());
            dims.put("H", d.h());
            dims.put("Dk", d.dk());
            dims.put("Dv", d.dv());
            s.put("dims", dims);
            s.put("scale", cfg.scaleFor(d.dk()));
            s.put("chunk_size", chunk);
            s.put("grad", grad);
            s.put("shapes", shapes);
            s.put("files_read", files.keySet().stream().map(k -> k + ".npy").toList());
            s.put("out", out.toAbsolutePath().toString());
            s.put("files_written", written);
            Map<String, Double> ms = new LinkedHashMap<>();
            ms.put("read", millis(t0, tRead));
            ms.put("forward", millis(tRead, tForward));
            ms.put("backward", millis(tForward, tBackward));
            ms.put("write", millis(tBackward, tEnd));
            ms.put("total", millis(t0, tEnd));
            s.put("milliseconds", ms);
            w.println(toJson(s));
        } else {
            w.printf(Locale.ROOT, "%s on %s (%s): B=%d T=%d H=%d Dk=%d Dv=%d, scale %.6g%n", op.opName(),
                    resolved.name().toLowerCase(Locale.ROOT), dtypeName(dtype), d.b(), d.t(), d.h(), d.dk(), d.dv(),
                    cfg.scaleFor(d.dk()));
            w.printf(Locale.ROOT, "wrote %s to %s in %.1f ms (forward %.1f ms%s)%n", String.join(", ", written), out,
                    millis(t0, tEnd), millis(tRead, tForward),
                    grad ? String.format(Locale.ROOT, ", backward %.1f ms", millis(tForward, tBackward)) : "");
        }
        w.flush();
        return 0;
    }

    /** {@code mnemo op selective_scan}: the files of {@link #SCAN_REQUIRED} and {@link #SCAN_OPTIONAL}. */
    private Integer callScan(long t0) throws IOException {
        if (!Files.isDirectory(in)) {
            throw new IllegalArgumentException("--in " + in
                    + (Files.exists(in) ? " is not a directory" : " does not exist"));
        }
        List<String> req = new ArrayList<>(SCAN_REQUIRED);
        List<String> opt = new ArrayList<>(SCAN_OPTIONAL);
        if (grad) {
            req.add("dout");
            opt.add("dlast_state");
        }
        List<String> outputs = new ArrayList<>(List.of("out", "last_state"));
        SCAN_GRAD_OF.forEach(g -> outputs.add("d" + g));
        String takes = String.join(", ", SCAN_REQUIRED) + ", [" + String.join(", ", SCAN_OPTIONAL) + "]"
                + (grad ? " and with --grad dout, [dlast_state]" : "");
        Map<String, Path> files = inputFiles(SCAN, req, opt, takes, List.of("dout", "dlast_state"), outputs);
        Map<String, INDArray> a = new LinkedHashMap<>();
        for (Map.Entry<String, Path> e : files.entrySet()) {
            a.put(e.getKey(), Npy.read(e.getValue()));
        }
        DataType dtype = a.get("u").dataType();
        if (dtype != DataType.FLOAT && dtype != DataType.DOUBLE) {
            throw new IllegalArgumentException("u.npy has dtype " + Npy.descr(dtype) + ", expected <f4 (float32) or "
                    + "<f8 (float64)");
        }
        for (Map.Entry<String, INDArray> e : a.entrySet()) {
            if (e.getKey().equals("delta_softplus") || e.getKey().equals("chunk_size")) {
                continue;
            }
            if (e.getValue().dataType() != dtype) {
                throw new IllegalArgumentException(e.getKey() + ".npy has dtype " + Npy.descr(e.getValue().dataType())
                        + " but u.npy has " + Npy.descr(dtype) + "; all tensors must share one dtype (float32 or "
                        + "float64)");
            }
        }
        boolean softplus = a.containsKey("delta_softplus") && flag("delta_softplus", a.get("delta_softplus"));
        int chunk = a.containsKey("chunk_size") ? chunkSize(a.get("chunk_size")) : SelectiveScanConfig.of().chunkSize();
        Backend requested = backend != null ? Backend.parse(backend)
                : dtype == DataType.DOUBLE ? Backend.REFERENCE : Backend.AUTO;
        Backend resolved = requested.resolve();
        SelectiveScanConfig cfg = SelectiveScanConfig.of().withDeltaSoftplus(softplus).withBackend(resolved)
                .withChunkSize(chunk);
        SelectiveScanInputs inputs = new SelectiveScanInputs(a.get("u"), a.get("delta"), a.get("A"), a.get("B"),
                a.get("C"), a.get("D"), a.get("z"), a.get("delta_bias"), a.get("initial_state"));
        long tRead = System.nanoTime();

        SelectiveScanForward f = SelectiveScan.forward(cfg, inputs, grad);
        long tForward = System.nanoTime();
        ScanDims d = f.dims();
        SelectiveScanGrads g = null;
        if (grad) {
            INDArray dOut = Shapes.require("dout.npy", a.get("dout"), "[B, D, L]", d.batch(), d.dim(), d.len());
            INDArray dLast = a.get("dlast_state");
            if (dLast != null) {
                Shapes.require("dlast_state.npy", dLast, "[B, D, N]", d.batch(), d.dim(), d.dstate());
            }
            g = SelectiveScan.backward(f, dOut, dLast);
        }
        long tBackward = System.nanoTime();

        Map<String, INDArray> results = new LinkedHashMap<>();
        results.put("out", f.out());
        results.put("last_state", f.lastState());
        if (g != null) {
            INDArray[] gs = {g.du(), g.ddelta(), g.dA(), g.dB(), g.dC(), g.dD(), g.dz(), g.dDeltaBias(),
                    g.dInitialState()};
            for (int i = 0; i < gs.length; i++) {
                results.put("d" + SCAN_GRAD_OF.get(i), gs[i]);
            }
        }
        Map<String, long[]> shapes = new LinkedHashMap<>();
        a.forEach((k, v) -> shapes.put(k, v.shape()));
        List<String> written = writeAll(results, dtype, shapes);
        long tEnd = System.nanoTime();

        Map<String, Integer> dims = new LinkedHashMap<>();
        dims.put("B", d.batch());
        dims.put("D", d.dim());
        dims.put("L", d.len());
        dims.put("N", d.dstate());
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("delta_softplus", softplus);
        settings.put("chunk_size", chunk);
        report(SCAN, resolved, dtype, dims, settings, shapes, files.keySet(), written,
                new long[] {t0, tRead, tForward, tBackward, tEnd});
        return 0;
    }

    /** {@code mnemo op ssd}: the files of {@link #SSD_REQUIRED} and {@link #SSD_OPTIONAL}. */
    private Integer callSsd(long t0) throws IOException {
        if (!Files.isDirectory(in)) {
            throw new IllegalArgumentException("--in " + in
                    + (Files.exists(in) ? " is not a directory" : " does not exist"));
        }
        List<String> req = new ArrayList<>(SSD_REQUIRED);
        List<String> opt = new ArrayList<>(SSD_OPTIONAL);
        if (grad) {
            req.add("dY");
            opt.add("dfinal_state");
        }
        List<String> outputs = new ArrayList<>(List.of("Y", "final_state"));
        SSD_GRAD_OF.forEach(g -> outputs.add("d" + g));
        String takes = String.join(", ", SSD_REQUIRED) + ", [" + String.join(", ", SSD_OPTIONAL) + "]"
                + (grad ? " and with --grad dY, [dfinal_state]" : "");
        Map<String, Path> files = inputFiles(SSD, req, opt, takes, List.of("dY", "dfinal_state"), outputs);
        Map<String, INDArray> a = new LinkedHashMap<>();
        for (Map.Entry<String, Path> e : files.entrySet()) {
            a.put(e.getKey(), Npy.read(e.getValue()));
        }
        DataType dtype = a.get("X").dataType();
        if (dtype != DataType.FLOAT && dtype != DataType.DOUBLE) {
            throw new IllegalArgumentException("X.npy has dtype " + Npy.descr(dtype) + ", expected <f4 (float32) or "
                    + "<f8 (float64)");
        }
        for (Map.Entry<String, INDArray> e : a.entrySet()) {
            if (!e.getKey().equals("block_len") && e.getValue().dataType() != dtype) {
                throw new IllegalArgumentException(e.getKey() + ".npy has dtype " + Npy.descr(e.getValue().dataType())
                        + " but X.npy has " + Npy.descr(dtype) + "; all tensors must share one dtype (float32 or "
                        + "float64)");
            }
        }
        int block = SSD_DEFAULT_BLOCK;
        if (a.containsKey("block_len")) {
            double c = number("block_len", a.get("block_len"));
            if (c != Math.rint(c) || c < 1 || c > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("block_len.npy must be a positive integer, got " + c);
            }
            block = (int) c;
        }
        INDArray s0 = a.get("initial_states");
        if (s0 != null && s0.rank() == 5) {
            if (s0.size(1) != 1) {
                throw new IllegalArgumentException("initial_states.npy has shape " + Arrays.toString(s0.shape())
                        + ", expected [B, H, P, N] or [B, 1, H, P, N]");
            }
            s0 = s0.reshape(s0.size(0), s0.size(2), s0.size(3), s0.size(4));
        }
        Backend requested = backend != null ? Backend.parse(backend)
                : dtype == DataType.DOUBLE ? Backend.REFERENCE : Backend.AUTO;
        Backend resolved = requested.resolve();
        long tRead = System.nanoTime();
        Ssd.Result f = Ssd.forward(a.get("X"), a.get("A"), a.get("B"), a.get("C"), block, s0, resolved, grad);
        long tForward = System.nanoTime();
        Ssd.Grads g = null;
        if (grad) {
            INDArray dY = Shapes.require("dY.npy", a.get("dY"), "[B, L, H, P]", f.y().shape());
            INDArray dFin = a.get("dfinal_state");
            if (dFin != null) {
                Shapes.require("dfinal_state.npy", dFin, "[B, H, P, N]", f.finalState().shape());
            }
            g = Ssd.backward(f, dY, dFin);
        }
        long tBackward = System.nanoTime();
        Map<String, INDArray> results = new LinkedHashMap<>();
        results.put("Y", f.y());
        results.put("final_state", f.finalState());
        if (g != null) {
            INDArray dS0 = g.dInitialState();
            if (a.get("initial_states") != null && a.get("initial_states").rank() == 5) {
                dS0 = dS0.reshape(a.get("initial_states").shape());
            }
            INDArray[] gs = {g.dX(), g.dA(), g.dB(), g.dC(), dS0};
            for (int i = 0; i < gs.length; i++) {
                results.put("d" + SSD_GRAD_OF.get(i), gs[i]);
            }
        }
        Map<String, long[]> shapes = new LinkedHashMap<>();
        a.forEach((k, v) -> shapes.put(k, v.shape()));
        List<String> written = writeAll(results, dtype, shapes);
        long tEnd = System.nanoTime();
        INDArray x = a.get("X");
        Map<String, Integer> dims = new LinkedHashMap<>();
        dims.put("B", (int) x.size(0));
        dims.put("L", (int) x.size(1));
        dims.put("H", (int) x.size(2));
        dims.put("P", (int) x.size(3));
        dims.put("G", (int) a.get("B").size(2));
        dims.put("N", (int) a.get("B").size(3));
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("block_len", block);
        report(SSD, resolved, dtype, dims, settings, shapes, files.keySet(), written,
                new long[] {t0, tRead, tForward, tBackward, tEnd});
        return 0;
    }

    /**
     * Prints the run's summary: JSON (op, backend, dtype, dims, settings, shapes, files, milliseconds) with
     * --json, else two lines.
     *
     * @param times nanoTime at start, after reading, after forward, after backward, at the end
     */
    private void report(String opName, Backend resolved, DataType dtype, Map<String, Integer> dims,
            Map<String, Object> settings, Map<String, long[]> shapes, java.util.Set<String> read, List<String> written,
            long[] times) {
        PrintWriter w = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("op", opName);
            s.put("backend", resolved.name().toLowerCase(Locale.ROOT));
            s.put("dtype", dtypeName(dtype));
            s.put("dims", dims);
            s.putAll(settings);
            s.put("grad", grad);
            s.put("shapes", shapes);
            s.put("files_read", read.stream().map(k -> k + ".npy").toList());
            s.put("out", out.toAbsolutePath().toString());
            s.put("files_written", written);
            Map<String, Double> ms = new LinkedHashMap<>();
            ms.put("read", millis(times[0], times[1]));
            ms.put("forward", millis(times[1], times[2]));
            ms.put("backward", millis(times[2], times[3]));
            ms.put("write", millis(times[3], times[4]));
            ms.put("total", millis(times[0], times[4]));
            s.put("milliseconds", ms);
            w.println(toJson(s));
        } else {
            StringBuilder line = new StringBuilder(opName + " on " + resolved.name().toLowerCase(Locale.ROOT) + " ("
                    + dtypeName(dtype) + "): ");
            line.append(dims.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                    .collect(Collectors.joining(" ")));
            settings.forEach((k, v) -> line.append(", ").append(k).append(' ')
                    .append(v instanceof Boolean b ? (b ? "True" : "False") : v));
            w.println(line);
            w.printf(Locale.ROOT, "wrote %s to %s in %.1f ms (forward %.1f ms%s)%n", String.join(", ", written), out,
                    millis(times[0], times[4]), millis(times[1], times[2]),
                    grad ? String.format(Locale.ROOT, ", backward %.1f ms", millis(times[2], times[3])) : "");
        }
        w.flush();
    }

    /** Writes the non-null arrays as NAME.npy in {@code dtype} to --out; returns the file names. */
    private List<String> writeAll(Map<String, INDArray> results, DataType dtype, Map<String, long[]> shapes)
            throws IOException {
        Files.createDirectories(out);
        List<String> written = new ArrayList<>();
        for (Map.Entry<String, INDArray> e : results.entrySet()) {
            if (e.getValue() == null) {
                continue;
            }
            INDArray v = e.getValue().dataType() == dtype ? e.getValue() : e.getValue().castTo(dtype);
            String file = e.getKey() + ".npy";
            Npy.write(out.resolve(file), v);
            written.add(file);
            shapes.put(e.getKey(), v.shape());
        }
        return written;
    }

    /**
     * The input files of this run by name (without .npy), after checking that every required file is present
     * and that no other file is.
     */
    private Map<String, Path> inputFiles(LinearOp op) throws IOException {
        List<String> req = new ArrayList<>(required(op));
        List<String> opt = new ArrayList<>(OPTIONAL);
        if (grad) {
            req.add("do");
            opt.add("dht");
        }
        List<String> outputs = new ArrayList<>(List.of("o", "final_state"));
        outputs.addAll(gradOutputs(op));
        return inputFiles(op.opName(), req, opt, takes(op) + (grad ? " and with --grad do, [dht]" : ""),
                List.of("do", "dht"), outputs);
    }

    /**
     * The input files by name (without .npy), in the order of {@code req} then {@code opt}, after checking
     * that every required file is present and that no other file is.
     *
     * @param takes what the op reads, for the message about an unknown file
     * @param gradOnly files read only with --grad
     * @param outputs names of files the op writes (named in the message when one is found in --in)
     */
    private Map<String, Path> inputFiles(String opName, List<String> req, List<String> opt, String takes,
            List<String> gradOnly, List<String> outputs) throws IOException {
        Map<String, Path> found = new TreeMap<>();
        try (Stream<Path> s = Files.list(in)) {
            for (Path p : s.sorted().toList()) {
                String file = p.getFileName().toString();
                // Hidden files (.DS_Store, editor swap files) and sub-directories are not inputs.
                if (file.startsWith(".") || Files.isDirectory(p)) {
                    continue;
                }
                String stem = file.endsWith(".npy") ? file.substring(0, file.length() - 4) : null;
                if (stem != null && (req.contains(stem) || opt.contains(stem))) {
                    found.put(stem, p);
                    continue;
                }
                throw new IllegalArgumentException(notAnInput(opName, takes, gradOnly, outputs, file, stem));
            }
        }
        List<String> missing = req.stream().filter(r -> !found.containsKey(r)).map(r -> r + ".npy").toList();
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("missing " + String.join(", ", missing) + " in " + in);
        }
        Map<String, Path> ordered = new LinkedHashMap<>();
        Stream.concat(req.stream(), opt.stream()).filter(found::containsKey).forEach(k -> ordered.put(k, found.get(k)));
        return ordered;
    }

    private String notAnInput(String opName, String takes, List<String> gradOnly, List<String> outputs, String file,
            String stem) {
        String msg = file + " is not an input of " + opName + "; it takes " + takes;
        if (!grad && gradOnly.contains(stem)) {
            return file + " is read only with --grad; pass --grad or remove it";
        }
        if (stem != null && outputs.contains(stem)) {
            return msg + " (" + file + " is an output; use another --out directory or remove it)";
        }
        return msg;
    }

    /** All tensors (not the 0-d settings) must be float32 or float64 and share q's dtype. */
    private static DataType requireFloatTensors(Map<String, INDArray> a) {
        DataType q = a.get("q").dataType();
        if (q != DataType.FLOAT && q != DataType.DOUBLE) {
            throw new IllegalArgumentException("q.npy has dtype " + Npy.descr(q) + ", expected <f4 (float32) or <f8 "
                    + "(float64)");
        }
        for (Map.Entry<String, INDArray> e : a.entrySet()) {
            if (OPTIONAL.contains(e.getKey()) && !e.getKey().equals("initial_state")) {
                continue;
            }
            DataType t = e.getValue().dataType();
            if (t != q) {
                throw new IllegalArgumentException(e.getKey() + ".npy has dtype " + Npy.descr(t) + " but q.npy has "
                        + Npy.descr(q) + "; all tensors must share one dtype (float32 or float64)");
            }
        }
        return q;
    }

    private static double number(String name, INDArray a) {
        if (a.length() != 1) {
            throw new IllegalArgumentException(name + ".npy must hold one number (shape ()), got shape "
                    + Arrays.toString(a.shape()));
        }
        if (a.dataType() == DataType.BOOL) {
            throw new IllegalArgumentException(name + ".npy holds a bool, expected a number");
        }
        return a.getDouble(0);
    }

    static int chunkSize(INDArray a) {
        double c = number("chunk_size", a);
        if (c != Math.rint(c) || c < 1 || c > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("chunk_size.npy must be a positive integer, got " + c);
        }
        return (int) c;
    }

    private static boolean flag(String name, INDArray a) {
        if (a.length() != 1) {
            throw new IllegalArgumentException(name + ".npy must hold one bool (shape ()), got shape "
                    + Arrays.toString(a.shape()));
        }
        double v = a.getDouble(0);
        if (a.dataType().isFPType() || (v != 0 && v != 1)) {
            throw new IllegalArgumentException(name + ".npy must hold True or False (|b1), got "
                    + Npy.descr(a.dataType()) + " " + v);
        }
        return v != 0;
    }

    private static String dtypeName(DataType t) {
        return t == DataType.DOUBLE ? "float64" : "float32";
    }

    private static double millis(long from, long to) {
        return Math.round((to - from) / 1e4) / 100.0;
    }

    private static String toJson(Map<String, Object> s) {
        try {
            return new ObjectMapper().writeValueAsString(s);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise the summary " + s.keySet(), e);
        }
    }

    /** For tests: the op names, as in {@code mnemo op --help}. */
    static List<String> opNames() {
        return Arrays.stream(LinearOp.values()).map(LinearOp::opName).collect(Collectors.toList());
    }
}
