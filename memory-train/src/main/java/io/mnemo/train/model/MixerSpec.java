package io.mnemo.train.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One layer's sequence mixer in a {@link ModelConfig}, as it appears in JSON:
 * {@code {"type": "gated_delta_rule", "heads": 4}} or, with mixer-specific options,
 * {@code {"type": "attention", "heads": 4, "options": {"window": 64}}}. Optional fields left null take
 * the mixer's defaults.
 *
 * @param type mixer name, see {@link Mixers#names()}
 * @param heads number of heads (must divide the model width)
 * @param convKernel short convolution width (0 = none), or null for the mixer's default
 * @param chunkSize chunk size of the memory op, or null for the mixer's default
 * @param backend kernel backend ({@code auto}, {@code cpu}, {@code nd4j}, {@code reference}), or null for auto
 * @param options mixer-specific options (numbers, strings, booleans); each mixer type lists the keys it
 *     accepts ({@link MixerFactory#optionNames}) and rejects others. Never null (empty when absent).
 */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public record MixerSpec(String type, int heads, Integer convKernel, Integer chunkSize, String backend,
        Map<String, Object> options) {
    @JsonCreator
    public MixerSpec(@JsonProperty("type") String type, @JsonProperty("heads") int heads,
            @JsonProperty("convKernel") Integer convKernel, @JsonProperty("chunkSize") Integer chunkSize,
            @JsonProperty("backend") String backend, @JsonProperty("options") Map<String, Object> options) {
        if (type == null || type.isBlank()) {
            throw new IllegalArgumentException("mixer type is missing; expected one of " + Mixers.names());
        }
        if (heads <= 0) {
            throw new IllegalArgumentException("mixer '" + type + "': heads must be > 0, got " + heads);
        }
        if (convKernel != null && convKernel < 0) {
            throw new IllegalArgumentException("mixer '" + type + "': convKernel must be >= 0, got " + convKernel);
        }
        if (chunkSize != null && chunkSize <= 0) {
            throw new IllegalArgumentException("mixer '" + type + "': chunkSize must be > 0, got " + chunkSize);
        }
        this.type = type;
        this.heads = heads;
        this.convKernel = convKernel;
        this.chunkSize = chunkSize;
        this.backend = backend;
        this.options = options == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(options));
    }

    /** A mixer without options. */
    public MixerSpec(String type, int heads, Integer convKernel, Integer chunkSize, String backend) {
        this(type, heads, convKernel, chunkSize, backend, Map.of());
    }

    /** A mixer of this type with defaults. */
    public static MixerSpec of(String type, int heads) {
        return new MixerSpec(type, heads, null, null, null, Map.of());
    }

    /** The same spec with option {@code key} set to {@code value}. */
    public MixerSpec with(String key, Object value) {
        Map<String, Object> m = new LinkedHashMap<>(options);
        m.put(key, value);
        return new MixerSpec(type, heads, convKernel, chunkSize, backend, m);
    }

    /** Integer option {@code key}, or {@code dflt} when absent; a non-integer value is an error naming the key. */
    public int intOption(String key, int dflt) {
        Object v = options.get(key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())) {
            return n.intValue();
        }
        throw new IllegalArgumentException("mixer '" + type + "': option " + key + " must be an integer, got " + v);
    }

    /** Number option {@code key}, or {@code dflt} when absent. */
    public double doubleOption(String key, double dflt) {
        Object v = options.get(key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        throw new IllegalArgumentException("mixer '" + type + "': option " + key + " must be a number, got " + v);
    }

    /** Boolean option {@code key}, or {@code dflt} when absent. */
    public boolean boolOption(String key, boolean dflt) {
        Object v = options.get(key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        throw new IllegalArgumentException("mixer '" + type + "': option " + key + " must be true or false, got "
                + v);
    }

    /** String option {@code key}, or {@code dflt} when absent. */
    public String stringOption(String key, String dflt) {
        Object v = options.get(key);
        return v == null ? dflt : v.toString();
    }
}
