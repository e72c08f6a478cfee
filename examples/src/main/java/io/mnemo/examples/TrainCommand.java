package io.mnemo.examples;

import io.mnemo.train.Evaluator;
import io.mnemo.train.TrainConfig;
import io.mnemo.train.Trainer;
import io.mnemo.train.TrainingListener;
import io.mnemo.train.checkpoint.Checkpoints;
import io.mnemo.train.model.LanguageModel;
import io.mnemo.train.model.ModelConfig;
import io.mnemo.train.tasks.Task;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code mnemo train}: trains a model on a task, with checkpoints and exact resume. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Train a model on a task; checkpoints go to OUT/checkpoints, the loss log to OUT/train.csv.",
            "Example: mnemo train --model gdn-tiny --task mqar -o vocab=64 -o seqLen=64 -o pairs=4 --steps 400 "
                + "--out runs/mqar"})
final class TrainCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", description = "preset (see 'mnemo list') or a config .json file")
    String model;

    @Option(names = "--task", description = "task name (see 'mnemo list')")
    String task;

    @Option(names = {"-o", "--option"}, description = "task option KEY=VALUE (repeatable), e.g. -o seqLen=128")
    Map<String, String> options = new LinkedHashMap<>();

    @Option(names = "--steps", description = "optimizer steps (default ${DEFAULT-VALUE})", defaultValue = "500")
    int steps;

    @Option(names = "--batch", description = "sequences per batch (default ${DEFAULT-VALUE})", defaultValue = "32")
    int batch;

    @Option(names = "--lr", description = "peak learning rate (default ${DEFAULT-VALUE})", defaultValue = "3e-3")
    double lr;

    @Option(names = "--warmup", description = "warm-up steps (default: 10%% of steps)")
    Integer warmup;

    @Option(names = "--accum", description = "gradient accumulation micro-batches (default ${DEFAULT-VALUE})",
            defaultValue = "1")
    int accum;

    @Option(names = "--segment", description = "truncated BPTT segment length, 0 = whole sequences (default "
            + "${DEFAULT-VALUE})", defaultValue = "0")
    int segment;

    @Option(names = "--clip", description = "global gradient-norm clip, 0 = off (default ${DEFAULT-VALUE})",
            defaultValue = "1.0")
    double clip;

    @Option(names = "--weight-decay", description = "AdamW weight decay (default ${DEFAULT-VALUE})",
            defaultValue = "0.1")
    double weightDecay;

    @Option(names = "--eval-every", description = "evaluate every N steps, 0 = at the end (default ${DEFAULT-VALUE})",
            defaultValue = "0")
    int evalEvery;

    @Option(names = "--checkpoint-every", description = "checkpoint every N steps, 0 = at the end (default "
            + "${DEFAULT-VALUE})", defaultValue = "0")
    int checkpointEvery;

    @Option(names = "--keep", description = "checkpoints to keep (default ${DEFAULT-VALUE})", defaultValue = "2")
    int keep;

    @Option(names = "--seed", description = "parameter initialisation seed (default: the preset's)")
    Long seed;

    @Option(names = "--init", description = "start from the weights of another run's newest checkpoint (its model; "
            + "a fresh optimizer, schedule and data stream), e.g. train at a short length, then continue at a long one")
    Path init;

    @Option(names = "--out", required = true, description = "run directory")
    Path out;

    @Option(names = "--resume", description = "continue the newest checkpoint in OUT (model, optimizer, data "
            + "position); --steps may raise the total")
    boolean resume;

    @Option(names = "--json", description = "print the result as JSON")
    boolean json;

    @Override
    public Integer call() throws IOException {
        PrintWriter o = spec.commandLine().getOut();
        Trainer trainer;
        Task t;
        TrainConfig cfg;
        if (resume) {
            for (var opt : spec.commandLine().getParseResult().matchedOptions()) {
                String n = opt.longestName();
                if (!n.equals("--resume") && !n.equals("--out") && !n.equals("--steps") && !n.equals("--json")) {
                    throw new IllegalArgumentException(n + " cannot be changed on --resume (the run continues with "
                            + "its recorded settings; only --steps may be raised)");
                }
            }
            Checkpoints.Loaded l = Runs.latest(out);
            t = Runs.task(l.state().task());
            boolean newSteps = spec.commandLine().getParseResult().hasMatchedOption("--steps");
            int total = newSteps ? steps : l.state().train().steps();
            if (l.state().step() >= total) {
                throw new IllegalArgumentException(out + " already ran " + l.state().step() + " of " + total
                        + " steps; pass a larger --steps to continue");
            }
            trainer = Trainer.resume(out, t, newSteps ? steps : 0);
            cfg = l.state().train().withSteps(total);
            dropLogAfter(out.resolve("train.csv"), l.state().step());
            if (!json) {
                o.printf("resuming %s at step %d of %d%n", out, trainer.step(), cfg.steps());
            }
        } else {
            if (init != null && (model != null || seed != null)) {
                throw new IllegalArgumentException("--init takes the model and its weights from " + init
                        + "; drop --model and --seed");
            }
            if ((model == null && init == null) || task == null) {
                throw new IllegalArgumentException("--model (or --init) and --task are required (or --resume with an "
                        + "existing --out)");
            }
            if (Checkpoints.latest(out).isPresent()) {
                throw new IllegalArgumentException(out + " already holds checkpoints; use --resume or another --out");
            }
            Map<String, String> rec = Runs.taskRecord(task, options);
            t = Runs.task(rec);
            Checkpoints.Loaded from = init == null ? null : Runs.latest(init);
            ModelConfig mc = from != null ? from.config() : Runs.model(model, t.vocabSize(), seed);
            if (from != null && t.vocabSize() > mc.vocabSize()) {
                throw new IllegalArgumentException("task " + t.name() + " needs vocabulary " + t.vocabSize()
                        + ", the model of " + init + " has " + mc.vocabSize());
            }
            int w = warmup != null ? warmup : Math.max(1, steps / 10);
            cfg = new TrainConfig(steps, batch, accum, lr, w, 0.1, weightDecay, 0.9, 0.95, 1e-8, clip, segment,
                    Math.max(1, Math.min(50, steps / 20)), evalEvery, 4, checkpointEvery, keep);
            LanguageModel m = new LanguageModel(mc);
            if (from != null) {
                Checkpoints.restore(m, from.params());
            }
            Files.createDirectories(out);
            Files.deleteIfExists(out.resolve("train.csv"));
            trainer = new Trainer(m, t, rec, cfg, out);
            if (!json) {
                o.printf(Locale.ROOT, "training %s (%,d parameters) on %s for %d steps, batch %d x %d tokens%n",
                        from != null ? "the model of " + init + " from " + from.dir().getFileName() : model,
                        m.parameterCount(), t.describe(), steps, batch, t.seqLen());
            }
        }
        Path csv = out.resolve("train.csv");
        BufferedWriter log = Files.newBufferedWriter(csv, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        if (Files.size(csv) == 0) {
            log.write("step,loss,accuracy,lr,grad_norm,tokens_per_second\n");
        }
        trainer.addListener(csvLog(log));
        if (!json) {
            trainer.addListener(Runs.progress(o, ""));
        }
        long t0 = System.nanoTime();
        try {
            trainer.run();
        } finally {
            log.close();
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        Evaluator.Result r = Evaluator.evaluate(trainer.model(), t, cfg.evalBatches(), cfg.batchSize(), 0);
        if (json) {
            Map<String, Object> res = new LinkedHashMap<>();
            res.put("run", out.toString());
            res.put("steps", trainer.step());
            res.put("seconds", secs);
            res.put("eval", r);
            o.println(Runs.JSON.writeValueAsString(res));
        } else {
            o.printf(Locale.ROOT, "done in %s: held-out loss %.4f, accuracy %.3f; checkpoints in %s%n",
                    Runs.duration(secs), r.loss(), r.accuracy(), out.resolve("checkpoints"));
        }
        return 0;
    }

    /** On resume, drop log rows of steps after the checkpoint (they will be run again). */
    private static void dropLogAfter(Path csv, int step) throws IOException {
        if (!Files.exists(csv)) {
            return;
        }
        java.util.List<String> keep = new java.util.ArrayList<>();
        for (String line : Files.readAllLines(csv)) {
            int comma = line.indexOf(',');
            String first = comma < 0 ? line : line.substring(0, comma);
            if (!first.matches("\\d+") || Integer.parseInt(first) <= step) {
                keep.add(line);
            }
        }
        Files.write(csv, keep);
    }

    private static TrainingListener csvLog(BufferedWriter w) {
        return new TrainingListener() {
            @Override
            public void onStep(StepReport r) {
                try {
                    w.write(String.format(Locale.ROOT, "%d,%.6f,%.4f,%.6g,%.4f,%.1f%n", r.step(), r.loss(), r.accuracy(),
                            r.lr(), r.gradNorm(), r.tokensPerSecond()));
                    w.flush();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        };
    }
}
