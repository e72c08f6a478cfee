package io.mnemo.train.model;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * One layer's sequence mixer in a {@link ModelConfig}, as it appears in JSON:
 * {@code {"type": "gated_delta_rule", "heads": 4}}. Optional fields left null take the mixer's defaults.
 *
 * @param type mixer name, see {@link Mixers#names()}: the linear ops ({@code linear_attn},
 *     {@code simple_gla}, {@code gla}, {@code delta_rule}, {@code gated_delta_rule})
 * @param heads number of heads (must divide the model width)
 * @param convKernel short convolution width (0 = none), or null for 4
 * @param chunkSize chunk size of the memory op, or null for 64
 * @param backend kernel backend ({@code auto}, {@code cpu}, {@code nd4j}, {@code reference}), or null for auto
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record MixerSpec(String type, int heads, Integer convKernel, Integer chunkSize, String backend) {
    public MixerSpec {
        if (type == null || type.isBlank()) {
            throw new IllegalArgumentException("mixer type is missing; expected one of " + Mixers.names());
        }
        if (heads <= 0) {
            throw new IllegalArgumentException("mixer '" + type + "': heads must be > 0, got " + heads);
        }
    }

    /** A mixer of this type with defaults. */
    public static MixerSpec of(String type, int heads) {
        return new MixerSpec(type, heads, null, null, null);
    }
}
