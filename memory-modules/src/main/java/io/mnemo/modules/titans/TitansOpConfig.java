package io.mnemo.modules.titans;

import io.mnemo.core.kernel.Backend;
import java.util.Objects;

/**
 * How to run the Titans neural long-term memory op ({@link TitansOps}).
 *
 * @param depth number of weight matrices of the memory MLP; 1 is the linear memory {@code M(x) = W x},
 *     {@code L ≥ 2} is {@code M(x) = x + W_L σ(… σ(W_1 x))}
 * @param expansion hidden width {@code expansion · D} of a deep memory (ignored for depth 1)
 * @param activation the hidden activation σ of a deep memory
 * @param momentum true for {@code S_t = η_t S_{t−1} − θ_t g_t}; false for {@code S_t = −θ_t g_t} (no η input)
 * @param maxGradNorm clamp each token's inner gradient (all memory weights of its head together) to this
 *     L2 norm; {@code NaN} switches the clamp off
 * @param gates per-token or per-chunk (chunk-mean) gates
 * @param readMode which memory a token reads
 * @param chunkSize tokens per chunk C: inner gradients are taken at the chunk-start memory (a model
 *     hyper-parameter: different C give different results)
 * @param backend implementation; {@link Backend#AUTO} picks the fastest for the ND4J backend
 * @param checkInputs reject NaN/Inf inputs and gates outside their ranges (θ ≥ 0, η and α in [0, 1])
 */
public record TitansOpConfig(int depth, int expansion, TitansActivation activation, boolean momentum,
        double maxGradNorm, TitansGateGranularity gates, TitansReadMode readMode, int chunkSize, Backend backend,
        boolean checkInputs) {
    public TitansOpConfig {
        Objects.requireNonNull(activation, "activation");
        Objects.requireNonNull(gates, "gates");
        Objects.requireNonNull(readMode, "readMode");
        Objects.requireNonNull(backend, "backend");
        if (depth < 1) {
            throw new IllegalArgumentException("depth must be >= 1 (1 = linear memory), got " + depth);
        }
        if (expansion < 1) {
            throw new IllegalArgumentException("expansion must be >= 1, got " + expansion);
        }
        if (chunkSize <= 0) {
            throw new IllegalArgumentException("chunkSize must be > 0, got " + chunkSize);
        }
        if (!Double.isNaN(maxGradNorm) && !(maxGradNorm > 0 && maxGradNorm < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("maxGradNorm must be finite and > 0 (or NaN for no clamp), got "
                    + maxGradNorm);
        }
        if (gates == TitansGateGranularity.CHUNK && readMode == TitansReadMode.PER_TOKEN) {
            throw new IllegalArgumentException("gates=CHUNK averages the gates over the whole chunk, which uses "
                    + "future tokens; it needs readMode=COMMITTED, got readMode=PER_TOKEN");
        }
    }

    /**
     * Defaults: depth 2, expansion 4, SiLU, momentum on, no clamp, per-token gates, {@link TitansReadMode#PER_TOKEN}
     * reads (the paper's {@code y_t = M_t(q_t)}), chunk 16, automatic backend, no input checks.
     */
    public static TitansOpConfig defaults() {
        return new TitansOpConfig(2, 4, TitansActivation.SILU, true, Double.NaN, TitansGateGranularity.TOKEN,
                TitansReadMode.PER_TOKEN, 16, Backend.AUTO, false);
    }

    public TitansOpConfig withDepth(int d) {
        return new TitansOpConfig(d, expansion, activation, momentum, maxGradNorm, gates, readMode, chunkSize, backend,
                checkInputs);
    }

    public TitansOpConfig withExpansion(int e) {
        return new TitansOpConfig(depth, e, activation, momentum, maxGradNorm, gates, readMode, chunkSize, backend,
                checkInputs);
    }

    public TitansOpConfig withActivation(TitansActivation a) {
        return new TitansOpConfig(depth, expansion, a, momentum, maxGradNorm, gates, readMode, chunkSize, backend,
                checkInputs);
    }

    public TitansOpConfig withMomentum(boolean m) {
        return new TitansOpConfig(depth, expansion, activation, m, maxGradNorm, gates, readMode, chunkSize, backend,
                checkInputs);
    }

    public TitansOpConfig withMaxGradNorm(double c) {
        return new TitansOpConfig(depth, expansion, activation, momentum, c, gates, readMode, chunkSize, backend,
                checkInputs);
    }

    /** Gate granularity and read mode together (CHUNK gates need COMMITTED reads). */
    public TitansOpConfig withGatesAndRead(TitansGateGranularity g, TitansReadMode r) {
        return new TitansOpConfig(depth, expansion, activation, momentum, maxGradNorm, g, r, chunkSize, backend,
                checkInputs);
    }

    public TitansOpConfig withReadMode(TitansReadMode r) {
        return withGatesAndRead(gates, r);
    }

    public TitansOpConfig withGates(TitansGateGranularity g) {
        return withGatesAndRead(g, readMode);
    }

    public TitansOpConfig withChunkSize(int c) {
        return new TitansOpConfig(depth, expansion, activation, momentum, maxGradNorm, gates, readMode, c, backend,
                checkInputs);
    }

    public TitansOpConfig withBackend(Backend b) {
        return new TitansOpConfig(depth, expansion, activation, momentum, maxGradNorm, gates, readMode, chunkSize, b,
                checkInputs);
    }

    public TitansOpConfig withCheckInputs(boolean c) {
        return new TitansOpConfig(depth, expansion, activation, momentum, maxGradNorm, gates, readMode, chunkSize,
                backend, c);
    }

    /** True when the inner gradients are clamped. */
    public boolean clamp() {
        return !Double.isNaN(maxGradNorm);
    }

    /** The weight layout of one head's memory for key/value dimension {@code d}. */
    public MemoryLayout layout(int d) {
        return new MemoryLayout(depth, d, depth == 1 ? d : expansion * d);
    }
}
