package io.mnemo.modules.memmamba;

import io.mnemo.core.MemoryState;
import java.util.Objects;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One layer's note pool: at most K summaries per sequence, kept in write order (slot 0 is the oldest);
 * slots at and beyond {@code count[b]} are unused and hold zeros.
 *
 * <p>As a gradient ({@link MemMambaStack#backward}): {@code summaries} and {@code scores} hold the
 * gradients of the stored values; {@code count} is an integer and holds zeros. (A score is only ever
 * compared, so the stack itself never produces a non-zero score gradient for an earlier call.)
 *
 * @param summaries {@code [B, K, Ds]}: the stored summaries {@code s = σ(i)·(u W_sum)}
 * @param scores {@code [B, K]}: the importance score {@code i} each summary was written with (PRIORITY
 *     eviction compares them)
 * @param count {@code [B]} (INT): how many slots are in use, 0..K
 */
public record NotePool(INDArray summaries, INDArray scores, INDArray count) implements MemoryState {
    public NotePool {
        Objects.requireNonNull(summaries, "summaries");
        Objects.requireNonNull(scores, "scores");
        Objects.requireNonNull(count, "count");
    }

    @Override
    public NotePool copy() {
        return new NotePool(summaries.dup(), scores.dup(), count.dup());
    }

    /** Arrays carry no autodiff history here, so detaching is a copy. */
    @Override
    public NotePool detach() {
        return copy();
    }
}
