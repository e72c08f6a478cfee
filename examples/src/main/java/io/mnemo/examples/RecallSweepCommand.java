package io.mnemo.examples;

import io.mnemo.bench.recall.RecallSweep;
import io.mnemo.train.TrainConfig;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code mnemo recall-sweep}: trains each model at each length, scores recall, draws accuracy vs length. */
@Command(name = "recall-sweep", mixinStandardHelpOptions = true,
        description = {"Train and score each model at each sequence length; writes OUT/recall.csv and "
            + "OUT/recall.png. For mqar the number of pairs follows Zoology's grid (4, 8, 16, 64 at T = 64..512) "
            + "unless -o pairs=K fixes it.",
            "Example: mnemo recall-sweep --models gdn-tiny,linear-attn-tiny --task mqar -o vocab=128 "
                + "--lengths 64,128 --steps 300 --out runs/sweep"})
final class RecallSweepCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--models", required = true, split = ",", description = "presets or config .json files")
    List<String> models;

    @Option(names = "--task", defaultValue = "mqar", description = "task (default ${DEFAULT-VALUE})")
    String task;

    @Option(names = {"-o", "--option"}, description = "task option KEY=VALUE (repeatable)")
    Map<String, String> options = new LinkedHashMap<>();

    @Option(names = "--lengths", required = true, description = "training lengths, comma-separated")
    String lengths;

    @Option(names = "--eval-lengths", description = "also score each trained model at these lengths")
    String evalLengths;

    @Option(names = "--steps", defaultValue = "400", description = "steps per training run (default ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--batch", defaultValue = "32", description = "batch size (default ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--lr", defaultValue = "3e-3", description = "peak learning rate (default ${DEFAULT-VALUE})")
    double lr;

    @Option(names = "--eval-batches", defaultValue = "8", description = "held-out batches per point (default "
            + "${DEFAULT-VALUE})")
    int evalBatches;

    @Option(names = "--out", required = true, description = "output directory")
    Path out;

    @Option(names = "--json", description = "print the results as JSON")
    boolean json;

    @Override
    public Integer call() throws Exception {
        PrintWriter o = spec.commandLine().getOut();
        List<Integer> ls = Runs.ints(lengths, "--lengths");
        List<Integer> els = evalLengths == null ? List.of() : Runs.ints(evalLengths, "--eval-lengths");
        // validate every model before hours of training (RecallSweep.run checks every task setting)
        for (String m : models) {
            for (int l : ls) {
                var t = Runs.task(Runs.taskRecord(task, RecallSweep.optionsAt(task, options, l)));
                Runs.model(m, t.vocabSize(), null);
            }
        }
        TrainConfig cfg = new TrainConfig(steps, batch, 1, lr, Math.max(1, steps / 10), 0.1, 0.1, 0.9, 0.95, 1e-8, 1.0,
                0, Math.max(1, Math.min(50, steps / 10)), 0, 4, 0, 1);
        List<RecallSweep.Point> pts = RecallSweep.run(models, task, options, ls, els, cfg, evalBatches,
                json ? null : label -> Runs.progress(o, label), out.resolve("recall.csv"));
        RecallSweep.writeChart(out.resolve("recall.png"), task + " recall vs sequence length", pts);
        if (json) {
            Map<String, Object> res = new LinkedHashMap<>();
            res.put("csv", out.resolve("recall.csv").toString());
            res.put("png", out.resolve("recall.png").toString());
            res.put("points", pts);
            o.println(Runs.JSON.writeValueAsString(res));
        } else {
            printTable(o, pts);
            o.println("wrote " + out.resolve("recall.csv") + " and " + out.resolve("recall.png"));
        }
        return 0;
    }

    static void printTable(PrintWriter o, List<RecallSweep.Point> pts) {
        o.printf("%-18s %7s %7s %9s %9s %8s %10s%n", "model", "train_T", "eval_T", "token_acc", "exact", "loss", "train_s");
        for (RecallSweep.Point p : pts) {
            o.printf(Locale.ROOT, "%-18s %7d %7d %9.3f %9.3f %8.4f %10.1f%n", p.model(), p.trainLength(), p.evalLength(),
                    p.accuracy(), p.exampleAccuracy(), p.loss(), p.trainSeconds());
        }
        o.flush();
    }
}
