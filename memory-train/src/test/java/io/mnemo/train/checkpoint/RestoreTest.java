package io.mnemo.train.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.Parameter;
import io.mnemo.train.model.LanguageModel;
import io.mnemo.train.model.Presets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class RestoreTest {
    private static Map<String, INDArray> valuesOf(LanguageModel m) {
        Map<String, INDArray> t = new LinkedHashMap<>();
        for (Parameter p : m.parameters()) {
            t.put(p.name(), p.value().dup());
        }
        return t;
    }

    @Test
    void restoreCopiesEveryParameterAndRejectsMissingExtraAndMisshapenTensors() {
        LanguageModel a = new LanguageModel(Presets.withSeed(Presets.create("gdn-tiny", 32), 1));
        LanguageModel b = new LanguageModel(Presets.withSeed(Presets.create("gdn-tiny", 32), 2));
        Map<String, INDArray> saved = valuesOf(a);
        Checkpoints.restore(b, saved);
        for (Parameter p : b.parameters()) {
            assertEquals(saved.get(p.name()), p.value(), p.name());
        }

        Map<String, INDArray> extra = new LinkedHashMap<>(saved);
        extra.put("layers.9.mixer.surplus", Nd4j.zeros(2));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Checkpoints.restore(b, extra));
        assertTrue(e.getMessage().contains("layers.9.mixer.surplus"), e.getMessage());

        Map<String, INDArray> missing = new LinkedHashMap<>(saved);
        String first = missing.keySet().iterator().next();
        missing.remove(first);
        e = assertThrows(IllegalArgumentException.class, () -> Checkpoints.restore(b, missing));
        assertTrue(e.getMessage().contains("no parameter " + first), e.getMessage());

        Map<String, INDArray> misshapen = new LinkedHashMap<>(saved);
        misshapen.put(first, Nd4j.zeros(3, 3));
        e = assertThrows(IllegalArgumentException.class, () -> Checkpoints.restore(b, misshapen));
        assertTrue(e.getMessage().contains("has shape [3, 3]"), e.getMessage());
    }
}
