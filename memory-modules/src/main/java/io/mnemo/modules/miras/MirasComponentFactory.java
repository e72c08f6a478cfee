package io.mnemo.modules.miras;

import java.util.List;
import java.util.Map;

/**
 * Builds one named Miras component from an options map, so that a configuration (e.g. JSON) can name
 * it. Mnemo's components are built in ({@link MirasComponents}); a user's factory is found with
 * {@link java.util.ServiceLoader}: list its class name in
 * {@code META-INF/services/io.mnemo.modules.miras.MirasComponentFactory}.
 */
public interface MirasComponentFactory {
    /** Which of the four Miras choices a factory builds. */
    enum Kind {
        /** A {@link MemoryArchitecture}. */
        ARCHITECTURE(MemoryArchitecture.class),
        /** An {@link AttentionalBias}. */
        BIAS(AttentionalBias.class),
        /** A {@link RetentionGate}. */
        RETENTION(RetentionGate.class),
        /** An {@link UpdateRule}. */
        RULE(UpdateRule.class);

        private final Class<?> type;

        Kind(Class<?> type) {
            this.type = type;
        }

        /** The interface every component of this kind implements. */
        public Class<?> type() {
            return type;
        }
    }

    /** The kind of component built. */
    Kind kind();

    /** The name configs use (unique per kind). */
    String name();

    /** The option keys accepted (any other key is rejected before {@link #create} is called). */
    List<String> optionNames();

    /**
     * A new component; must be an instance of {@code kind().type()}.
     *
     * @param options values by key (numbers, strings or booleans as a JSON parser gives them); missing
     *     keys take the factory's defaults
     */
    Object create(Map<String, ?> options);
}
