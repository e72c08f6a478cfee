package io.mnemo.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The training commands end to end on tiny settings, and their one-line errors. */
class TrainingCommandsTest {
    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        StringWriter o = new StringWriter();
        StringWriter e = new StringWriter();
        int code = Mnemo.run(new PrintWriter(o), new PrintWriter(e), args);
        return new Run(code, o.toString(), e.toString());
    }

    static final String[] MQAR = {"--task", "mqar", "-o", "vocab=32", "-o", "seqLen=32", "-o", "pairs=2"};

    static String[] concat(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    @Test
    void trainResumeEvalAndErrors(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("run");
        Run r = run(concat(concat(new String[] {"train", "--model", "gdn-tiny"}, MQAR), "--steps", "3", "--batch", "4",
                "--out", out.toString()));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("step 3/3"), r.out());
        assertTrue(Files.isDirectory(out.resolve("checkpoints/step-00000003")));
        assertTrue(Files.readAllLines(out.resolve("train.csv")).size() >= 2);

        r = run("train", "--resume", "--out", out.toString(), "--steps", "5", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(5, j.get("steps").asInt());
        r = run("train", "--resume", "--out", out.toString(), "--steps", "9", "--lr", "1");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--lr cannot be changed on --resume"), r.err());

        r = run("eval", "--run", out.toString(), "--lengths", "32,64", "--batches", "1", "--batch", "4", "--json");
        assertEquals(0, r.code(), r.err());
        j = new ObjectMapper().readTree(r.out());
        assertEquals(2, j.get("results").size());
        assertEquals(64, j.get("results").get(1).get("length").asInt());
        JsonNode row = j.get("results").get(1);
        assertEquals(row.get("loss").asDouble() / Math.log(2), row.get("bits").asDouble(), 1e-12);

        // again without --resume into a run that has checkpoints
        r = run(concat(concat(new String[] {"train", "--model", "gdn-tiny"}, MQAR), "--steps", "3", "--out",
                out.toString()));
        assertEquals(2, r.code());
        assertTrue(r.err().contains("already holds checkpoints; use --resume"), r.err());

        // corrupt and foreign checkpoints
        Path ck = out.resolve("checkpoints/step-00000005/trainer.json");
        String good = Files.readString(ck);
        Files.writeString(ck, good.replace("\"version\" : 1", "\"version\" : 7"));
        r = run("eval", "--run", out.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("version 7; this Mnemo reads mnemo-checkpoint version 1"), r.err());
        Files.writeString(ck, "{garbage");
        r = run("eval", "--run", out.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("is corrupt"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    @Test
    void badInputGetsOneLineAndExitCode2(@TempDir Path tmp) {
        java.util.List<Run> all = new java.util.ArrayList<>();
        Run r = run(concat(new String[] {"train", "--model", "gpt5"}, concat(MQAR, "--out", tmp.toString())));
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown model 'gpt5'"), r.err());
        all.add(r);
        r = run("train", "--model", "gdn-tiny", "--task", "sudoku", "--out", tmp.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown task 'sudoku'"), r.err());
        all.add(r);
        r = run("train", "--model", "gdn-tiny", "--task", "mqar", "-o", "seqLen=32", "-o", "pairs=16", "--out",
                tmp.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("pairs"), r.err());
        all.add(r);
        r = run("eval", "--run", tmp.resolve("nothing").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("does not exist"), r.err());
        all.add(r);
        r = run("eval", "--run", tmp.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("no checkpoint in"), r.err());
        all.add(r);
        r = run("train", "--model", "gdn-tiny", "--task", "mqar", "-o", "vocab=32", "-o", "seqLen=32", "-o", "pairs=2",
                "--steps", "3", "--batch", "2", "--lr", "1e30", "--clip", "0", "--warmup", "0", "--out",
                tmp.resolve("diverge").toString());
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("diverged"), r.err());
        all.add(r);
        for (Run x : all) {
            assertEquals(1, x.err().strip().lines().count(), x.err());
        }
    }

    @Test
    void listShowsPresetsAndTasks() {
        Run r = run("list");
        assertEquals(0, r.code(), r.err());
        for (String s : new String[] {"gdn-tiny", "gated_delta_rule", "mqar", "passkey", "niah", "selective-copy",
            "induction"}) {
            assertTrue(r.out().contains(s), s + " missing from\n" + r.out());
        }
    }

    @Test
    void listOnStdoutPrintsTheTasksToo() {
        // the shaded jar's path: picocli's own stdout writer, which flushes on println only
        java.io.PrintStream saved = System.out;
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        System.setOut(new java.io.PrintStream(bytes, false, java.nio.charset.StandardCharsets.UTF_8));
        int code;
        try {
            code = Mnemo.run("list");
        } finally {
            System.setOut(saved);
        }
        assertEquals(0, code);
        String out = bytes.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(out.contains("contextWeight") && out.contains("selective-copy"), out);
    }

    @Test
    void recallSweepAndDemoWriteCsvAndPng(@TempDir Path tmp) throws Exception {
        Run r = run("recall-sweep", "--models", "gdn-tiny,linear-attn-tiny", "--task", "mqar", "-o", "vocab=32",
                "--lengths", "32", "--eval-lengths", "64", "--steps", "2", "--batch", "4", "--eval-batches", "1",
                "--out", tmp.resolve("sweep").toString());
        assertEquals(0, r.code(), r.err());
        var csv = Files.readAllLines(tmp.resolve("sweep/recall.csv"));
        assertEquals(5, csv.size(), String.join("\n", csv));
        assertTrue(Files.size(tmp.resolve("sweep/recall.png")) > 1000);

        // a run scored with eval --csv, merged with the sweep by recall-chart
        Path pk = tmp.resolve("pk");
        r = run("train", "--model", "gdn-tiny", "--task", "passkey", "-o", "seqLen=120", "-o", "contextWeight=0.1",
                "--steps", "1", "--batch", "2", "--out", pk.toString());
        assertEquals(0, r.code(), r.err());
        Path evalCsv = tmp.resolve("pk.csv");
        for (String lengths : new String[] {"120", "240"}) {
            r = run("eval", "--run", pk.toString(), "--lengths", lengths, "--batches", "1", "--batch", "2", "--csv",
                    evalCsv.toString(), "--label", "gdn-pk");
            assertEquals(0, r.code(), r.err());
        }
        var pts = io.mnemo.bench.recall.RecallSweep.readCsv(evalCsv);
        assertEquals(2, pts.size(), pts.toString());
        assertEquals("gdn-pk", pts.get(1).model());
        assertEquals(120, pts.get(1).trainLength());
        assertEquals(240, pts.get(1).evalLength());
        assertEquals("passkey", pts.get(1).task().get("task"));
        assertEquals("240", pts.get(1).task().get("seqLen"));
        var swept = io.mnemo.bench.recall.RecallSweep.readCsv(tmp.resolve("sweep/recall.csv"));
        assertEquals(4, swept.size());
        assertEquals("gdn-tiny", swept.get(0).model());
        r = run("recall-chart", "--csv", tmp.resolve("sweep/recall.csv") + "," + evalCsv, "--metric", "example",
                "--out", tmp.resolve("merged").toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(7, Files.readAllLines(tmp.resolve("merged/recall.csv")).size());
        assertTrue(Files.size(tmp.resolve("merged/recall.png")) > 1000);
        r = run("recall-chart", "--csv", tmp.resolve("nothing.csv").toString(), "--out", tmp.resolve("m2").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("no such file"), r.err());
        Files.writeString(tmp.resolve("bad.csv"), "a,b\n");
        r = run("recall-chart", "--csv", tmp.resolve("bad.csv").toString(), "--out", tmp.resolve("m3").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("is not a recall CSV"), r.err());

        r = run("demo", "--steps", "2", "--out", tmp.resolve("demo").toString(), "--json");
        assertEquals(0, r.code(), r.err());
        assertEquals(4, new ObjectMapper().readTree(r.out()).get("points").size());
        assertTrue(Files.exists(tmp.resolve("demo/recall.png")));
    }

    @Test
    void trainInitStartsFromAnotherRunsWeights(@TempDir Path tmp) throws Exception {
        String[] pk = {"train", "--task", "passkey", "-o", "seqLen=120", "--batch", "2"};
        Path a = tmp.resolve("a");
        Run r = run(concat(pk, "--model", "gdn-tiny", "--steps", "3", "--lr", "1e-2", "--out", a.toString()));
        assertEquals(0, r.code(), r.err());
        // b: a's weights, continued at a longer length with a negligible learning rate
        Path b = tmp.resolve("b");
        r = run("train", "--init", a.toString(), "--task", "passkey", "-o", "seqLen=240", "--batch", "2", "--steps", "1",
                "--lr", "1e-12", "--out", b.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("the model of " + a), r.out());
        // c: the same from scratch
        Path c = tmp.resolve("c");
        r = run("train", "--model", "gdn-tiny", "--task", "passkey", "-o", "seqLen=240", "--batch", "2", "--steps", "1",
                "--lr", "1e-12", "--out", c.toString());
        assertEquals(0, r.code(), r.err());
        ObjectMapper json = new ObjectMapper();
        double[] loss = new double[3];
        Path[] runs = {a, b, c};
        for (int i = 0; i < 3; i++) {
            r = run("eval", "--run", runs[i].toString(), "-o", "seqLen=240", "--batches", "1", "--batch", "2", "--json");
            assertEquals(0, r.code(), r.err());
            loss[i] = json.readTree(r.out()).get("results").get(0).get("loss").asDouble();
        }
        assertEquals(loss[0], loss[1], 1e-5, "b must start from a's weights");
        assertTrue(Math.abs(loss[0] - loss[2]) > 1e-3, "a's training must have changed the weights: " + loss[0]
                + " vs " + loss[2]);
        r = run("train", "--init", a.toString(), "--model", "gdn-tiny", "--task", "passkey", "--out",
                tmp.resolve("d").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("drop --model and --seed"), r.err());
    }

    @Test
    void generateContinuesAPrompt(@TempDir Path tmp) {
        Path out = tmp.resolve("bytes");
        Run r = run("train", "--model", "gdn-tiny", "--task", "passkey", "-o", "seqLen=200", "--steps", "1", "--batch",
                "2", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        r = run("generate", "--run", out.toString(), "--prompt", "The pass key is", "--max-tokens", "5");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("The pass key is"), r.out());
    }
}
