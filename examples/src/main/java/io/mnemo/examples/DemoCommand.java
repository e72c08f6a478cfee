package io.mnemo.examples;

import io.mnemo.bench.recall.RecallSweep;
import io.mnemo.train.TrainConfig;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code mnemo demo}: the main job. Trains a 2-layer Gated DeltaNet on multi-query associative recall
 * and shows how well it recalls as the sequence grows.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Train a small Gated DeltaNet (gdn-tiny) on MQAR (vocabulary 64, T=64, 4 key-value pairs), "
            + "then score recall of 4 pairs at T = 64, 128, 256, 512. Prints a table and writes OUT/recall.csv "
            + "and OUT/recall.png. A few minutes on 2 cores."})
final class DemoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--out", defaultValue = "runs/demo", description = "output directory (default ${DEFAULT-VALUE})")
    Path out;

    @Option(names = "--steps", defaultValue = "800", description = "training steps (default ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--model", defaultValue = "gdn-tiny", description = "preset (default ${DEFAULT-VALUE})")
    String model;

    @Option(names = "--json", description = "print the results as JSON")
    boolean json;

    @Override
    public Integer call() throws Exception {
        PrintWriter o = spec.commandLine().getOut();
        Map<String, String> opts = new LinkedHashMap<>();
        opts.put("vocab", "64");
        opts.put("pairs", "4");
        TrainConfig cfg = new TrainConfig(steps, 32, 1, 3e-3, Math.max(1, steps / 20), 0.1, 0.1, 0.9, 0.95, 1e-8, 1.0,
                0, Math.max(1, steps / 20), 0, 4, 0, 1);
        if (!json) {
            o.println("mnemo demo: training " + model + " on MQAR (vocab 64, T=64, 4 pairs) for " + steps
                    + " steps, then scoring recall at T = 64, 128, 256, 512");
        }
        long t0 = System.nanoTime();
        List<RecallSweep.Point> pts = RecallSweep.run(List.of(model), "mqar", opts, List.of(64),
                List.of(128, 256, 512), cfg, 8, json ? null : label -> Runs.progress(o, label), out.resolve("recall.csv"));
        double secs = (System.nanoTime() - t0) / 1e9;
        RecallSweep.writeChart(out.resolve("recall.png"), "MQAR recall of 4 pairs vs length (" + model
                + ", trained at T=64)", pts);
        if (json) {
            Map<String, Object> res = new LinkedHashMap<>();
            res.put("seconds", secs);
            res.put("points", pts);
            o.println(Runs.JSON.writeValueAsString(res));
        } else {
            RecallSweepCommand.printTable(o, pts);
            o.printf("done in %s; wrote %s and %s%n", Runs.duration(secs), out.resolve("recall.csv"),
                    out.resolve("recall.png"));
        }
        return 0;
    }
}
