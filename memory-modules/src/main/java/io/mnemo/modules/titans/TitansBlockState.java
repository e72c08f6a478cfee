package io.mnemo.modules.titans;

import io.mnemo.core.MemoryState;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * State of a {@link TitansBlock}: the memory op's state and the last inputs of the three convolutions.
 *
 * @param memory the op's state (memory, momentum, open chunk)
 * @param convQ {@code [B, K−1, D]} (null without convolution)
 * @param convK {@code [B, K−1, D]} (null without convolution)
 * @param convV {@code [B, K−1, D]} (null without convolution)
 * @param initial true for the state {@link TitansBlock#initialState} made from the learned initial memory:
 *     a backward through a forward that started from it adds the memory's gradient to that parameter.
 *     {@link #detach()} and every state a forward returns are not initial.
 */
public record TitansBlockState(TitansState memory, INDArray convQ, INDArray convK, INDArray convV, boolean initial)
        implements MemoryState {
    @Override
    public TitansBlockState copy() {
        return new TitansBlockState(copy(memory), dup(convQ), dup(convK), dup(convV), initial);
    }

    /** A copy cut from the history: not {@link #initial()}, so no gradient reaches the initial memory. */
    @Override
    public TitansBlockState detach() {
        return new TitansBlockState(copy(memory), dup(convQ), dup(convK), dup(convV), false);
    }

    static TitansState copy(TitansState s) {
        if (s == null) {
            return null;
        }
        return new TitansState(dupAll(s.memory()), dupAll(s.momentum()), dup(s.bufK()), dup(s.bufV()),
                dup(s.bufTheta()), dup(s.bufEta()), dup(s.bufAlpha()));
    }

    private static List<INDArray> dupAll(List<INDArray> a) {
        return a == null ? null : a.stream().map(INDArray::dup).toList();
    }

    private static INDArray dup(INDArray a) {
        return a == null ? null : a.dup();
    }
}
