package io.mnemo.train.model;

import io.mnemo.core.MemoryState;
import io.mnemo.core.Mixer;
import io.mnemo.modules.linear.LinearAttentionBlock;
import io.mnemo.modules.linear.LinearBlockConfig;
import io.mnemo.modules.linear.LinearOp;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;

/** A "user" factory registered through META-INF/services in the test resources. */
public final class UserMixerFactory implements MixerFactory {
    @Override
    public List<String> types() {
        return List.of("user_simple_gla");
    }

    @Override
    public List<String> optionNames(String type) {
        return List.of("convKernelOverride");
    }

    @Override
    public Mixer<? extends MemoryState> create(MixerSpec spec, int dModel, long seed, DataType dataType) {
        LinearBlockConfig c = LinearBlockConfig.of(LinearOp.SIMPLE_GLA, dModel, spec.heads());
        return new LinearAttentionBlock(new LinearBlockConfig(LinearOp.SIMPLE_GLA, dModel, spec.heads(),
                c.headDimK(), c.headDimV(), spec.intOption("convKernelOverride", 0), c.qkNorm(), true, 16,
                c.backend(), dataType, seed));
    }
}
