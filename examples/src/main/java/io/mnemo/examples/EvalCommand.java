package io.mnemo.examples;

import io.mnemo.bench.recall.RecallSweep;
import io.mnemo.train.checkpoint.Checkpoints;
import io.mnemo.train.model.LanguageModel;
import io.mnemo.train.tasks.Task;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code mnemo eval}: accuracy of a trained run per sequence length (and per depth for needle tasks). */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Evaluate the newest checkpoint of a run at several lengths (and depths for passkey/niah).",
            "Example: mnemo eval --run runs/mqar --lengths 64,128,256"})
final class EvalCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--run", required = true, description = "run directory written by 'mnemo train'")
    Path run;

    @Option(names = "--task", description = "task (default: the one the run was trained on)")
    String task;

    @Option(names = {"-o", "--option"}, description = "task option KEY=VALUE overriding the run's (repeatable)")
    Map<String, String> options = new LinkedHashMap<>();

    @Option(names = "--lengths", description = "sequence lengths, comma-separated (default: the run's)")
    String lengths;

    @Option(names = "--depths", description = "needle depths in [0,1] for passkey/niah, comma-separated")
    String depths;

    @Option(names = "--batches", description = "batches per point (default ${DEFAULT-VALUE})", defaultValue = "8")
    int batches;

    @Option(names = "--batch", description = "sequences per batch (default ${DEFAULT-VALUE})", defaultValue = "16")
    int batch;

    @Option(names = "--csv", description = "also append the points (one per length, without --depths) to this recall "
            + "CSV, creating it if needed; 'mnemo recall-chart' draws several runs' CSVs in one chart")
    Path csv;

    @Option(names = "--label", description = "model name in the CSV (default: the run directory's name)")
    String label;

    @Option(names = "--json", description = "print the results as JSON")
    boolean json;

    /**
     * One row of the result: mean loss in nats per scored token and the same in bits (bits per byte for the
     * byte-level tasks, e.g. text).
     */
    record Row(int length, String depth, double accuracy, double exampleAccuracy, double loss, double bits) {
        Row(int length, String depth, double accuracy, double exampleAccuracy, double loss) {
            this(length, depth, accuracy, exampleAccuracy, loss, loss / Math.log(2));
        }
    }

    @Override
    public Integer call() throws IOException {
        Checkpoints.Loaded l = Runs.latest(run);
        LanguageModel m = Runs.restore(l);
        Map<String, String> rec = new LinkedHashMap<>(l.state().task());
        if (task != null && !task.equals(rec.get("task"))) {
            rec.clear();
            rec.put("task", task);
        }
        rec.putAll(options);
        List<Integer> ls = lengths == null ? List.of(Runs.task(rec).seqLen()) : Runs.ints(lengths, "--lengths");
        List<String> ds = new ArrayList<>();
        if (depths != null) {
            for (String d : depths.split(",")) {
                ds.add(d.trim());
            }
        } else {
            ds.add(null);
        }
        List<Row> rows = new ArrayList<>();
        PrintWriter o = spec.commandLine().getOut();
        if (!json) {
            o.printf("%-8s %-6s %9s %9s %8s %8s%n", "length", "depth", "token_acc", "exact", "loss", "bits");
        }
        for (int len : ls) {
            for (String d : ds) {
                Map<String, String> r = new LinkedHashMap<>(rec);
                r.put("seqLen", Integer.toString(len));
                if (d != null) {
                    r.put("depth", d);
                }
                Task t = Runs.task(r);
                if (t.vocabSize() > m.config().vocabSize()) {
                    throw new IllegalArgumentException("task " + t.name() + " needs vocabulary " + t.vocabSize()
                            + ", the model has " + m.config().vocabSize());
                }
                double[] s = RecallSweep.score(m, t, batches, batch);
                Row row = new Row(len, d == null ? "-" : d, s[0], s[1], s[2]);
                rows.add(row);
                if (!json) {
                    o.printf(Locale.ROOT, "%-8d %-6s %9.3f %9.3f %8.4f %8.4f%n", len, row.depth(), row.accuracy(),
                            row.exampleAccuracy(), row.loss(), row.bits());
                    o.flush();
                }
            }
        }
        if (csv != null) {
            appendCsv(l, rec, rows);
        }
        if (json) {
            Map<String, Object> res = new LinkedHashMap<>();
            res.put("run", run.toString());
            res.put("checkpoint", l.dir().getFileName().toString());
            res.put("task", rec);
            res.put("results", rows);
            o.println(Runs.JSON.writeValueAsString(res));
        }
        return 0;
    }

    private void appendCsv(Checkpoints.Loaded l, Map<String, String> rec, List<Row> rows) throws IOException {
        if (depths != null) {
            throw new IllegalArgumentException("--csv holds one point per length; run it without --depths");
        }
        List<RecallSweep.Point> pts = new ArrayList<>();
        if (Files.exists(csv)) {
            pts.addAll(RecallSweep.readCsv(csv));
        }
        String name = label != null ? label : run.toAbsolutePath().normalize().getFileName().toString();
        int trained = Integer.parseInt(l.state().task().getOrDefault("seqLen", "0"));
        for (Row r : rows) {
            Map<String, String> t = new LinkedHashMap<>(rec);
            t.put("seqLen", Integer.toString(r.length()));
            pts.add(new RecallSweep.Point(name, trained, r.length(), t, r.accuracy(), r.exampleAccuracy(), r.loss(),
                    Double.NaN, Double.NaN));
        }
        RecallSweep.writeCsv(csv, pts);
    }
}
