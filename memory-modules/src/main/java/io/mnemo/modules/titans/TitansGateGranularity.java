package io.mnemo.modules.titans;

/** Whether the gates θ, η, α act per token or are shared by the tokens of a chunk. */
public enum TitansGateGranularity {
    /** Each token uses its own θ_t, η_t, α_t. */
    TOKEN,
    /**
     * Every token of a complete chunk uses the mean of the chunk's per-token values of each gate (the
     * paper's "per chunk" gates, made data-dependent by averaging). The mean uses tokens later in the
     * chunk, so this is only allowed with {@link TitansReadMode#COMMITTED}, where no token of the chunk
     * reads the chunk's writes.
     */
    CHUNK
}
