package io.mnemo.train.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.mnemo.modules.miras.AttentionalBias;
import io.mnemo.modules.miras.MirasBlock;
import io.mnemo.modules.miras.MirasPresets;
import io.mnemo.modules.miras.RetentionGate;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The Miras mixer types: the presets {@code moneta}, {@code yaad}, {@code memora} and the composable
 * {@code miras} whose components are named in the JSON options (round trip through Jackson).
 */
class MirasMixersTest {
    @Test
    void presetsAndNamedComponentsBuildTheirBlocks() throws Exception {
        assertTrue(Mixers.names().containsAll(List.of("miras", "moneta", "yaad", "memora")), Mixers.names().toString());
        assertTrue(Presets.names().containsAll(List.of("moneta-tiny", "yaad-tiny", "memora-tiny")));
        MirasBlock moneta = (MirasBlock) BuiltInMixers.all().stream().filter(f -> f.types().contains("moneta"))
                .findFirst().orElseThrow().create(MixerSpec.of("moneta", 2), 16, 1, DataType.FLOAT);
        assertEquals(MirasPresets.moneta(16), moneta.config().memory());

        MixerSpec spec = MixerSpec.of("miras", 2).with("architecture", "linear").with("bias", "huber")
                .with("biasOptions", Map.of("mode", "norm", "delta", 0.5)).with("retention", "kl");
        ModelConfig c = new ModelConfig(20, 16, List.of(spec), 2.0, false, 3);
        ObjectMapper om = new ObjectMapper();
        ModelConfig back = om.readValue(om.writeValueAsString(c), ModelConfig.class);
        MixerSpec s2 = back.layers().get(0);
        MirasBlock blk = (MirasBlock) new BuiltInMixers.Miras().create(s2, 16, 1, DataType.FLOAT);
        assertEquals(AttentionalBias.Huber.fixed(AttentionalBias.Huber.Mode.NORM, 0.5), blk.config().memory().bias());
        assertEquals(new RetentionGate.Kl(1), blk.config().memory().retention());
        LanguageModel m = new LanguageModel(back);
        assertTrue(m.parameters().size() > 0);
    }

    @Test
    void badComponentNamesAndOptionsAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new LanguageModel(
                new ModelConfig(20, 16, List.of(MixerSpec.of("miras", 2).with("bias", "l3")), 2.0, false, 3)));
        assertTrue(e.getMessage().contains("unknown Miras bias 'l3'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new LanguageModel(new ModelConfig(20, 16,
                List.of(MixerSpec.of("miras", 2).with("retention", "lq").with("retentionOptions", Map.of("q", 0.5))),
                2.0, false, 3)));
        assertTrue(e.getMessage().contains("q must"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new ModelConfig(20, 16,
                List.of(MixerSpec.of("yaad", 2).with("bias", "l2")), 2.0, false, 3));
        assertTrue(e.getMessage().contains("unknown option 'bias'"), e.getMessage());
    }
}
