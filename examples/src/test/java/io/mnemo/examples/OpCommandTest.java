package io.mnemo.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mnemo.core.NdBuffers;
import io.mnemo.core.io.Npy;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.linear.LinearForward;
import io.mnemo.modules.linear.LinearGrads;
import io.mnemo.modules.linear.LinearInputs;
import io.mnemo.modules.linear.LinearOp;
import io.mnemo.modules.linear.LinearOpConfig;
import io.mnemo.modules.linear.LinearOps;
import io.mnemo.modules.mamba.SelectiveScan;
import io.mnemo.modules.mamba.SelectiveScanConfig;
import io.mnemo.modules.mamba.SelectiveScanForward;
import io.mnemo.modules.mamba.SelectiveScanGrads;
import io.mnemo.modules.mamba.SelectiveScanInputs;
import io.mnemo.modules.mamba.Ssd;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * {@code mnemo op} run in-process on files written with {@link Npy}, compared with {@link LinearOps} called
 * directly: outputs, final state and every gradient; then the error cases.
 */
class OpCommandTest {
    private static final int B = 2;
    private static final int T = 7;
    private static final int H = 2;
    private static final int DK = 4;
    private static final int DV = 3;

    @TempDir
    Path tmp;

    /** Exit code, stdout and stderr of one run. */
    record Run(int code, String out, String err) {}

    static Run mnemo(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Mnemo.run(new PrintWriter(out), new PrintWriter(err), args);
        return new Run(code, out.toString(), err.toString());
    }

    /**
     * Random inputs as fla's tests draw them: q, k, v ~ N(0, 1) (k L2-normalised for the delta rules), log
     * decays logsigmoid(N(0, 1) + 2), beta = sigmoid(N(0, 1)), a random initial state.
     */
    static Map<String, INDArray> inputs(LinearOp op, DataType type, long seed, boolean withInit) {
        Nd4j.getRandom().setSeed(seed);
        Map<String, INDArray> m = new LinkedHashMap<>();
        m.put("q", Nd4j.randn(DataType.DOUBLE, B, T, H, DK));
        INDArray k = Nd4j.randn(DataType.DOUBLE, B, T, H, DK);
        if (op.delta()) {
            k = k.div(Transforms.sqrt(k.mul(k).sum(true, 3).addi(1e-6), false));
        }
        m.put("k", k);
        m.put("v", Nd4j.randn(DataType.DOUBLE, B, T, H, DV));
        if (op.scalarGate()) {
            m.put("g", Transforms.softPlus(Nd4j.randn(DataType.DOUBLE, B, T, H).addi(2).negi(), false).negi());
        }
        if (op.vectorGate()) {
            m.put("gk", Transforms.softPlus(Nd4j.randn(DataType.DOUBLE, B, T, H, DK).addi(2).negi(), false).negi());
        }
        if (op.delta()) {
            m.put("beta", Transforms.sigmoid(Nd4j.randn(DataType.DOUBLE, B, T, H), false));
        }
        if (withInit) {
            m.put("initial_state", Nd4j.randn(DataType.DOUBLE, B, H, DK, DV));
        }
        m.replaceAll((name, a) -> a.castTo(type));
        return m;
    }

    static Path write(Path dir, Map<String, INDArray> files) throws IOException {
        Files.createDirectories(dir);
        for (Map.Entry<String, INDArray> e : files.entrySet()) {
            Npy.write(dir.resolve(e.getKey() + ".npy"), e.getValue());
        }
        return dir;
    }

    static LinearInputs linearInputs(Map<String, INDArray> m) {
        return new LinearInputs(m.get("q"), m.get("k"), m.get("v"), m.get("g"), m.get("gk"), m.get("beta"),
                m.get("initial_state"));
    }

    static void assertClose(String what, INDArray expected, Path file, double tol) throws IOException {
        assertTrue(Files.exists(file), file + " not written");
        INDArray actual = Npy.read(file);
        assertEquals(expected.dataType(), actual.dataType(), what + " dtype");
        assertArrayEquals(expected.shape(), actual.shape(), what + " shape");
        double[] a = NdBuffers.toDoubles(actual);
        double[] e = NdBuffers.toDoubles(expected);
        double maxDiff = 0;
        double maxRef = 1e-6;
        for (int i = 0; i < a.length; i++) {
            assertFalse(Double.isNaN(a[i]), what + " has NaN at " + i);
            maxDiff = Math.max(maxDiff, Math.abs(a[i] - e[i]));
            maxRef = Math.max(maxRef, Math.abs(e[i]));
        }
        assertTrue(maxDiff / maxRef <= tol, what + ": relative error " + maxDiff / maxRef + " > " + tol);
    }

    /** float64 files run on the reference backend by default and match it to 1e-12, gradients included. */
    @ParameterizedTest
    @EnumSource(LinearOp.class)
    void float64MatchesTheReferenceBackend(LinearOp op) throws IOException {
        Map<String, INDArray> in = inputs(op, DataType.DOUBLE, 11 + op.ordinal(), true);
        INDArray dO = Nd4j.randn(DataType.DOUBLE, B, T, H, DV);
        INDArray dht = Nd4j.randn(DataType.DOUBLE, B, H, DK, DV);
        Map<String, INDArray> files = new LinkedHashMap<>(in);
        files.put("do", dO);
        files.put("dht", dht);
        Path dir = write(tmp.resolve("in"), files);
        Path out = tmp.resolve("out");

        Run r = mnemo("op", op.opName(), "--in", dir.toString(), "--out", out.toString(), "--grad");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains(op.opName() + " on reference (float64)"), r.out());

        LinearOpConfig cfg = LinearOpConfig.of(op).withBackend(Backend.REFERENCE);
        LinearForward f = LinearOps.forward(cfg, linearInputs(in), true);
        LinearGrads g = LinearOps.backward(f, dO, dht);
        assertClose("o", f.o(), out.resolve("o.npy"), 1e-12);
        assertClose("final_state", f.finalState(), out.resolve("final_state.npy"), 1e-12);
        assertClose("dq", g.dq(), out.resolve("dq.npy"), 1e-12);
        assertClose("dk", g.dk(), out.resolve("dk.npy"), 1e-12);
        assertClose("dv", g.dv(), out.resolve("dv.npy"), 1e-12);
        assertClose("dh0", g.dInitialState(), out.resolve("dh0.npy"), 1e-12);
        List<String> expected = new ArrayList<>(List.of("dh0.npy", "dk.npy", "dq.npy", "dv.npy", "final_state.npy",
                "o.npy"));
        if (op.scalarGate()) {
            assertClose("dg", g.dg(), out.resolve("dg.npy"), 1e-12);
            expected.add("dg.npy");
        }
        if (op.vectorGate()) {
            assertClose("dgk", g.dgk(), out.resolve("dgk.npy"), 1e-12);
            expected.add("dgk.npy");
        }
        if (op.delta()) {
            assertClose("dbeta", g.dbeta(), out.resolve("dbeta.npy"), 1e-12);
            expected.add("dbeta.npy");
        }
        assertEquals(expected.stream().sorted().toList(), list(out));
    }

    /** float32 files run on the automatic backend, keep float32, and agree with the double reference. */
    @ParameterizedTest
    @EnumSource(LinearOp.class)
    void float32MatchesTheAutomaticBackend(LinearOp op) throws IOException {
        Map<String, INDArray> in = inputs(op, DataType.FLOAT, 23 + op.ordinal(), false);
        INDArray dO = Nd4j.randn(DataType.DOUBLE, B, T, H, DV).castTo(DataType.FLOAT);
        Map<String, INDArray> files = new LinkedHashMap<>(in);
        files.put("do", dO);
        Path dir = write(tmp.resolve("in"), files);
        Path out = tmp.resolve("out");

        Run r = mnemo("op", op.opName(), "--in", dir.toString(), "--out", out.toString(), "--grad");
        assertEquals(0, r.code(), r.err());
        String auto = Backend.AUTO.resolve().name().toLowerCase();
        assertTrue(r.out().contains(op.opName() + " on " + auto + " (float32)"), r.out());

        LinearOpConfig cfg = LinearOpConfig.of(op);
        LinearForward f = LinearOps.forward(cfg, linearInputs(in), true);
        LinearGrads g = LinearOps.backward(f, dO, null);
        assertClose("o", f.o(), out.resolve("o.npy"), 1e-6);
        assertClose("final_state", f.finalState(), out.resolve("final_state.npy"), 1e-6);
        assertClose("dq", g.dq(), out.resolve("dq.npy"), 1e-6);
        assertClose("dv", g.dv(), out.resolve("dv.npy"), 1e-6);
        assertClose("dh0", g.dInitialState(), out.resolve("dh0.npy"), 1e-6);

        LinearForward ref = LinearOps.forward(cfg.withBackend(Backend.REFERENCE), linearInputs(in), false);
        assertClose("o vs reference", ref.o(), out.resolve("o.npy"), 1e-4);
    }

    /** scale, chunk_size and output_final_state files are honoured; no final_state.npy when it is False. */
    @Test
    void settingsFilesAreHonoured() throws IOException {
        LinearOp op = LinearOp.GATED_DELTA_RULE;
        Map<String, INDArray> in = inputs(op, DataType.DOUBLE, 5, false);
        Map<String, INDArray> files = new LinkedHashMap<>(in);
        files.put("scale", Nd4j.scalar(0.3));
        files.put("chunk_size", Nd4j.scalar(3L));
        files.put("output_final_state", Nd4j.scalar(false));
        Path dir = write(tmp.resolve("in"), files);
        Path out = tmp.resolve("out");

        Run r = mnemo("op", op.opName(), "--in", dir.toString(), "--out", out.toString(), "--backend", "cpu",
                "--json");
        assertEquals(0, r.code(), r.err());
        assertEquals(List.of("o.npy"), list(out));
        LinearOpConfig cfg = LinearOpConfig.of(op).withBackend(Backend.CPU).withScale(0.3).withChunkSize(3);
        INDArray o = LinearOps.forward(cfg, linearInputs(in), false).o();
        assertClose("o", o, out.resolve("o.npy"), 1e-12);

        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals("gated_delta_rule", j.get("op").asText());
        assertEquals("cpu", j.get("backend").asText());
        assertEquals("float64", j.get("dtype").asText());
        assertEquals(0.3, j.get("scale").asDouble());
        assertEquals(3, j.get("chunk_size").asInt());
        assertEquals("[2,7,2,4]", j.get("shapes").get("q").toString());
        assertEquals("[2,7,2,3]", j.get("shapes").get("o").toString());
        assertEquals("[\"o.npy\"]", j.get("files_written").toString());
        assertTrue(j.get("milliseconds").get("total").asDouble() >= 0);
    }

    @Test
    void helpListsEveryOpWithItsFiles() {
        Run r = mnemo("op", "--help");
        assertEquals(0, r.code(), r.err());
        for (LinearOp op : LinearOp.values()) {
            assertTrue(r.out().contains(op.opName()), op.opName() + " missing from\n" + r.out());
        }
        assertTrue(r.out().contains("  gla               q, k, v, gk       dq, dk, dv, dgk, dh0"), r.out());
        assertTrue(r.out().contains("  gated_delta_rule  q, k, v, g, beta  dq, dk, dv, dg, dbeta, dh0"), r.out());
        assertTrue(r.out().contains("[initial_state, scale, chunk_size, output_final_state]"), r.out());
        int widest = r.out().lines().mapToInt(String::length).max().orElse(0);
        assertTrue(widest <= 80, "help wider than 80 columns: " + widest);
        assertTrue(r.out().contains("--backend"), r.out());
        Run top = mnemo("--help");
        assertEquals(0, top.code());
        assertTrue(top.out().contains("op"), top.out());
        Run version = mnemo("--version");
        assertEquals(0, version.code());
        assertTrue(version.out().startsWith("mnemo "), version.out());
    }

    @Test
    void missingFileIsOneLineWithExitCodeTwo() throws IOException {
        Map<String, INDArray> in = inputs(LinearOp.DELTA_RULE, DataType.DOUBLE, 1, false);
        in.remove("q");
        in.remove("beta");
        Path dir = write(tmp.resolve("in"), in);
        Run r = mnemo("op", "delta_rule", "--in", dir.toString(), "--out", tmp.resolve("out").toString());
        assertOneLineError(r, "mnemo op: missing q.npy, beta.npy in " + dir);
        assertFalse(Files.exists(tmp.resolve("out")), "nothing written");
    }

    @Test
    void unknownFileIsNamed() throws IOException {
        Map<String, INDArray> in = inputs(LinearOp.GATED_DELTA_RULE, DataType.DOUBLE, 1, false);
        in.put("gk", Nd4j.zeros(DataType.DOUBLE, B, T, H, DK));
        Path dir = write(tmp.resolve("in"), in);
        Run r = mnemo("op", "gated_delta_rule", "--in", dir.toString(), "--out", tmp.resolve("out").toString());
        assertOneLineError(r, "mnemo op: gk.npy is not an input of gated_delta_rule; it takes q, k, v, g, beta, "
                + "[initial_state, scale, chunk_size, output_final_state]");

        Files.delete(dir.resolve("gk.npy"));
        Npy.write(dir.resolve("do.npy"), Nd4j.zeros(DataType.DOUBLE, B, T, H, DV));
        r = mnemo("op", "gated_delta_rule", "--in", dir.toString(), "--out", tmp.resolve("out").toString());
        assertOneLineError(r, "mnemo op: do.npy is read only with --grad; pass --grad or remove it");
    }

    @Test
    void badShapeIsOneLineWithExitCodeTwo() throws IOException {
        Map<String, INDArray> in = inputs(LinearOp.SIMPLE_GLA, DataType.DOUBLE, 1, false);
        in.put("k", Nd4j.zeros(DataType.DOUBLE, B, T + 1, H, DK));
        Path dir = write(tmp.resolve("in"), in);
        Run r = mnemo("op", "simple_gla", "--in", dir.toString(), "--out", tmp.resolve("out").toString());
        assertOneLineError(r, "mnemo op: k has shape [2, 8, 2, 4], expected [B, T, H, Dk] = [2, 7, 2, 4]");

        in = inputs(LinearOp.SIMPLE_GLA, DataType.DOUBLE, 1, false);
        in.put("do", Nd4j.zeros(DataType.DOUBLE, B, T, H, DK));
        dir = write(tmp.resolve("in2"), in);
        r = mnemo("op", "simple_gla", "--in", dir.toString(), "--out", tmp.resolve("out").toString(), "--grad");
        assertOneLineError(r, "mnemo op: do.npy has shape [2, 7, 2, 4], expected [B, T, H, Dv] = [2, 7, 2, 3]");
    }

    @Test
    void otherBadInputsAreOneLineWithExitCodeTwo() throws IOException {
        Map<String, INDArray> in = inputs(LinearOp.LINEAR_ATTN, DataType.DOUBLE, 1, false);
        in.put("v", in.get("v").castTo(DataType.FLOAT));
        Path dir = write(tmp.resolve("in"), in);
        String out = tmp.resolve("out").toString();
        assertOneLineError(mnemo("op", "linear_attn", "--in", dir.toString(), "--out", out),
                "mnemo op: v.npy has dtype <f4 but q.npy has <f8; all tensors must share one dtype");
        assertOneLineError(mnemo("op", "mamba", "--in", dir.toString(), "--out", out),
                "mnemo op: unknown linear op 'mamba', expected one of linear_attn, simple_gla, gla, delta_rule, "
                        + "gated_delta_rule");

        in = inputs(LinearOp.LINEAR_ATTN, DataType.DOUBLE, 1, false);
        dir = write(tmp.resolve("in2"), in);
        assertOneLineError(mnemo("op", "linear_attn", "--in", dir.toString(), "--out", out, "--backend", "gpu"),
                "mnemo op: unknown backend 'gpu', expected one of auto, reference, cpu, nd4j");
        Npy.write(dir.resolve("chunk_size.npy"), Nd4j.scalar(0L));
        assertOneLineError(mnemo("op", "linear_attn", "--in", dir.toString(), "--out", out),
                "mnemo op: chunk_size.npy must be a positive integer, got 0.0");
        Files.write(dir.resolve("chunk_size.npy"), new byte[] {1, 2, 3});
        assertOneLineError(mnemo("op", "linear_attn", "--in", dir.toString(), "--out", out),
                "chunk_size.npy: too short to be a .npy file (3 bytes)");
        assertOneLineError(mnemo("op", "linear_attn", "--in", tmp.resolve("nowhere").toString(), "--out", out),
                "mnemo op: --in " + tmp.resolve("nowhere") + " does not exist");
        Run usage = mnemo("op", "linear_attn", "--in", dir.toString());
        assertEquals(2, usage.code());
        assertTrue(usage.err().contains("Missing required option: '--out=DIR'"), usage.err());
    }

    /** selective_scan inputs: B grouped [B, G, N, L], C input-dependent [B, N, L], every optional input. */
    static Map<String, INDArray> scanInputs(DataType type, long seed) {
        Nd4j.getRandom().setSeed(seed);
        int b = 2;
        int d = 4;
        int l = 7;
        int n = 3;
        Map<String, INDArray> m = new LinkedHashMap<>();
        m.put("u", Nd4j.randn(DataType.DOUBLE, b, d, l));
        m.put("delta", Nd4j.randn(DataType.DOUBLE, b, d, l).subi(1));
        m.put("A", Transforms.exp(Nd4j.randn(DataType.DOUBLE, d, n).muli(0.5), false).negi());
        m.put("B", Nd4j.randn(DataType.DOUBLE, b, 2, n, l));
        m.put("C", Nd4j.randn(DataType.DOUBLE, b, n, l));
        m.put("D", Nd4j.randn(DataType.DOUBLE, d));
        m.put("z", Nd4j.randn(DataType.DOUBLE, b, d, l));
        m.put("delta_bias", Nd4j.rand(DataType.DOUBLE, d).muli(0.1));
        m.put("initial_state", Nd4j.randn(DataType.DOUBLE, b, d, n));
        m.replaceAll((k, v) -> v.castTo(type));
        return m;
    }

    static SelectiveScanInputs scanInputs(Map<String, INDArray> m) {
        return new SelectiveScanInputs(m.get("u"), m.get("delta"), m.get("A"), m.get("B"), m.get("C"), m.get("D"),
                m.get("z"), m.get("delta_bias"), m.get("initial_state"));
    }

    /** float64 selective_scan files run on the reference backend and match it, every gradient included. */
    @Test
    void selectiveScanFloat64MatchesTheReferenceBackend() throws IOException {
        Map<String, INDArray> in = scanInputs(DataType.DOUBLE, 31);
        INDArray dOut = Nd4j.randn(DataType.DOUBLE, 2, 4, 7);
        INDArray dLast = Nd4j.randn(DataType.DOUBLE, 2, 4, 3);
        Map<String, INDArray> files = new LinkedHashMap<>(in);
        files.put("delta_softplus", Nd4j.scalar(true));
        files.put("dout", dOut);
        files.put("dlast_state", dLast);
        Path dir = write(tmp.resolve("in"), files);
        Path out = tmp.resolve("out");

        Run r = mnemo("op", "selective_scan", "--in", dir.toString(), "--out", out.toString(), "--grad");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("selective_scan on reference (float64): B=2 D=4 L=7 N=3, delta_softplus True"),
                r.out());

        SelectiveScanConfig cfg = SelectiveScanConfig.of().withDeltaSoftplus(true).withBackend(Backend.REFERENCE);
        SelectiveScanForward f = SelectiveScan.forward(cfg, scanInputs(in), true);
        SelectiveScanGrads g = SelectiveScan.backward(f, dOut, dLast);
        assertClose("out", f.out(), out.resolve("out.npy"), 1e-12);
        assertClose("last_state", f.lastState(), out.resolve("last_state.npy"), 1e-12);
        assertClose("du", g.du(), out.resolve("du.npy"), 1e-12);
        assertClose("ddelta", g.ddelta(), out.resolve("ddelta.npy"), 1e-12);
        assertClose("dA", g.dA(), out.resolve("dA.npy"), 1e-12);
        assertClose("dB", g.dB(), out.resolve("dB.npy"), 1e-12);
        assertClose("dC", g.dC(), out.resolve("dC.npy"), 1e-12);
        assertClose("dD", g.dD(), out.resolve("dD.npy"), 1e-12);
        assertClose("dz", g.dz(), out.resolve("dz.npy"), 1e-12);
        assertClose("ddelta_bias", g.dDeltaBias(), out.resolve("ddelta_bias.npy"), 1e-12);
        assertClose("dinitial_state", g.dInitialState(), out.resolve("dinitial_state.npy"), 1e-12);
        assertEquals(List.of("dA.npy", "dB.npy", "dC.npy", "dD.npy", "ddelta.npy", "ddelta_bias.npy",
                "dinitial_state.npy", "du.npy", "dz.npy", "last_state.npy", "out.npy"), list(out));
        // without softplus the result differs: the flag is read
        Files.delete(dir.resolve("delta_softplus.npy"));
        Run r2 = mnemo("op", "selective_scan", "--in", dir.toString(), "--out", tmp.resolve("out2").toString(),
                "--grad", "--json");
        assertEquals(0, r2.code(), r2.err());
        JsonNode j = new ObjectMapper().readTree(r2.out());
        assertFalse(j.get("delta_softplus").asBoolean());
        assertEquals("[2,2,3,7]", j.get("shapes").get("dB").toString());
        INDArray plain = SelectiveScan.forward(cfg.withDeltaSoftplus(false), scanInputs(in), false).out();
        assertClose("out without softplus", plain, tmp.resolve("out2").resolve("out.npy"), 1e-12);
    }

    /** float32 selective_scan files run on the automatic backend and agree with the double reference. */
    @Test
    void selectiveScanFloat32MatchesTheReference() throws IOException {
        Map<String, INDArray> in = scanInputs(DataType.FLOAT, 32);
        in.remove("z");
        in.remove("initial_state");
        Path dir = write(tmp.resolve("in"), in);
        Path out = tmp.resolve("out");
        Run r = mnemo("op", "selective_scan", "--in", dir.toString(), "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(List.of("last_state.npy", "out.npy"), list(out));
        SelectiveScanForward ref = SelectiveScan.forward(SelectiveScanConfig.of().withBackend(Backend.REFERENCE),
                scanInputs(in), false);
        assertClose("out", ref.out(), out.resolve("out.npy"), 1e-5);
        assertClose("last_state", ref.lastState(), out.resolve("last_state.npy"), 1e-5);
    }

    @Test
    void selectiveScanBadFilesAreOneLineWithExitCodeTwo() throws IOException {
        Map<String, INDArray> in = scanInputs(DataType.DOUBLE, 33);
        in.put("q", Nd4j.zeros(DataType.DOUBLE, 2));
        Path dir = write(tmp.resolve("in"), in);
        String out = tmp.resolve("out").toString();
        assertOneLineError(mnemo("op", "selective_scan", "--in", dir.toString(), "--out", out),
                "mnemo op: q.npy is not an input of selective_scan; it takes u, delta, A, B, C, [D, z, delta_bias, "
                        + "delta_softplus, initial_state, chunk_size]");
        Files.delete(dir.resolve("q.npy"));
        Files.delete(dir.resolve("C.npy"));
        assertOneLineError(mnemo("op", "selective_scan", "--in", dir.toString(), "--out", out),
                "mnemo op: missing C.npy in " + dir);
        Npy.write(dir.resolve("C.npy"), Nd4j.zeros(DataType.DOUBLE, 2, 3, 6));
        assertOneLineError(mnemo("op", "selective_scan", "--in", dir.toString(), "--out", out),
                "mnemo op: C has shape [2, 3, 6], expected [D, N] = [4, 3], [B, N, L] = [2, 3, 7]");
        Npy.write(dir.resolve("C.npy"), Nd4j.zeros(DataType.DOUBLE, 2, 3, 7));
        assertOneLineError(mnemo("op", "selective_scan", "--in", dir.toString(), "--out", out, "--grad"),
                "mnemo op: missing dout.npy in " + dir);
        Npy.write(dir.resolve("dout.npy"), Nd4j.zeros(DataType.DOUBLE, 2, 4, 7));
        assertOneLineError(mnemo("op", "selective_scan", "--in", dir.toString(), "--out", out),
                "mnemo op: dout.npy is read only with --grad; pass --grad or remove it");
        Npy.write(dir.resolve("delta_softplus.npy"), Nd4j.scalar(2.0));
        assertOneLineError(mnemo("op", "selective_scan", "--in", dir.toString(), "--out", out, "--grad"),
                "mnemo op: delta_softplus.npy must hold True or False (|b1)");
        assertFalse(Files.exists(tmp.resolve("out")), "nothing written");
        Run help = mnemo("op", "--help");
        assertTrue(help.out().contains("selective_scan"), help.out());
    }

    /** ssd inputs as ssd_minimal_discrete takes them (G = H), with the reference's 5-D initial_states. */
    static Map<String, INDArray> ssdInputs(long seed) {
        Nd4j.getRandom().setSeed(seed);
        Map<String, INDArray> m = new LinkedHashMap<>();
        m.put("X", Nd4j.randn(DataType.DOUBLE, 2, 9, 3, 4));
        m.put("A", Nd4j.rand(DataType.DOUBLE, 2, 9, 3).muli(-0.5));
        m.put("B", Nd4j.randn(DataType.DOUBLE, 2, 9, 3, 2));
        m.put("C", Nd4j.randn(DataType.DOUBLE, 2, 9, 3, 2));
        m.put("initial_states", Nd4j.randn(DataType.DOUBLE, 2, 1, 3, 4, 2));
        return m;
    }

    /** float64 ssd files match the per-step recurrence H_t = e^{A_t} H + X_t B_tᵀ, y = H C (written here). */
    @Test
    void ssdFloat64MatchesTheRecurrence() throws IOException {
        Map<String, INDArray> in = ssdInputs(41);
        Map<String, INDArray> files = new LinkedHashMap<>(in);
        files.put("block_len", Nd4j.scalar(4L));
        INDArray dY = Nd4j.randn(DataType.DOUBLE, 2, 9, 3, 4);
        files.put("dY", dY);
        Path dir = write(tmp.resolve("in"), files);
        Path out = tmp.resolve("out");
        Run r = mnemo("op", "ssd", "--in", dir.toString(), "--out", out.toString(), "--grad");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("ssd on reference (float64): B=2 L=9 H=3 P=4 G=3 N=2, block_len 4"), r.out());
        INDArray y = Nd4j.zeros(DataType.DOUBLE, 2, 9, 3, 4);
        INDArray fin = Nd4j.zeros(DataType.DOUBLE, 2, 3, 4, 2);
        for (int b = 0; b < 2; b++) {
            for (int h = 0; h < 3; h++) {
                double[][] st = new double[4][2];
                for (int p = 0; p < 4; p++) {
                    for (int n = 0; n < 2; n++) {
                        st[p][n] = in.get("initial_states").getDouble(b, 0, h, p, n);
                    }
                }
                for (int t = 0; t < 9; t++) {
                    double dec = Math.exp(in.get("A").getDouble(b, t, h));
                    for (int p = 0; p < 4; p++) {
                        double acc = 0;
                        for (int n = 0; n < 2; n++) {
                            st[p][n] = dec * st[p][n] + in.get("X").getDouble(b, t, h, p) * in.get("B").getDouble(b, t, h, n);
                            acc += st[p][n] * in.get("C").getDouble(b, t, h, n);
                        }
                        y.putScalar(new long[] {b, t, h, p}, acc);
                    }
                }
                for (int p = 0; p < 4; p++) {
                    for (int n = 0; n < 2; n++) {
                        fin.putScalar(new long[] {b, h, p, n}, st[p][n]);
                    }
                }
            }
        }
        assertClose("Y", y, out.resolve("Y.npy"), 1e-12);
        assertClose("final_state", fin, out.resolve("final_state.npy"), 1e-12);
        Ssd.Result f = Ssd.forward(in.get("X"), in.get("A"), in.get("B"), in.get("C"), 4,
                in.get("initial_states").reshape(2, 3, 4, 2), Backend.REFERENCE, true);
        Ssd.Grads g = Ssd.backward(f, dY, null);
        assertClose("dX", g.dX(), out.resolve("dX.npy"), 1e-12);
        assertClose("dA", g.dA(), out.resolve("dA.npy"), 1e-12);
        assertClose("dB", g.dB(), out.resolve("dB.npy"), 1e-12);
        assertClose("dC", g.dC(), out.resolve("dC.npy"), 1e-12);
        assertClose("dinitial_states (the input's 5-D shape)", g.dInitialState().reshape(2, 1, 3, 4, 2),
                out.resolve("dinitial_states.npy"), 1e-12);
        assertEquals(List.of("Y.npy", "dA.npy", "dB.npy", "dC.npy", "dX.npy", "dinitial_states.npy",
                "final_state.npy"), list(out));
    }

    @Test
    void ssdGroupedFloat32AndBadFiles() throws IOException {
        Map<String, INDArray> in = ssdInputs(42);
        in.put("X", Nd4j.randn(DataType.DOUBLE, 2, 9, 4, 4));
        in.put("A", Nd4j.rand(DataType.DOUBLE, 2, 9, 4).muli(-0.5));
        in.put("B", Nd4j.randn(DataType.DOUBLE, 2, 9, 2, 2));
        in.put("C", Nd4j.randn(DataType.DOUBLE, 2, 9, 2, 2));
        in.remove("initial_states");
        in.replaceAll((k, v) -> v.castTo(DataType.FLOAT));
        Path dir = write(tmp.resolve("in"), in);
        Path out = tmp.resolve("out");
        Run r = mnemo("op", "ssd", "--in", dir.toString(), "--out", out.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(2, j.get("dims").get("G").asInt());
        assertEquals(64, j.get("block_len").asInt());
        Ssd.Result ref = Ssd.forward(in.get("X").castTo(DataType.DOUBLE), in.get("A").castTo(DataType.DOUBLE),
                in.get("B").castTo(DataType.DOUBLE), in.get("C").castTo(DataType.DOUBLE), 64, null,
                Backend.REFERENCE, false);
        assertClose("Y", ref.y().castTo(DataType.FLOAT), out.resolve("Y.npy"), 1e-5);
        Npy.write(dir.resolve("B.npy"), Nd4j.zeros(DataType.FLOAT, 2, 9, 3, 2));
        Npy.write(dir.resolve("C.npy"), Nd4j.zeros(DataType.FLOAT, 2, 9, 3, 2));
        assertOneLineError(mnemo("op", "ssd", "--in", dir.toString(), "--out", tmp.resolve("o2").toString()),
                "mnemo op: B and C have G=3 groups, which does not divide the H=4 heads of X");
        Npy.write(dir.resolve("u.npy"), Nd4j.zeros(DataType.FLOAT, 2));
        assertOneLineError(mnemo("op", "ssd", "--in", dir.toString(), "--out", tmp.resolve("o2").toString()),
                "mnemo op: u.npy is not an input of ssd; it takes X, A, B, C, [block_len, initial_states]");
    }

    private static void assertOneLineError(Run r, String expected) {
        assertEquals(2, r.code(), "exit code; stderr: " + r.err());
        String err = r.err().strip();
        assertFalse(err.contains("\n"), "one line expected:\n" + err);
        assertTrue(err.contains(expected), "expected '" + expected + "' in\n" + err);
    }

    private static List<String> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** Sanity of the shared file tables used by the help text. */
    @Test
    void fileTablesFollowFla() {
        assertEquals(List.of("q", "k", "v", "g", "beta"), OpCommand.required(LinearOp.GATED_DELTA_RULE));
        assertEquals(List.of("dq", "dk", "dv", "dgk", "dh0"), OpCommand.gradOutputs(LinearOp.GLA));
        assertEquals(Arrays.stream(LinearOp.values()).map(LinearOp::opName).toList(), OpCommand.opNames());
    }
}
