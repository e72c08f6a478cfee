package io.mnemo.train.model;

import io.mnemo.core.Mixer;
import io.mnemo.core.MemoryState;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.linear.LinearAttentionBlock;
import io.mnemo.modules.linear.LinearBlockConfig;
import io.mnemo.modules.linear.LinearOp;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;

/** Builds a layer's {@link Mixer} from its {@link MixerSpec}; the registry of mixer names. */
public final class Mixers {
    private Mixers() {}

    /** Every mixer name a config may use. */
    public static List<String> names() {
        List<String> n = new ArrayList<>();
        for (LinearOp op : LinearOp.values()) {
            n.add(op.opName());
        }
        return n;
    }

    static void requireKnown(String type) {
        if (!names().contains(type)) {
            throw new IllegalArgumentException("unknown mixer '" + type + "', expected one of " + names());
        }
    }

    /**
     * A new mixer for layer {@code index} of width {@code dModel}.
     *
     * @param dataType FLOAT for training, DOUBLE for gradient checks
     */
    @SuppressWarnings("unchecked")
    public static Mixer<MemoryState> create(MixerSpec spec, int dModel, int index, long seed, DataType dataType) {
        requireKnown(spec.type());
        LinearOp op = LinearOp.byName(spec.type());
        LinearBlockConfig c = LinearBlockConfig.of(op, dModel, spec.heads());
        Backend backend = spec.backend() == null ? Backend.AUTO : Backend.parse(spec.backend());
        c = new LinearBlockConfig(op, dModel, spec.heads(), c.headDimK(), c.headDimV(),
                spec.convKernel() == null ? 4 : spec.convKernel(), c.qkNorm(), true,
                spec.chunkSize() == null ? 64 : spec.chunkSize(), backend, dataType, seed * 1000003L + index);
        return (Mixer<MemoryState>) (Mixer<?>) new LinearAttentionBlock(c);
    }
}
