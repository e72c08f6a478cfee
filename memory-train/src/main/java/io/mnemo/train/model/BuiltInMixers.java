package io.mnemo.train.model;

import io.mnemo.core.MemoryState;
import io.mnemo.core.Mixer;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.linear.LinearAttentionBlock;
import io.mnemo.modules.linear.LinearBlockConfig;
import io.mnemo.modules.linear.LinearOp;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;

/** The factories of Mnemo's own mixer families, in the order {@link Mixers#names()} lists them. */
final class BuiltInMixers {
    private BuiltInMixers() {}

    static List<MixerFactory> all() {
        return List.of(new Linear());
    }

    static Backend backend(MixerSpec spec) {
        return spec.backend() == null ? Backend.AUTO : Backend.parse(spec.backend());
    }

    /** The linear family: one type per {@link LinearOp}; no options. */
    static final class Linear implements MixerFactory {
        @Override
        public List<String> types() {
            List<String> n = new ArrayList<>();
            for (LinearOp op : LinearOp.values()) {
                n.add(op.opName());
            }
            return n;
        }

        @Override
        public List<String> optionNames(String type) {
            return List.of();
        }

        @Override
        public Mixer<? extends MemoryState> create(MixerSpec spec, int dModel, long seed, DataType dataType) {
            LinearOp op = LinearOp.byName(spec.type());
            LinearBlockConfig c = LinearBlockConfig.of(op, dModel, spec.heads());
            return new LinearAttentionBlock(new LinearBlockConfig(op, dModel, spec.heads(), c.headDimK(),
                    c.headDimV(), spec.convKernel() == null ? 4 : spec.convKernel(), c.qkNorm(), true,
                    spec.chunkSize() == null ? 64 : spec.chunkSize(), backend(spec), dataType, seed));
        }
    }
}
