package io.mnemo.modules.attention;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Bad inputs are rejected with messages that name the argument, the expected and the actual shape or value. */
class AttentionBadInputTest {
    private static void rejects(String expectedStart, Executable e) {
        IllegalArgumentException x = assertThrows(IllegalArgumentException.class, e);
        assertTrue(x.getMessage().startsWith(expectedStart), "message: " + x.getMessage());
    }

    private static INDArray z(long... shape) {
        return Nd4j.zeros(DataType.FLOAT, shape);
    }

    @Test
    void badShapesAreRejectedWithTheirNames() {
        AttentionOpConfig cfg = AttentionOpConfig.of();
        rejects("q has shape [2, 5, 8], expected [B, Tq, H, Dk]",
                () -> AttentionOps.forward(cfg, new AttentionInputs(z(2, 5, 8), z(2, 5, 1, 8), z(2, 5, 1, 8)), false));
        rejects("k has shape [2, 5, 3, 8], expected [B, Tk, H, Dk] = [2, *, 2, 8]",
                () -> AttentionOps.forward(cfg, new AttentionInputs(z(2, 5, 2, 8), z(2, 5, 3, 8), z(2, 5, 2, 8)), false));
        rejects("k has shape [2, 5, 2, 4], expected [B, Tk, H, Dk] = [2, *, 2, 8]",
                () -> AttentionOps.forward(cfg, new AttentionInputs(z(2, 5, 2, 8), z(2, 5, 2, 4), z(2, 5, 2, 8)), false));
        rejects("k has Tk=3 keys but q has Tq=5 queries",
                () -> AttentionOps.forward(cfg, new AttentionInputs(z(2, 5, 2, 8), z(2, 3, 2, 8), z(2, 3, 2, 8)), false));
        rejects("v has shape [2, 6, 2, 8], expected [B, Tk, H, Dv] = [2, 7, 2, *]",
                () -> AttentionOps.forward(cfg, new AttentionInputs(z(2, 5, 2, 8), z(2, 7, 2, 8), z(2, 6, 2, 8)), false));
        rejects("v has shape [2, 7, 8], expected [B, Tk, H, Dv]",
                () -> AttentionOps.forward(cfg, new AttentionInputs(z(2, 5, 2, 8), z(2, 7, 2, 8), z(2, 7, 8)), false));
        rejects("q is missing",
                () -> AttentionOps.forward(cfg, new AttentionInputs(null, z(2, 7, 2, 8), z(2, 7, 2, 8)), false));
        rejects("q, k, v must share a data type", () -> AttentionOps.forward(cfg, new AttentionInputs(z(1, 2, 1, 4),
                Nd4j.zeros(DataType.DOUBLE, 1, 2, 1, 4), z(1, 2, 1, 4)), false));
        rejects("window must be >= 0 (0 = full causal attention), got -1", () -> AttentionOpConfig.of().withWindow(-1));
        rejects("globalKeys must be >= 0, got -2", () -> AttentionOpConfig.of().withGlobalKeys(-2));
        rejects("queryBlock must be > 0, got 0", () -> AttentionOpConfig.of().withQueryBlock(0));
        rejects("x has head dimension D=5; rotary embedding needs an even D", () -> Rope.apply(z(1, 2, 1, 5), 0, 1e4));
        rejects("rope base must be finite and > 1, got 1.0", () -> Rope.apply(z(1, 2, 1, 4), 0, 1.0));

        AttentionForward f = AttentionOps.forward(cfg, new AttentionInputs(z(2, 5, 2, 8), z(2, 5, 2, 8), z(2, 5, 2, 6)),
                false);
        rejects("dO has shape [2, 5, 2, 8], expected [B, Tq, H, Dv] = [2, 5, 2, 6]",
                () -> AttentionOps.backward(f, z(2, 5, 2, 8)));
        rejects("backward needs a forward pass run with save=true", () -> AttentionOps.backward(f, z(2, 5, 2, 6)));

        KvCache c = KvCache.empty(2, 2, 8, 6, DataType.FLOAT, 4, 0);
        rejects("cache has window=4, globalTokens=0 but the op has window=0",
                () -> AttentionOps.step(cfg, z(2, 2, 8), z(2, 2, 8), z(2, 2, 6), c));
        rejects("k has shape [2, 3, 8], expected [B, H, Dk] = [2, 2, 8]",
                () -> AttentionOps.step(cfg.withWindow(4), z(2, 2, 8), z(2, 3, 8), z(2, 2, 6), c));
        rejects("keys hold L=3 tokens, but a cache with window=4, globalTokens=0 holds 2 after position=2",
                () -> KvCache.of(z(2, 3, 2, 8), z(2, 3, 2, 6), 2, 4, 0));
    }

    @Test
    void nanInputsAreRejectedWhenCheckingIsOn() {
        INDArray q = z(1, 3, 1, 4);
        q.putScalar(new long[] {0, 1, 0, 2}, Float.NaN);
        rejects("q contains NaN at flat index 6", () -> AttentionOps.forward(AttentionOpConfig.of().withCheckFinite(true),
                new AttentionInputs(q, z(1, 3, 1, 4), z(1, 3, 1, 4)), false));
    }

    @Test
    void emptyQueriesGiveEmptyOutputs() {
        for (io.mnemo.core.kernel.Backend be : new io.mnemo.core.kernel.Backend[] {
                io.mnemo.core.kernel.Backend.REFERENCE, io.mnemo.core.kernel.Backend.CPU,
                io.mnemo.core.kernel.Backend.ND4J}) {
            AttentionForward f = AttentionOps.forward(AttentionOpConfig.of().withBackend(be),
                    new AttentionInputs(z(2, 0, 3, 4), z(2, 5, 3, 4), z(2, 5, 3, 6)), true);
            org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {2, 0, 3, 6}, f.o().shape(), be + " o");
            AttentionGrads g = AttentionOps.backward(f, z(2, 0, 3, 6));
            org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {2, 5, 3, 4}, g.dk().shape(), be + " dk");
            org.junit.jupiter.api.Assertions.assertEquals(0.0, g.dk().sumNumber().doubleValue(), be + " dk");
        }
    }
}
