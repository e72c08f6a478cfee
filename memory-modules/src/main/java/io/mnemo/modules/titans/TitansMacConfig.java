package io.mnemo.modules.titans;

import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.attention.Rope;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Configuration of a {@link TitansMacBlock} (Titans "memory as context", Behrouz et al. 2024, §4.1), validated on
 * construction.
 *
 * @param dModel model width D
 * @param heads H, for the attention and for the memory (each head's memory maps {@code R^{D/H} → R^{D/H}})
 * @param segmentLength C_s: tokens per segment; attention never crosses a segment boundary and the memory the
 *     segment retrieves from is the one at its start. Must be a multiple of {@code memory.chunkSize()}, so that
 *     every segment boundary is a chunk boundary of the memory (the segment-start memory is committed)
 * @param persistentTokens N_p ≥ 0 learned tokens visible to every query
 * @param memory the memory op (depth, expansion, momentum, clamp, gates, read mode, chunk size, backend)
 * @param thetaMax the inner learning rate is {@code θ = thetaMax · σ(y W_θ + b_θ)}
 * @param learnedInit the initial memory is a trained parameter (true) or zero (false, depth 1 only)
 * @param rope rotate attention queries and keys (P at positions {@code 0..N_p−1}; h_t and x_t of a segment both
 *     at {@code N_p + t}, t the index inside the segment); needs an even head dimension
 * @param backend backend of the attention op (the memory op runs with {@code memory.backend()})
 * @param dataType FLOAT for training, DOUBLE for gradient checks
 * @param seed initialisation seed
 */
public record TitansMacConfig(int dModel, int heads, int segmentLength, int persistentTokens, TitansOpConfig memory,
        double thetaMax, boolean learnedInit, boolean rope, Backend backend, DataType dataType, long seed) {
    public TitansMacConfig {
        Objects.requireNonNull(memory, "memory");
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(dataType, "dataType");
        if (dModel <= 0 || heads <= 0 || dModel % heads != 0) {
            throw new IllegalArgumentException("heads=" + heads + " must be > 0 and divide dModel=" + dModel);
        }
        if (segmentLength <= 0) {
            throw new IllegalArgumentException("segmentLength must be > 0, got " + segmentLength);
        }
        if (segmentLength % memory.chunkSize() != 0) {
            throw new IllegalArgumentException("segmentLength=" + segmentLength + " must be a multiple of the memory's "
                    + "chunkSize=" + memory.chunkSize() + " (segment boundaries must be chunk boundaries)");
        }
        if (persistentTokens < 0) {
            throw new IllegalArgumentException("persistentTokens must be >= 0, got " + persistentTokens);
        }
        if (!(thetaMax > 0) || !Double.isFinite(thetaMax)) {
            throw new IllegalArgumentException("thetaMax must be finite and > 0, got " + thetaMax);
        }
        if (rope && (dModel / heads) % 2 != 0) {
            throw new IllegalArgumentException("rope needs an even head dimension, got dModel/heads=" + dModel / heads);
        }
        if (dataType != DataType.FLOAT && dataType != DataType.DOUBLE) {
            throw new IllegalArgumentException("dataType must be FLOAT or DOUBLE, got " + dataType);
        }
        if (!learnedInit && memory.depth() >= 2) {
            throw new IllegalArgumentException("a deep memory (depth " + memory.depth() + ") needs learnedInit: "
                    + "zero weights give a zero inner gradient, so the memory would never change");
        }
    }

    /**
     * Defaults: segments of 32 tokens, 4 persistent tokens, the op's defaults (depth 2, momentum, chunk 16,
     * per-token reads), θ_max 1, learned initial memory, RoPE, automatic backend, FLOAT.
     */
    public static TitansMacConfig of(int dModel, int heads) {
        return new TitansMacConfig(dModel, heads, 32, 4, TitansOpConfig.defaults(), 1.0, true,
                (dModel / Math.max(1, heads)) % 2 == 0, Backend.AUTO, DataType.FLOAT, 1234L);
    }

    /** The head dimension {@code D / H}. */
    public int headDim() {
        return dModel / heads;
    }

    /** The RoPE frequency base. */
    public double ropeBase() {
        return Rope.DEFAULT_BASE;
    }

    public TitansMacConfig withSegmentLength(int c) {
        return new TitansMacConfig(dModel, heads, c, persistentTokens, memory, thetaMax, learnedInit, rope, backend,
                dataType, seed);
    }

    public TitansMacConfig withPersistentTokens(int n) {
        return new TitansMacConfig(dModel, heads, segmentLength, n, memory, thetaMax, learnedInit, rope, backend,
                dataType, seed);
    }

    public TitansMacConfig withMemory(TitansOpConfig m) {
        return new TitansMacConfig(dModel, heads, segmentLength, persistentTokens, m, thetaMax, learnedInit, rope,
                backend, dataType, seed);
    }

    public TitansMacConfig withRope(boolean r) {
        return new TitansMacConfig(dModel, heads, segmentLength, persistentTokens, memory, thetaMax, learnedInit, r,
                backend, dataType, seed);
    }

    public TitansMacConfig withBackend(Backend b) {
        return new TitansMacConfig(dModel, heads, segmentLength, persistentTokens, memory, thetaMax, learnedInit, rope,
                b, dataType, seed);
    }

    public TitansMacConfig withDataType(DataType t) {
        return new TitansMacConfig(dModel, heads, segmentLength, persistentTokens, memory, thetaMax, learnedInit, rope,
                backend, t, seed);
    }

    public TitansMacConfig withSeed(long s) {
        return new TitansMacConfig(dModel, heads, segmentLength, persistentTokens, memory, thetaMax, learnedInit, rope,
                backend, dataType, s);
    }
}
