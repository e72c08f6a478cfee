package io.mnemo.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.mnemo.train.Evaluator;
import io.mnemo.train.TrainingListener;
import io.mnemo.train.checkpoint.Checkpoints;
import io.mnemo.train.model.LanguageModel;
import io.mnemo.train.model.ModelConfig;
import io.mnemo.train.model.Presets;
import io.mnemo.train.tasks.Task;
import io.mnemo.train.tasks.Tasks;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Shared pieces of the training commands: model and task resolution, run directories, output. */
final class Runs {
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Runs() {}

    /** A preset name or a path to a config.json, for a task's vocabulary, optionally re-seeded. */
    static ModelConfig model(String spec, int vocab, Long seed) {
        ModelConfig c = Presets.resolve(spec, vocab);
        return seed == null ? c : Presets.withSeed(c, seed);
    }

    /** Task options with the task name under key "task" (as stored in checkpoints). */
    static Map<String, String> taskRecord(String name, Map<String, String> options) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("task", name);
        if (options != null) {
            m.putAll(options);
        }
        return m;
    }

    static Task task(Map<String, String> record) {
        Map<String, String> o = new LinkedHashMap<>(record);
        String name = o.remove("task");
        if (name == null) {
            throw new IllegalArgumentException("no task recorded; pass --task");
        }
        return Tasks.create(name, o);
    }

    /** The model of the newest checkpoint of a run directory. */
    static Checkpoints.Loaded latest(Path run) throws IOException {
        if (!Files.isDirectory(run)) {
            throw new IllegalArgumentException("run directory " + run + " does not exist");
        }
        Path dir = Checkpoints.latest(run).orElseThrow(() -> new IllegalArgumentException("no checkpoint in " + run
                + "/checkpoints (train first: mnemo train ... --out " + run + ")"));
        return Checkpoints.load(dir);
    }

    static LanguageModel restore(Checkpoints.Loaded l) {
        LanguageModel m = new LanguageModel(l.config());
        Checkpoints.restore(m, l.params());
        return m;
    }

    /** A listener printing one progress line per report, and eval lines. */
    static TrainingListener progress(PrintWriter out, String prefix) {
        return new TrainingListener() {
            @Override
            public void onStep(StepReport r) {
                out.printf(Locale.ROOT, "%sstep %d/%d  loss %.4f  acc %.3f  lr %.2e  |g| %.2f  %,.0f tok/s  ETA %s%n",
                        prefix, r.step(), r.totalSteps(), r.loss(), r.accuracy(), r.lr(), r.gradNorm(),
                        r.tokensPerSecond(), duration(r.etaSeconds()));
                out.flush();
            }

            @Override
            public void onEval(int step, Evaluator.Result r) {
                out.printf(Locale.ROOT, "%seval at step %d: loss %.4f  accuracy %.3f  (%d tokens)%n", prefix, step,
                        r.loss(), r.accuracy(), r.tokens());
                out.flush();
            }

            @Override
            public void onDivergence(int step, String what) {
                out.println(prefix + "diverged: " + what);
                out.flush();
            }
        };
    }

    static String duration(double s) {
        if (!Double.isFinite(s)) {
            return "?";
        }
        long t = Math.round(s);
        return t >= 3600 ? String.format("%dh%02dm", t / 3600, t / 60 % 60)
                : t >= 60 ? String.format("%dm%02ds", t / 60, t % 60) : t + "s";
    }

    static List<Integer> ints(String csv, String what) {
        List<Integer> out = new ArrayList<>();
        for (String s : csv.split(",")) {
            try {
                int v = Integer.parseInt(s.trim());
                if (v <= 0) {
                    throw new NumberFormatException();
                }
                out.add(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(what + " must be positive integers separated by commas, got '" + csv
                        + "'");
            }
        }
        return out;
    }
}
