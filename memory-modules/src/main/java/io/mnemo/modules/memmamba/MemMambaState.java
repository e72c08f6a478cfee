package io.mnemo.modules.memmamba;

import io.mnemo.core.MemoryState;
import io.mnemo.modules.mamba.Mamba1State;
import java.util.List;
import java.util.Objects;

/**
 * The carried state of a {@link MemMambaStack}: per inner layer its note pool and its Mamba-1 state.
 * Size per sequence: {@code L · (K·Ds + K + 1 + (convKernel−1)·E·D + E·D·N)} numbers, independent of
 * the sequence length.
 *
 * @param pools one {@link NotePool} per layer ({@code [B, K, Ds]} summaries, {@code [B, K]} scores,
 *     {@code [B]} counts)
 * @param mamba one {@link Mamba1State} per layer ({@code [B, K_conv−1, E·D]} conv inputs,
 *     {@code [B, E·D, N]} scan state)
 */
public record MemMambaState(List<NotePool> pools, List<Mamba1State> mamba) implements MemoryState {
    public MemMambaState {
        Objects.requireNonNull(pools, "pools");
        Objects.requireNonNull(mamba, "mamba");
        if (pools.size() != mamba.size()) {
            throw new IllegalArgumentException("state has " + pools.size() + " pools but " + mamba.size()
                    + " Mamba states; expected one of each per layer");
        }
        pools = List.copyOf(pools);
        mamba = List.copyOf(mamba);
    }

    @Override
    public MemMambaState copy() {
        return new MemMambaState(pools.stream().map(NotePool::copy).toList(),
                mamba.stream().map(Mamba1State::copy).toList());
    }

    /** Arrays carry no autodiff history here, so detaching is a copy. */
    @Override
    public MemMambaState detach() {
        return copy();
    }
}
