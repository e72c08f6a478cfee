package io.mnemo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.Parameter;
import io.mnemo.train.checkpoint.Checkpoints;
import io.mnemo.train.model.LanguageModel;
import io.mnemo.train.model.MixerSpec;
import io.mnemo.train.model.ModelConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerTest {
    static ModelConfig small() {
        return new ModelConfig(16, 32, List.of(MixerSpec.of("gated_delta_rule", 2), MixerSpec.of("gla", 2)), 2.0,
                false, 11);
    }

    static TrainConfig cfg(int steps) {
        return TrainConfig.defaults(steps, 8).withLr(1e-2);
    }

    @Test
    void resumeContinuesExactlyLikeAnUninterruptedRun(@TempDir Path tmp) throws Exception {
        PreviousTokenTask task = new PreviousTokenTask(16, 24, 2);
        TrainConfig c = cfg(6).withAccumSteps(2).withSegmentLen(10).withCheckpointEvery(3);
        Trainer full = new Trainer(new LanguageModel(small()), task, Map.of("task", "previous-token"), c,
                tmp.resolve("full"));
        full.run();

        Trainer first = new Trainer(new LanguageModel(small()), task, Map.of("task", "previous-token"), c,
                tmp.resolve("split"));
        first.runUntil(3);
        Trainer second = Trainer.resume(tmp.resolve("split"), task, 0);
        assertEquals(3, second.step());
        second.run();

        List<Double> joined = new ArrayList<>(first.losses());
        joined.addAll(second.losses());
        assertEquals(full.losses(), joined, "loss curve of the resumed run");
        List<Parameter> a = full.model().parameters();
        List<Parameter> b = second.model().parameters();
        for (int i = 0; i < a.size(); i++) {
            // bit for bit, not INDArray.equals (which allows 1e-5)
            org.junit.jupiter.api.Assertions.assertArrayEquals(io.mnemo.core.NdBuffers.toFloats(a.get(i).value()),
                    io.mnemo.core.NdBuffers.toFloats(b.get(i).value()), "parameter " + a.get(i).name());
        }
    }

    @Test
    void keepsOnlyTheLastCheckpoints(@TempDir Path tmp) throws Exception {
        PreviousTokenTask task = new PreviousTokenTask(16, 8, 1);
        Trainer t = new Trainer(new LanguageModel(small()), task, Map.of(), cfg(6).withCheckpointEvery(1), tmp);
        t.run();
        assertEquals(List.of("step-00000005", "step-00000006"), Checkpoints.list(tmp).stream()
                .map(p -> p.getFileName().toString()).toList());
    }

    @Test
    void learnsASimpleTask() {
        PreviousTokenTask task = new PreviousTokenTask(16, 32, 2);
        Trainer t = new Trainer(new LanguageModel(small()), task, Map.of(), cfg(60), null);
        List<Evaluator.Result> evals = new ArrayList<>();
        t.addListener(new TrainingListener() {
            @Override
            public void onEval(int step, Evaluator.Result r) {
                evals.add(r);
            }
        });
        Evaluator.Result before = Evaluator.evaluate(t.model(), task, 2, 8, 0);
        t.run();
        Evaluator.Result after = evals.get(evals.size() - 1);
        // held-out batches; chance accuracy is 1/16
        assertTrue(after.loss() < 0.6 * before.loss(), "loss " + before.loss() + " -> " + after.loss());
        assertTrue(after.accuracy() > 0.5, "accuracy " + after.accuracy());
    }

    @Test
    void divergenceStopsAndKeepsTheLastCheckpoint(@TempDir Path tmp) throws Exception {
        PreviousTokenTask task = new PreviousTokenTask(16, 16, 1);
        Trainer t = new Trainer(new LanguageModel(small()), task, Map.of(), cfg(10).withCheckpointEvery(2), tmp);
        t.runUntil(2);
        t.model().parameters().get(0).value().putScalar(0, 0, Float.NaN);
        List<String> seen = new ArrayList<>();
        t.addListener(new TrainingListener() {
            @Override
            public void onDivergence(int step, String what) {
                seen.add(what);
            }
        });
        var e = assertThrows(Trainer.DivergedException.class, t::run);
        assertTrue(e.getMessage().contains("step 3"), e.getMessage());
        assertEquals(1, seen.size());
        assertTrue(Files.isDirectory(tmp.resolve("checkpoints/step-00000002")));
    }

    @Test
    void checkpointOfAnotherVersionIsRefused(@TempDir Path tmp) throws Exception {
        PreviousTokenTask task = new PreviousTokenTask(16, 8, 1);
        Trainer t = new Trainer(new LanguageModel(small()), task, Map.of(), cfg(1), tmp);
        t.run();
        Path dir = Checkpoints.latest(tmp).orElseThrow();
        Path tj = dir.resolve("trainer.json");
        Files.writeString(tj, Files.readString(tj).replace("\"version\" : 1", "\"version\" : 99"));
        var e = assertThrows(java.io.IOException.class, () -> Checkpoints.load(dir));
        assertTrue(e.getMessage().contains("version 99; this Mnemo reads mnemo-checkpoint version 1"), e.getMessage());
        Files.writeString(tj, "{not json");
        e = assertThrows(java.io.IOException.class, () -> Checkpoints.load(dir));
        assertTrue(e.getMessage().contains("is corrupt"), e.getMessage());
    }
}
