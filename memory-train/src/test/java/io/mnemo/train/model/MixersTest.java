package io.mnemo.train.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

class MixersTest {
    @Test
    void optionsRoundTripThroughJson() throws Exception {
        ModelConfig c = new ModelConfig(32, 16, List.of(MixerSpec.of("user_simple_gla", 2).with("convKernelOverride", 3),
                MixerSpec.of("gla", 2)), 2.0, false, 5);
        ObjectMapper om = new ObjectMapper();
        String json = om.writeValueAsString(c);
        assertTrue(json.contains("\"options\":{\"convKernelOverride\":3}"), json);
        assertTrue(!json.contains("\"options\":{}"), "empty options are omitted: " + json);
        ModelConfig back = om.readValue(json, ModelConfig.class);
        assertEquals(c, back);
        assertEquals(3, back.layers().get(0).intOption("convKernelOverride", 0));
    }

    @Test
    void userFactoryFoundByServiceLoaderBuildsAModel() {
        assertTrue(Mixers.names().contains("user_simple_gla"), Mixers.names().toString());
        assertTrue(Mixers.names().indexOf("gated_delta_rule") < Mixers.names().indexOf("user_simple_gla"),
                "built-in names first: " + Mixers.names());
        ModelConfig c = new ModelConfig(32, 16, List.of(MixerSpec.of("user_simple_gla", 2)), 2.0, false, 5);
        LanguageModel m = new LanguageModel(c);
        assertTrue(m.parameters().size() > 0);
    }

    @Test
    void badSpecsAreRejectedWithTheirNames() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ModelConfig(32, 16,
                List.of(MixerSpec.of("gla", 2).with("window", 4)), 2.0, false, 5));
        assertTrue(e.getMessage().contains("unknown option 'window'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new ModelConfig(32, 16,
                List.of(MixerSpec.of("no_such_mixer", 2)), 2.0, false, 5));
        assertTrue(e.getMessage().contains("unknown mixer 'no_such_mixer'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> MixerSpec.of("user_simple_gla", 2).with("convKernelOverride", 2.5).intOption("convKernelOverride", 0));
        assertTrue(e.getMessage().contains("convKernelOverride must be an integer"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new MixerSpec("gla", 2, null, 0, null));
        assertTrue(e.getMessage().contains("chunkSize must be > 0"), e.getMessage());
    }
}
