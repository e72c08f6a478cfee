package io.mnemo.train;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.train.model.LanguageModel;
import io.mnemo.train.model.Presets;
import io.mnemo.train.tasks.MqarTask;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The acceptance check: a 2-layer Gated DeltaNet learns multi-query associative recall
 * (Zoology's MQAR, T=64, K=4 pairs, vocabulary 64) to at least 0.9 held-out accuracy in a CI-sized run
 * (600 steps of 32 sequences; about 3 minutes on 2 cores).
 */
class MqarLearningTest {
    @Test
    void gatedDeltaNetLearnsMqar() {
        MqarTask task = new MqarTask(64, 64, 4, 0.01, 1);
        LanguageModel m = new LanguageModel(Presets.create("gdn-tiny", 64));
        TrainConfig cfg = new TrainConfig(600, 32, 1, 3e-3, 30, 0.1, 0.1, 0.9, 0.95, 1e-8, 1.0, 0, 100, 0, 4, 0, 1);
        Trainer t = new Trainer(m, task, Map.of(), cfg, null);
        t.run();
        Evaluator.Result r = Evaluator.evaluate(m, task, 16, 32, 0);
        assertTrue(r.accuracy() >= 0.9, "MQAR accuracy " + r.accuracy() + " (loss " + r.loss() + ")");
    }
}
