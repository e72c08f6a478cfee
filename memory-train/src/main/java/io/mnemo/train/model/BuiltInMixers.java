package io.mnemo.train.model;

import io.mnemo.core.MemoryState;
import io.mnemo.core.Mixer;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.attention.AttentionBlock;
import io.mnemo.modules.attention.AttentionBlockConfig;
import io.mnemo.modules.linear.LinearAttentionBlock;
import io.mnemo.modules.linear.LinearBlockConfig;
import io.mnemo.modules.linear.LinearOp;
import io.mnemo.modules.mamba.Mamba1Block;
import io.mnemo.modules.mamba.Mamba1Config;
import io.mnemo.modules.mamba.Mamba2Block;
import io.mnemo.modules.mamba.Mamba2Config;
import io.mnemo.modules.memmamba.MemMambaConfig;
import io.mnemo.modules.memmamba.MemMambaStack;
import io.mnemo.modules.memmamba.PoolPolicy;
import io.mnemo.modules.miras.MirasBlock;
import io.mnemo.modules.miras.MirasBlockConfig;
import io.mnemo.modules.miras.MirasComponents;
import io.mnemo.modules.miras.MirasConfig;
import io.mnemo.modules.miras.MirasPresets;
import io.mnemo.modules.titans.TitansActivation;
import io.mnemo.modules.titans.TitansBlock;
import io.mnemo.modules.titans.TitansBlockConfig;
import io.mnemo.modules.titans.TitansGateGranularity;
import io.mnemo.modules.titans.TitansMacBlock;
import io.mnemo.modules.titans.TitansMacConfig;
import io.mnemo.modules.titans.TitansMagBlock;
import io.mnemo.modules.titans.TitansOpConfig;
import io.mnemo.modules.titans.TitansReadMode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;

/** The factories of Mnemo's own mixer families, in the order {@link Mixers#names()} lists them. */
final class BuiltInMixers {
    private BuiltInMixers() {}

    static List<MixerFactory> all() {
        return List.of(new Linear(), new Attention(), new Titans(), new TitansMag(), new TitansMac(), new Mamba1(),
                new Mamba2(),
                new MemMamba(), new Miras());
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

    /**
     * Mamba-2 ({@code mamba2}): {@code heads} = H, so the head dimension is {@code expand·D / H}; options
     * {@code expand} (2), {@code stateSize} N (16), {@code groups} G (1); convKernel (4) and chunkSize (64).
     */
    static final class Mamba2 implements MixerFactory {
        @Override
        public List<String> types() {
            return List.of("mamba2");
        }

        @Override
        public List<String> optionNames(String type) {
            return List.of("expand", "stateSize", "groups");
        }

        @Override
        public Mixer<? extends MemoryState> create(MixerSpec spec, int dModel, long seed, DataType dataType) {
            int expand = spec.intOption("expand", 2);
            int inner = expand * dModel;
            if (inner % spec.heads() != 0) {
                throw new IllegalArgumentException("mixer 'mamba2': heads=" + spec.heads()
                        + " does not divide the inner width expand*dModel=" + inner);
            }
            return new Mamba2Block(new Mamba2Config(dModel, expand, inner / spec.heads(), spec.intOption("stateSize", 16),
                    spec.intOption("groups", 1), spec.convKernel() == null ? 4 : spec.convKernel(),
                    spec.chunkSize() == null ? 64 : spec.chunkSize(), backend(spec), dataType, seed));
        }
    }

    /**
     * Mamba-1 ({@code mamba}): a selective-scan block without heads ({@code heads} must be 1); options
     * {@code stateSize} N (16), {@code expand} (2), {@code dtRank} (ceil(D/16)); convKernel (4) and chunkSize (64).
     */
    static final class Mamba1 implements MixerFactory {
        @Override
        public List<String> types() {
            return List.of("mamba");
        }

        @Override
        public List<String> optionNames(String type) {
            return List.of("stateSize", "expand", "dtRank");
        }

        @Override
        public Mixer<? extends MemoryState> create(MixerSpec spec, int dModel, long seed, DataType dataType) {
            if (spec.heads() != 1) {
                throw new IllegalArgumentException("mixer 'mamba' has no heads: set heads to 1, got " + spec.heads());
            }
            Mamba1Config d = Mamba1Config.of(dModel);
            return new Mamba1Block(new Mamba1Config(dModel, spec.intOption("stateSize", d.dState()),
                    spec.convKernel() == null ? d.convKernel() : spec.convKernel(), spec.intOption("expand", d.expand()),
                    spec.intOption("dtRank", d.dtRank()), d.dtMin(), d.dtMax(), d.dtInitFloor(),
                    spec.chunkSize() == null ? d.chunkSize() : spec.chunkSize(), backend(spec), dataType, seed));
        }
    }

    /**
     * Causal softmax attention ({@code attention}) with RoPE; options {@code window} (0 = full causal),
     * {@code globalTokens} (0; leading tokens every later token sees, with a window), {@code rope} (true),
     * {@code ropeBase} (10000), {@code headDim} (D / heads).
     */
    static final class Attention implements MixerFactory {
        @Override
        public List<String> types() {
            return List.of("attention");
        }

        @Override
        public List<String> optionNames(String type) {
            return List.of("window", "globalTokens", "rope", "ropeBase", "headDim");
        }

        @Override
        public Mixer<? extends MemoryState> create(MixerSpec spec, int dModel, long seed, DataType dataType) {
            if (spec.convKernel() != null && spec.convKernel() != 0) {
                throw new IllegalArgumentException("mixer 'attention' has no convolution; convKernel must be unset "
                        + "or 0, got " + spec.convKernel());
            }
            AttentionBlockConfig d = AttentionBlockConfig.of(dModel, spec.heads());
            return new AttentionBlock(new AttentionBlockConfig(dModel, spec.heads(), spec.intOption("headDim",
                    d.headDim()), spec.intOption("window", 0), spec.intOption("globalTokens", 0),
                    spec.boolOption("rope", true), spec.doubleOption("ropeBase", d.ropeBase()), backend(spec), dataType,
                    seed));
        }
    }

    /**
     * Miras memories ({@code io.mnemo.modules.miras}) in the {@link MirasBlock} layer. {@code moneta},
     * {@code yaad}, {@code memora} are the paper's presets ({@link MirasPresets}); {@code miras} composes any
     * four registered components by name: options {@code architecture} ("mlp"), {@code bias} ("l2"),
     * {@code retention} ("scalar-decay"), {@code rule} ("gd") and their option maps
     * {@code architectureOptions}, {@code biasOptions}, {@code retentionOptions}, {@code ruleOptions} (see
     * {@link MirasComponents}). All types: {@code thetaMax} (1); chunkSize (16) and convKernel (4). The
     * only kernel is the generic double-precision one (backend auto or reference).
     */
    static final class Miras implements MixerFactory {
        @Override
        public List<String> types() {
            return List.of("miras", "moneta", "yaad", "memora");
        }

        @Override
        public List<String> optionNames(String type) {
            if (type.equals("miras")) {
                return List.of("architecture", "bias", "retention", "rule", "architectureOptions", "biasOptions",
                        "retentionOptions", "ruleOptions", "thetaMax");
            }
            return List.of("thetaMax");
        }

        static MirasConfig memory(MixerSpec spec) {
            int c = spec.chunkSize() == null ? 16 : spec.chunkSize();
            return switch (spec.type()) {
                case "moneta" -> MirasPresets.moneta(c);
                case "yaad" -> MirasPresets.yaad(c);
                case "memora" -> MirasPresets.memora(c);
                default -> MirasComponents.config(component(spec, "architecture", "mlp"), component(spec, "bias", "l2"),
                        component(spec, "retention", "scalar-decay"), component(spec, "rule", "gd"), c);
            };
        }

        private static MirasComponents.Spec component(MixerSpec spec, String key, String dflt) {
            Object o = spec.options().get(key + "Options");
            if (o != null && !(o instanceof Map)) {
                throw new IllegalArgumentException("mixer 'miras': option '" + key + "Options' must be an object, got "
                        + o);
            }
            Map<String, ?> m = o == null ? Map.of() : castMap(o);
            return new MirasComponents.Spec(spec.stringOption(key, dflt), m);
        }

        @SuppressWarnings("unchecked")
        private static Map<String, ?> castMap(Object o) {
            return (Map<String, ?>) o;
        }

        @Override
        public Mixer<? extends MemoryState> create(MixerSpec spec, int dModel, long seed, DataType dataType) {
            Backend b = backend(spec);
            if (b != Backend.AUTO && b != Backend.REFERENCE) {
                throw new IllegalArgumentException("mixer '" + spec.type() + "' has only the generic (reference) "
                        + "kernel, got backend=" + spec.backend());
            }
            return new MirasBlock(new MirasBlockConfig(dModel, spec.heads(), memory(spec),
                    spec.convKernel() == null ? 4 : spec.convKernel(), spec.doubleOption("thetaMax", 1.0), dataType,
                    seed));
        }
    }

    /**
     * The Titans neural memory alone ({@code titans}, the paper's LMM layer). Options: {@code depth} (2),
     * {@code expansion} (4), {@code momentum} (true), {@code maxGradNorm} (1), {@code gates}
     * ({@code token} | {@code chunk}), {@code readMode} ({@code per_token} | {@code committed}),
     * {@code activation} ({@code silu} | {@code gelu_tanh}), {@code thetaMax} (1), {@code learnedInit} (true);
     * chunkSize (16) and convKernel (4).
     */
    static final class Titans implements MixerFactory {
        /**
         * Per-token inner-gradient clamp of the mixer (the op's own default is off): without it a depth-2
         * memory with momentum diverged (NaN gradients at step 53 of lmm-tiny on MQAR, lr 3e-3).
         */
        static final double DEFAULT_MAX_GRAD_NORM = 1.0;

        @Override
        public List<String> types() {
            return List.of("titans");
        }

        @Override
        public List<String> optionNames(String type) {
            return List.of("depth", "expansion", "momentum", "maxGradNorm", "gates", "readMode", "activation",
                    "thetaMax", "learnedInit");
        }

        static TitansBlockConfig config(MixerSpec spec, int dModel, long seed, DataType dataType) {
            TitansOpConfig d = TitansOpConfig.defaults();
            TitansOpConfig op = new TitansOpConfig(spec.intOption("depth", d.depth()),
                    spec.intOption("expansion", d.expansion()),
                    enumOption(spec, "activation", TitansActivation.class, d.activation()),
                    spec.boolOption("momentum", d.momentum()), spec.doubleOption("maxGradNorm", DEFAULT_MAX_GRAD_NORM),
                    enumOption(spec, "gates", TitansGateGranularity.class, d.gates()),
                    enumOption(spec, "readMode", TitansReadMode.class, d.readMode()),
                    spec.chunkSize() == null ? d.chunkSize() : spec.chunkSize(), backend(spec), false);
            return new TitansBlockConfig(dModel, spec.heads(), op, spec.convKernel() == null ? 4 : spec.convKernel(),
                    spec.doubleOption("thetaMax", 1.0), spec.boolOption("learnedInit", true), dataType, seed);
        }

        @Override
        public Mixer<? extends MemoryState> create(MixerSpec spec, int dModel, long seed, DataType dataType) {
            return new TitansBlock(config(spec, dModel, seed, dataType));
        }
    }

    /**
     * Titans MAG ({@code titans_mag}): sliding-window attention with persistent tokens gated by the memory.
     * The titans options, plus {@code window} (64) and {@code persistentTokens} (4).
     */
    static final class TitansMag implements MixerFactory {
        @Override
        public List<String> types() {
            return List.of("titans_mag");
        }

        @Override
        public List<String> optionNames(String type) {
            List<String> o = new ArrayList<>(new Titans().optionNames("titans"));
            o.add("window");
            o.add("persistentTokens");
            return o;
        }

        @Override
        public Mixer<? extends MemoryState> create(MixerSpec spec, int dModel, long seed, DataType dataType) {
            int np = spec.intOption("persistentTokens", 4);
            int window = spec.intOption("window", 64);
            AttentionBlockConfig att = AttentionBlockConfig.of(dModel, spec.heads()).withWindow(window)
                    .withGlobalTokens(window > 0 ? np : 0).withBackend(backend(spec)).withDataType(dataType).withSeed(seed);
            return new TitansMagBlock(att, Titans.config(spec, dModel, seed + 1, dataType), np, seed + 2);
        }
    }

    /**
     * Titans MAC ({@code titans_mac}): segments attend over [persistent ‖ retrieved ‖ segment] and write
     * the attention output into the memory. The titans options (minus convKernel, thetaMax and
     * learnedInit keep their meaning), plus {@code segmentLength} (32) and {@code persistentTokens} (4).
     */
    static final class TitansMac implements MixerFactory {
        @Override
        public List<String> types() {
            return List.of("titans_mac");
        }

        @Override
        public List<String> optionNames(String type) {
            List<String> o = new ArrayList<>(new Titans().optionNames("titans"));
            o.add("segmentLength");
            o.add("persistentTokens");
            return o;
        }

        @Override
        public Mixer<? extends MemoryState> create(MixerSpec spec, int dModel, long seed, DataType dataType) {
            TitansBlockConfig m = Titans.config(spec, dModel, seed, dataType);
            return new TitansMacBlock(new TitansMacConfig(dModel, spec.heads(), spec.intOption("segmentLength", 32),
                    spec.intOption("persistentTokens", 4), m.memory(), m.thetaMax(), m.learnedInit(),
                    m.headDim() % 2 == 0, backend(spec), dataType, seed));
        }
    }

    /**
     * MemMamba ({@code memmamba}): a stack of {@code layers} (2) Mamba-1 layers with note pools and
     * cross-token / cross-layer attention, as one mixer; {@code heads} = heads of the pool attentions.
     * Options: {@code layers}, {@code stateSize} (16), {@code expand} (2), {@code summaryDim} (D/2),
     * {@code poolSize} (16), {@code tau1} (0), {@code tau2} (0), {@code policy} ({@code fifo} |
     * {@code priority}), {@code crossLayerPeriod} (2); convKernel (4).
     */
    static final class MemMamba implements MixerFactory {
        @Override
        public List<String> types() {
            return List.of("memmamba");
        }

        @Override
        public List<String> optionNames(String type) {
            return List.of("layers", "stateSize", "expand", "summaryDim", "poolSize", "tau1", "tau2", "policy",
                    "crossLayerPeriod");
        }

        @Override
        public Mixer<? extends MemoryState> create(MixerSpec spec, int dModel, long seed, DataType dataType) {
            MemMambaConfig d = MemMambaConfig.of(dModel, spec.intOption("layers", 2));
            return new MemMambaStack(new MemMambaConfig(dModel, d.layers(), spec.intOption("stateSize", d.dState()),
                    spec.intOption("expand", d.expand()), spec.convKernel() == null ? d.convKernel() : spec.convKernel(),
                    spec.intOption("summaryDim", d.summaryDim()), spec.intOption("poolSize", d.poolSize()),
                    spec.doubleOption("tau1", d.tau1()), spec.doubleOption("tau2", d.tau2()),
                    enumOption(spec, "policy", PoolPolicy.class, d.policy()),
                    spec.intOption("crossLayerPeriod", d.crossLayerPeriod()), spec.heads(), backend(spec), dataType,
                    seed));
        }
    }

    /** An enum option given by its name in any case ({@code per_token}, {@code PER_TOKEN}). */
    static <E extends Enum<E>> E enumOption(MixerSpec spec, String key, Class<E> type, E dflt) {
        String v = spec.stringOption(key, null);
        if (v == null) {
            return dflt;
        }
        try {
            return Enum.valueOf(type, v.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            List<String> names = new ArrayList<>();
            for (E c : type.getEnumConstants()) {
                names.add(c.name().toLowerCase(Locale.ROOT));
            }
            throw new IllegalArgumentException("mixer '" + spec.type() + "': option " + key + " must be one of "
                    + names + ", got " + v, e);
        }
    }
}
