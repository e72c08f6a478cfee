package io.mnemo.bench.peers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.train.model.LanguageModel;
import io.mnemo.train.model.Presets;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** The model-level comparison's models: equal size, and each trains and infers on a short sequence. */
class PeerModelsTest {

    @Test
    void dl4jModelsMatchMnemosSizeAndTheirFormulas() {
        long target = new LanguageModel(Presets.create(PeerModels.SIZE_REFERENCE, 256)).parameterCount();
        PeerModels.Lm lstm = PeerModels.create("dl4j:lstm");
        PeerModels.Lm attn = PeerModels.create("dl4j:attention");
        // the formulas used to size them agree with DL4J's own count
        assertEquals(PeerModels.lstmParams(PeerModels.lstmWidth(target)), lstm.parameters(), lstm.description());
        assertEquals(PeerModels.attentionParams(PeerModels.attentionFf(target)), attn.parameters(), attn.description());
        for (PeerModels.Lm m : new PeerModels.Lm[] {lstm, attn}) {
            double rel = Math.abs(m.parameters() - target) / (double) target;
            assertTrue(rel < 0.01, m.description() + " has " + m.parameters() + " parameters, Mnemo " + target);
        }
        System.out.println("target " + target + "; " + lstm.description() + " " + lstm.parameters() + "; "
                + attn.description() + " " + attn.parameters());
    }

    @Test
    void everyModelTrainsAndInfers() {
        INDArray x = Nd4j.createFromArray(new int[][] {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}});
        INDArray y = Nd4j.createFromArray(new int[][] {{2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}});
        for (String name : PeerModels.DEFAULT) {
            PeerModels.Lm m = PeerModels.create(name);
            m.train(x, y);
            INDArray out = m.infer(x);
            assertEquals(16 * 256, out.length(), name + " " + java.util.Arrays.toString(out.shape()));
            assertTrue(Double.isFinite(out.castTo(DataType.DOUBLE).sumNumber().doubleValue()), name);
        }
        assertThrows(IllegalArgumentException.class, () -> PeerModels.create("dl4j:gru"));
    }
}
