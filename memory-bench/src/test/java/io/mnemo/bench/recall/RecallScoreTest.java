package io.mnemo.bench.recall;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mnemo.train.model.LanguageModel;
import io.mnemo.train.model.Presets;
import io.mnemo.train.tasks.Task;
import io.mnemo.train.tasks.Tasks;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RecallScoreTest {
    @Test
    void scoringInPiecesEqualsOnePass() {
        Task task = Tasks.create("passkey", Map.of("seqLen", "300"));
        LanguageModel m = new LanguageModel(Presets.withSeed(Presets.create("hybrid-tiny", task.vocabSize()), 3));
        double[] whole = RecallSweep.score(m, task, 2, 3, 1000);
        double[] pieces = RecallSweep.score(m, task, 2, 3, 77);
        assertEquals(whole[0], pieces[0], 0.02, "token accuracy (a near-tie may flip one argmax)");
        assertEquals(whole[1], pieces[1], 0.2, "example accuracy");
        assertEquals(whole[2], pieces[2], 1e-5 * Math.abs(whole[2]), "loss");
    }
}
