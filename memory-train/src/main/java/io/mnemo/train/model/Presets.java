package io.mnemo.train.model;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * Named model configurations, sized for CPU experiments. The vocabulary comes from the task.
 *
 * <table>
 *   <caption>presets</caption>
 *   <tr><th>name</th><th>layers</th><th>D</th><th>heads</th></tr>
 *   <tr><td>gdn-tiny, gla-tiny, simple-gla-tiny, deltanet-tiny, linear-attn-tiny</td><td>2 × the op</td><td>64</td><td>2</td></tr>
 *   <tr><td>gdn-small</td><td>2 × gated_delta_rule</td><td>128</td><td>4</td></tr>
 *   <tr><td>lmm-small</td><td>2 × titans (as lmm-tiny)</td><td>128</td><td>4</td></tr>
 *   <tr><td>mamba-small</td><td>2 × mamba (as mamba-tiny)</td><td>128</td><td>–</td></tr>
 *   <tr><td>attn-tiny</td><td>2 × attention (full causal, RoPE)</td><td>64</td><td>2</td></tr>
 *   <tr><td>swa-tiny</td><td>2 × attention (sliding window 64, RoPE)</td><td>64</td><td>2</td></tr>
 *   <tr><td>lmm-tiny</td><td>2 × titans (Titans LMM: depth-2 memory, momentum, chunk 16)</td><td>64</td><td>2</td></tr>
 *   <tr><td>mag-tiny</td><td>2 × titans_mag (window 64, 4 persistent tokens): Titans MAG</td><td>64</td><td>2</td></tr>
 *   <tr><td>mac-tiny</td><td>2 × titans_mac (segments of 32, 4 persistent tokens): Titans MAC</td><td>64</td><td>2</td></tr>
 *   <tr><td>mal-tiny</td><td>titans, then attention (window 64): Titans MAL</td><td>64</td><td>2</td></tr>
 *   <tr><td>mamba-tiny</td><td>2 × mamba (Mamba-1: expand 2, N = 16)</td><td>64</td><td>–</td></tr>
 *   <tr><td>mamba2-tiny</td><td>2 × mamba2 (expand 2, P = 32, N = 16)</td><td>64</td><td>4</td></tr>
 *   <tr><td>memmamba-tiny</td><td>1 × memmamba (a 2-layer MemMamba stack; SwiGLU 4·D)</td><td>64</td><td>2</td></tr>
 *   <tr><td>moneta-tiny, yaad-tiny, memora-tiny</td><td>2 × the Miras preset (MLP memory, chunk 16; generic kernel)</td><td>64</td><td>2</td></tr>
 *   <tr><td>hybrid-tiny</td><td>gated_delta_rule, gla</td><td>64</td><td>2</td></tr>
 * </table>
 * All use a SwiGLU MLP of width 2·D (rounded to 8) and untied embeddings.
 */
public final class Presets {
    private static final Map<String, IntFunction<ModelConfig>> PRESETS = new LinkedHashMap<>();

    static {
        tiny("gdn-tiny", "gated_delta_rule");
        tiny("gla-tiny", "gla");
        tiny("simple-gla-tiny", "simple_gla");
        tiny("deltanet-tiny", "delta_rule");
        tiny("linear-attn-tiny", "linear_attn");
        PRESETS.put("gdn-small", v -> new ModelConfig(v, 128, List.of(MixerSpec.of("gated_delta_rule", 4),
                MixerSpec.of("gated_delta_rule", 4)), 2.0, false, 1));
        // the width of gdn-small, for the model-level speed comparison (memory-bench peers)
        PRESETS.put("lmm-small", v -> new ModelConfig(v, 128, List.of(MixerSpec.of("titans", 4),
                MixerSpec.of("titans", 4)), 2.0, false, 1));
        PRESETS.put("mamba-small", v -> new ModelConfig(v, 128, List.of(MixerSpec.of("mamba", 1),
                MixerSpec.of("mamba", 1)), 2.0, false, 1));
        PRESETS.put("attn-tiny", v -> new ModelConfig(v, 64, List.of(MixerSpec.of("attention", 2),
                MixerSpec.of("attention", 2)), 2.0, false, 1));
        PRESETS.put("swa-tiny", v -> new ModelConfig(v, 64, List.of(MixerSpec.of("attention", 2).with("window", 64),
                MixerSpec.of("attention", 2).with("window", 64)), 2.0, false, 1));
        PRESETS.put("lmm-tiny", v -> new ModelConfig(v, 64, List.of(MixerSpec.of("titans", 2),
                MixerSpec.of("titans", 2)), 2.0, false, 1));
        PRESETS.put("mag-tiny", v -> new ModelConfig(v, 64, List.of(MixerSpec.of("titans_mag", 2),
                MixerSpec.of("titans_mag", 2)), 2.0, false, 1));
        PRESETS.put("mac-tiny", v -> new ModelConfig(v, 64, List.of(MixerSpec.of("titans_mac", 2),
                MixerSpec.of("titans_mac", 2)), 2.0, false, 1));
        PRESETS.put("mal-tiny", v -> new ModelConfig(v, 64, List.of(MixerSpec.of("titans", 2),
                MixerSpec.of("attention", 2).with("window", 64)), 2.0, false, 1));
        PRESETS.put("mamba-tiny", v -> new ModelConfig(v, 64, List.of(MixerSpec.of("mamba", 1),
                MixerSpec.of("mamba", 1)), 2.0, false, 1));
        PRESETS.put("mamba2-tiny", v -> new ModelConfig(v, 64, List.of(MixerSpec.of("mamba2", 4),
                MixerSpec.of("mamba2", 4)), 2.0, false, 1));
        // one LM layer holding a 2-layer MemMamba stack (cross-layer attention needs both inside one mixer);
        // its SwiGLU is twice as wide, so the MLP parameters equal mamba-tiny's two MLPs
        PRESETS.put("memmamba-tiny", v -> new ModelConfig(v, 64, List.of(MixerSpec.of("memmamba", 2)), 4.0, false,
                1));
        for (String m : new String[] {"moneta", "yaad", "memora"}) {
            PRESETS.put(m + "-tiny", v -> new ModelConfig(v, 64, List.of(MixerSpec.of(m, 2), MixerSpec.of(m, 2)), 2.0,
                    false, 1));
        }
        PRESETS.put("hybrid-tiny", v -> new ModelConfig(v, 64, List.of(MixerSpec.of("gated_delta_rule", 2),
                MixerSpec.of("gla", 2)), 2.0, false, 1));
    }

    private static void tiny(String name, String op) {
        PRESETS.put(name, v -> new ModelConfig(v, 64, List.of(MixerSpec.of(op, 2), MixerSpec.of(op, 2)), 2.0, false,
                1));
    }

    private Presets() {}

    /** Preset names in a stable order. */
    public static List<String> names() {
        return new ArrayList<>(PRESETS.keySet());
    }

    /** True when {@code name} is a preset. */
    public static boolean exists(String name) {
        return PRESETS.containsKey(name);
    }

    /** The preset {@code name} for a vocabulary of {@code vocabSize}; the message lists the presets. */
    public static ModelConfig create(String name, int vocabSize) {
        IntFunction<ModelConfig> f = PRESETS.get(name);
        if (f == null) {
            throw new IllegalArgumentException("unknown model preset '" + name + "', expected one of " + names()
                    + " or a config.json path");
        }
        return f.apply(vocabSize);
    }

    /**
     * A preset name or the path of a {@link ModelConfig} JSON file, for a task needing {@code vocabSize}
     * tokens (a file's vocabulary must be at least that).
     */
    public static ModelConfig resolve(String spec, int vocabSize) {
        if (exists(spec)) {
            return create(spec, vocabSize);
        }
        if (!spec.endsWith(".json")) {
            throw new IllegalArgumentException("unknown model '" + spec + "': expected a preset " + names()
                    + " or a config .json file");
        }
        java.nio.file.Path p = java.nio.file.Path.of(spec);
        if (!java.nio.file.Files.isRegularFile(p)) {
            throw new IllegalArgumentException("model config " + p + " does not exist");
        }
        ModelConfig c;
        try {
            c = new com.fasterxml.jackson.databind.ObjectMapper().readValue(p.toFile(), ModelConfig.class);
        } catch (java.io.IOException e) {
            Throwable root = e;
            while (root.getCause() != null) {
                root = root.getCause();
            }
            throw new IllegalArgumentException("model config " + p + " is not valid: "
                    + String.valueOf(root.getMessage()).lines().findFirst().orElse(""));
        }
        if (c.vocabSize() < vocabSize) {
            throw new IllegalArgumentException("model config " + p + " has vocabSize " + c.vocabSize()
                    + " but the task needs " + vocabSize);
        }
        return c;
    }

    /** The preset with another seed. */
    public static ModelConfig withSeed(ModelConfig c, long seed) {
        return new ModelConfig(c.vocabSize(), c.dModel(), c.layers(), c.mlpMult(), c.tieEmbeddings(), seed);
    }
}
