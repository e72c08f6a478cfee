package io.mnemo.train.model;

import io.mnemo.core.MemoryState;
import io.mnemo.core.Mixer;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Builds the mixers of one or more {@link MixerSpec#type() type names}. Mnemo's own families are built
 * in; a user's factory is found with {@link java.util.ServiceLoader} (list its class name in
 * {@code META-INF/services/io.mnemo.train.model.MixerFactory}), so a JSON {@link ModelConfig} can name a
 * user's own mixer.
 */
public interface MixerFactory {
    /** The type names this factory builds. */
    List<String> types();

    /** The {@link MixerSpec#options()} keys {@code type} accepts (any other key is rejected). */
    List<String> optionNames(String type);

    /**
     * A new mixer.
     *
     * @param spec the layer's spec (its type is one of {@link #types()}; unknown options already rejected)
     * @param dModel model width D
     * @param seed initialisation seed for this layer
     * @param dataType FLOAT for training, DOUBLE for gradient checks
     */
    Mixer<? extends MemoryState> create(MixerSpec spec, int dModel, long seed, DataType dataType);
}
