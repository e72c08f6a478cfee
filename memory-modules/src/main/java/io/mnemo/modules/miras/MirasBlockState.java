package io.mnemo.modules.miras;

import io.mnemo.core.MemoryState;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * State of a {@link MirasBlock}: the memory op's state and the last inputs of the three convolutions.
 *
 * @param memory the op's state (memory, momentum, open chunk)
 * @param convQ {@code [B, K−1, D]} (null without convolution)
 * @param convK {@code [B, K−1, D]} (null without convolution)
 * @param convV {@code [B, K−1, D]} (null without convolution)
 * @param initial true for {@link MirasBlock#initialState}, made from the learned initial memory: a backward
 *     through a forward that started from it adds the memory's gradient to that parameter
 */
public record MirasBlockState(MirasState memory, INDArray convQ, INDArray convK, INDArray convV, boolean initial)
        implements MemoryState {
    @Override
    public MirasBlockState copy() {
        return new MirasBlockState(copy(memory), dup(convQ), dup(convK), dup(convV), initial);
    }

    /** A copy cut from the history: not {@link #initial()}. */
    @Override
    public MirasBlockState detach() {
        return new MirasBlockState(copy(memory), dup(convQ), dup(convK), dup(convV), false);
    }

    static MirasState copy(MirasState s) {
        if (s == null) {
            return null;
        }
        MirasBuffer b = s.buffer();
        return new MirasState(dupAll(s.memory()), dupAll(s.momentum()), b == null ? null
                : new MirasBuffer(dup(b.k()), dup(b.v()), dup(b.theta()), dup(b.eta()), dup(b.decay()), dup(b.param())));
    }

    private static List<INDArray> dupAll(List<INDArray> a) {
        return a == null ? null : a.stream().map(x -> x == null ? null : x.dup()).toList();
    }

    private static INDArray dup(INDArray a) {
        return a == null ? null : a.dup();
    }
}
