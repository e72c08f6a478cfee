package io.mnemo.modules.attention;

import io.mnemo.core.kernel.Backend;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Configuration of {@link AttentionBlock}, validated on construction.
 *
 * @param dModel model width D
 * @param heads H
 * @param headDim query, key and value width per head (even when {@code rope})
 * @param window 0 for full causal attention, else each token sees the last {@code window} tokens (itself included)
 * @param globalTokens with a window, the first {@code globalTokens} tokens of the sequence stay visible to every
 *     later token (attention sinks / persistent tokens); 0 for none; ignored without a window
 * @param rope rotate q and k by their absolute positions ({@link Rope}, GPT-NeoX half-split layout)
 * @param ropeBase the rotary frequency base (10000 in most models)
 * @param backend kernel backend of the attention op
 * @param dataType FLOAT, or DOUBLE for gradient checks (then use the reference backend)
 * @param seed parameter initialisation seed
 */
public record AttentionBlockConfig(int dModel, int heads, int headDim, int window, int globalTokens, boolean rope,
        double ropeBase, Backend backend, DataType dataType, long seed) {
    public AttentionBlockConfig {
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(dataType, "dataType");
        if (dModel <= 0 || heads <= 0 || headDim <= 0) {
            throw new IllegalArgumentException("dModel=" + dModel + ", heads=" + heads + ", headDim=" + headDim
                    + ": all must be > 0");
        }
        if (window < 0) {
            throw new IllegalArgumentException("window must be >= 0 (0 = full causal attention), got " + window);
        }
        if (globalTokens < 0) {
            throw new IllegalArgumentException("globalTokens must be >= 0, got " + globalTokens);
        }
        if (rope && headDim % 2 != 0) {
            throw new IllegalArgumentException("headDim=" + headDim + " must be even for rotary embedding");
        }
        if (rope && (!(ropeBase > 1) || !Double.isFinite(ropeBase))) {
            throw new IllegalArgumentException("ropeBase must be finite and > 1, got " + ropeBase);
        }
        if (dataType != DataType.FLOAT && dataType != DataType.DOUBLE) {
            throw new IllegalArgumentException("dataType must be FLOAT or DOUBLE, got " + dataType);
        }
    }

    /** The usual layer: headDim = dModel / heads, full causal attention, RoPE base 10000, automatic backend, FLOAT. */
    public static AttentionBlockConfig of(int dModel, int heads) {
        if (heads <= 0 || dModel % heads != 0) {
            throw new IllegalArgumentException("heads=" + heads + " does not divide dModel=" + dModel);
        }
        return new AttentionBlockConfig(dModel, heads, dModel / heads, 0, 0, true, Rope.DEFAULT_BASE, Backend.AUTO,
                DataType.FLOAT, 1234L);
    }

    public AttentionBlockConfig withWindow(int w) {
        return new AttentionBlockConfig(dModel, heads, headDim, w, globalTokens, rope, ropeBase, backend, dataType, seed);
    }

    public AttentionBlockConfig withGlobalTokens(int g) {
        return new AttentionBlockConfig(dModel, heads, headDim, window, g, rope, ropeBase, backend, dataType, seed);
    }

    public AttentionBlockConfig withRope(boolean on, double base) {
        return new AttentionBlockConfig(dModel, heads, headDim, window, globalTokens, on, base, backend, dataType, seed);
    }

    public AttentionBlockConfig withHeadDim(int d) {
        return new AttentionBlockConfig(dModel, heads, d, window, globalTokens, rope, ropeBase, backend, dataType, seed);
    }

    public AttentionBlockConfig withBackend(Backend b) {
        return new AttentionBlockConfig(dModel, heads, headDim, window, globalTokens, rope, ropeBase, b, dataType, seed);
    }

    public AttentionBlockConfig withDataType(DataType t) {
        return new AttentionBlockConfig(dModel, heads, headDim, window, globalTokens, rope, ropeBase, backend, t, seed);
    }

    public AttentionBlockConfig withSeed(long s) {
        return new AttentionBlockConfig(dModel, heads, headDim, window, globalTokens, rope, ropeBase, backend, dataType, s);
    }

    /** The op configuration the block runs with (scale {@code headDim^-1/2}). */
    public AttentionOpConfig opConfig() {
        return new AttentionOpConfig(backend, Double.NaN, window, window == 0 ? 0 : globalTokens, 64, false);
    }
}
