package io.mnemo.modules.memmamba;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.Mixer;
import io.mnemo.core.kernel.Backend;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Bad configurations and bad inputs are rejected with messages naming the argument and the values. */
class MemMambaValidationTest {
    private static MemMambaConfig ok() {
        return new MemMambaConfig(8, 2, 4, 2, 4, 4, 4, 0.0, 0.0, PoolPolicy.FIFO, 2, 2, Backend.CPU, DataType.FLOAT, 1L);
    }

    private static void rejects(String expected, Executable e) {
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, e);
        assertTrue(ex.getMessage().contains(expected), "message '" + ex.getMessage() + "' lacks '" + expected + "'");
    }

    @Test
    void badConfigurationsAreRejected() {
        MemMambaConfig c = ok();
        rejects("summaryDim must satisfy 1 <= summaryDim < dModel=8", () -> c.withSummary(8, 2));
        rejects("summaryDim must satisfy 1 <= summaryDim < dModel=8", () -> c.withSummary(0, 1));
        rejects("heads=3 does not divide summaryDim=4", () -> c.withSummary(4, 3));
        rejects("heads must be > 0, got 0", () -> c.withSummary(4, 0));
        rejects("poolSize must be > 0, got 0", () -> c.withPool(0, PoolPolicy.FIFO));
        rejects("tau1 must be a number", () -> c.withThresholds(Double.NaN, 0));
        rejects("tau2 must be a number", () -> c.withThresholds(0, Double.NaN));
        rejects("crossLayerPeriod must be > 0, got 0", () -> c.withCrossLayerPeriod(0));
        rejects("convKernel must be >= 2", () -> c.withMamba(4, 2, 1));
        rejects("dState must be > 0, got 0", () -> c.withMamba(0, 2, 4));
        rejects("expand must be > 0, got -1", () -> c.withMamba(4, -1, 4));
        rejects("dataType must be FLOAT or DOUBLE, got INT", () -> c.withDataType(DataType.INT));
        rejects("layers must be > 0, got 0", () -> new MemMambaConfig(8, 0, 4, 2, 4, 4, 4, 0, 0, PoolPolicy.FIFO, 2, 2,
                Backend.CPU, DataType.FLOAT, 1L));
        rejects("dModel must be > 0, got 0", () -> new MemMambaConfig(0, 1, 4, 2, 4, 4, 4, 0, 0, PoolPolicy.FIFO, 2,
                2, Backend.CPU, DataType.FLOAT, 1L));
        rejects("dModel must be >= 2", () -> MemMambaConfig.of(1, 2));
        rejects("unknown pool policy 'lru', expected one of fifo, priority", () -> PoolPolicy.parse("lru"));
        assertThrows(NullPointerException.class, () -> new MemMambaConfig(8, 1, 4, 2, 4, 4, 4, 0, 0, null, 2, 2,
                Backend.CPU, DataType.FLOAT, 1L));
    }

    @Test
    void badInputsAreRejectedWithTheirNames() {
        MemMambaStack m = new MemMambaStack(ok());
        rejects("x has shape [2, 3, 5], expected [B, T, D] = [*, *, 8]",
                () -> m.forward(Nd4j.create(DataType.FLOAT, 2, 3, 5), null, false));
        rejects("x has shape [2, 8], expected [B, T, D]", () -> m.forward(Nd4j.create(DataType.FLOAT, 2, 8), null,
                false));
        rejects("x is missing", () -> m.forward(null, null, false));
        rejects("x has data type DOUBLE, the stack was built for FLOAT",
                () -> m.forward(Nd4j.create(DataType.DOUBLE, 2, 3, 8), null, false));
        rejects("x has shape [2, 3, 8], expected [B, D]", () -> m.step(Nd4j.create(DataType.FLOAT, 2, 3, 8),
                null));
        INDArray x = Nd4j.rand(DataType.FLOAT, 2, 3, 8);
        MemMambaState good = m.initialState(2);
        rejects("state has 1 layers, expected L=2", () -> m.forward(x, new MemMambaState(
                good.pools().subList(0, 1), good.mamba().subList(0, 1)), false));
        rejects("state.pools[1].summaries has shape [2, 4, 3], expected [B, K, Ds] = [2, 4, 4]",
                () -> m.forward(x, withPool(good, 1, new NotePool(Nd4j.zeros(DataType.FLOAT, 2, 4, 3),
                        Nd4j.zeros(DataType.FLOAT, 2, 4), Nd4j.zeros(DataType.INT, 2))), false));
        rejects("state.pools[0].summaries has shape [3, 4, 4], expected [B, K, Ds] = [2, 4, 4]",
                () -> m.forward(x, m.initialState(3), false));
        rejects("state.pools[0].count[1] = 5, expected 0..K=4",
                () -> m.forward(x, withPool(good, 0, new NotePool(Nd4j.zeros(DataType.FLOAT, 2, 4, 4),
                        Nd4j.zeros(DataType.FLOAT, 2, 4), Nd4j.createFromArray(0, 5))), false));
        rejects("state.pools[0].scores has shape [2, 3], expected [B, K] = [2, 4]",
                () -> m.forward(x, withPool(good, 0, new NotePool(Nd4j.zeros(DataType.FLOAT, 2, 4, 4),
                        Nd4j.zeros(DataType.FLOAT, 2, 3), Nd4j.zeros(DataType.INT, 2))), false));
        rejects("state has 2 pools but 1 Mamba states", () -> new MemMambaState(good.pools(),
                good.mamba().subList(0, 1)));
        Mixer.Forward<MemMambaState> inference = m.forward(x, null, false);
        rejects("backward needs a forward pass run with training=true",
                () -> m.backward(inference, Nd4j.zeros(DataType.FLOAT, 2, 3, 8), null));
        rejects("trace needs a forward pass of a MemMambaStack run with training=true",
                () -> MemMambaStack.trace(inference));
        Mixer.Forward<MemMambaState> f = m.forward(x, null, true);
        rejects("dy has shape [2, 4, 8], expected [B, T, D] = [2, 3, 8]",
                () -> m.backward(f, Nd4j.zeros(DataType.FLOAT, 2, 4, 8), null));
        rejects("dState.pools[0].summaries has shape [3, 4, 4], expected [B, K, Ds] = [2, 4, 4]",
                () -> m.backward(f, Nd4j.zeros(DataType.FLOAT, 2, 3, 8), m.initialState(3)));
        rejects("batch must be > 0", () -> m.initialState(0));
    }

    private static MemMambaState withPool(MemMambaState s, int l, NotePool p) {
        List<NotePool> pools = new ArrayList<>(s.pools());
        pools.set(l, p);
        return new MemMambaState(pools, s.mamba());
    }
}
