package io.mnemo.modules.titans;

import io.mnemo.core.MemoryState;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * State of a {@link TitansMacBlock}: the long-term memory as it was at the start of the open segment, and the
 * inputs of the open segment's tokens so far. The open segment is recomputed from these when it continues (its
 * attention and its memory writes depend only on the segment-start memory and its own tokens), and its memory
 * update commits when it completes. A gradient with respect to a state has the same form.
 *
 * @param memory the memory op's state at the segment start: memory and momentum, open chunk empty (segment
 *     boundaries are chunk boundaries)
 * @param buffer inputs of the open segment {@code [B, n, D]} with {@code 0 < n < C_s}; null when n = 0
 * @param initial true for the state {@link TitansMacBlock#initialState} made from the learned initial memory: a
 *     backward through a forward that started from it adds the memory's gradient to that parameter
 */
public record TitansMacState(TitansState memory, INDArray buffer, boolean initial) implements MemoryState {
    /** Number of buffered tokens of the open segment. */
    public int buffered() {
        return buffer == null ? 0 : (int) buffer.size(1);
    }

    @Override
    public TitansMacState copy() {
        return new TitansMacState(TitansBlockState.copy(memory), buffer == null ? null : buffer.dup(), initial);
    }

    /** A copy cut from the history: not {@link #initial()}. */
    @Override
    public TitansMacState detach() {
        return new TitansMacState(TitansBlockState.copy(memory), buffer == null ? null : buffer.dup(), false);
    }
}
