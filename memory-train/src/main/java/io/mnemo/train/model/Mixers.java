package io.mnemo.train.model;

import io.mnemo.core.MemoryState;
import io.mnemo.core.Mixer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The registry of mixer type names: Mnemo's built-in families plus every {@link MixerFactory} found by
 * {@link ServiceLoader}. Builds a layer's {@link Mixer} from its {@link MixerSpec}.
 */
public final class Mixers {
    private static volatile Map<String, MixerFactory> registry;

    private Mixers() {}

    private static Map<String, MixerFactory> registry() {
        Map<String, MixerFactory> r = registry;
        if (r == null) {
            synchronized (Mixers.class) {
                if (registry == null) {
                    Map<String, MixerFactory> m = new LinkedHashMap<>();
                    for (MixerFactory f : BuiltInMixers.all()) {
                        register(m, f);
                    }
                    for (MixerFactory f : ServiceLoader.load(MixerFactory.class)) {
                        register(m, f);
                    }
                    registry = m;
                }
                r = registry;
            }
        }
        return r;
    }

    private static void register(Map<String, MixerFactory> m, MixerFactory f) {
        for (String t : f.types()) {
            MixerFactory prev = m.putIfAbsent(t, f);
            if (prev != null && prev != f) {
                throw new IllegalStateException("mixer type '" + t + "' is registered twice: by "
                        + prev.getClass().getName() + " and " + f.getClass().getName());
            }
        }
    }

    /** Every mixer name a config may use. */
    public static List<String> names() {
        return new ArrayList<>(registry().keySet());
    }

    static void requireKnown(String type) {
        if (!registry().containsKey(type)) {
            throw new IllegalArgumentException("unknown mixer '" + type + "', expected one of " + names());
        }
    }

    /** Rejects an unknown type or an option key the type does not accept (the message lists the valid ones). */
    static void validate(MixerSpec spec) {
        requireKnown(spec.type());
        List<String> allowed = registry().get(spec.type()).optionNames(spec.type());
        for (String key : spec.options().keySet()) {
            if (!allowed.contains(key)) {
                throw new IllegalArgumentException("mixer '" + spec.type() + "': unknown option '" + key
                        + "', expected one of " + allowed);
            }
        }
    }

    /**
     * A new mixer for layer {@code index} of width {@code dModel}.
     *
     * @param dataType FLOAT for training, DOUBLE for gradient checks
     */
    @SuppressWarnings("unchecked")
    public static Mixer<MemoryState> create(MixerSpec spec, int dModel, int index, long seed, DataType dataType) {
        validate(spec);
        Mixer<? extends MemoryState> m = registry().get(spec.type()).create(spec, dModel, seed * 1000003L + index,
                dataType);
        return (Mixer<MemoryState>) m;
    }
}
