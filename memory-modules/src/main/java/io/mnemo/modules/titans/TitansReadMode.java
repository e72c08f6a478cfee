package io.mnemo.modules.titans;

/**
 * Which memory a token reads (retrieval never updates the memory).
 *
 * <p>Both modes take the inner gradients of a chunk at the chunk-start memory {@code M_0}.
 */
public enum TitansReadMode {
    /**
     * The paper's {@code y_t = M_t(q_t)}: token t of a chunk reads the memory after the writes of the
     * chunk's tokens {@code ≤ t}. Causal, because every write only uses tokens {@code ≤ t}.
     */
    PER_TOKEN,
    /**
     * titans-pytorch-like: the tokens of chunk c read the memory committed at the end of chunk c − 1
     * (their own chunk is invisible to them); the tokens of the first chunk read the initial memory.
     */
    COMMITTED
}
