package io.mnemo.train.model;

import io.mnemo.core.MemoryState;
import java.util.ArrayList;
import java.util.List;

/**
 * The carried state of a {@link LanguageModel}: one mixer state per layer.
 *
 * @param layers the per-layer states, in layer order
 */
public record ModelState(List<MemoryState> layers) implements MemoryState {
    public ModelState {
        layers = List.copyOf(layers);
    }

    @Override
    public ModelState copy() {
        List<MemoryState> c = new ArrayList<>();
        for (MemoryState s : layers) {
            c.add(s.copy());
        }
        return new ModelState(c);
    }

    @Override
    public ModelState detach() {
        List<MemoryState> c = new ArrayList<>();
        for (MemoryState s : layers) {
            c.add(s.detach());
        }
        return new ModelState(c);
    }
}
