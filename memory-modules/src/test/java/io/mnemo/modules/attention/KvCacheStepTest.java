package io.mnemo.modules.attention;

import static io.mnemo.modules.attention.AttentionTestData.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.kernel.Backend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** Op-level KV cache: T steps == one forward == pieces with the cache carried; bounded memory with a window. */
class KvCacheStepTest {
    private static INDArray tokens(INDArray a, int from, int to) {
        return a.get(NDArrayIndex.all(), NDArrayIndex.interval(from, to), NDArrayIndex.all(), NDArrayIndex.all()).dup('c');
    }

    @ParameterizedTest(name = "{0} w={1} G={2}")
    @CsvSource({"CPU,0,0", "CPU,1,0", "CPU,3,0", "CPU,4,2", "ND4J,4,2", "REFERENCE,5,1", "ND4J,0,0"})
    void stepsAndPiecesEqualOneForward(Backend backend, int w, int g) {
        int b = 2;
        int t = 23;
        int h = 3;
        AttentionInputs in = AttentionTestData.random(b, t, 0, h, 4, 6, DataType.FLOAT, 11 + w);
        AttentionOpConfig cfg = AttentionOpConfig.of().withBackend(backend).withWindow(w).withGlobalKeys(g)
                .withQueryBlock(5);
        INDArray whole = AttentionOps.forward(cfg, in, false).o();
        String ctx = backend + " w=" + w + " G=" + g;

        KvCache c = KvCache.empty(b, h, 4, 6, DataType.FLOAT, w, g);
        INDArray[] os = new INDArray[t];
        int maxCap = 0;
        for (int i = 0; i < t; i++) {
            AttentionOps.Step s = AttentionOps.step(cfg, tokens(in.q(), i, i + 1).reshape(b, h, 4),
                    tokens(in.k(), i, i + 1).reshape(b, h, 4), tokens(in.v(), i, i + 1).reshape(b, h, 6), c);
            os[i] = s.o().reshape(b, 1, h, 6);
            c = s.cache();
            maxCap = Math.max(maxCap, c.capacity());
            int expectedSize = w == 0 ? i + 1 : Math.min(g, i + 1) + Math.min(w - 1, i + 1 - Math.min(g, i + 1));
            assertEquals(expectedSize, c.size(), ctx + " cache size after token " + i);
        }
        assertEquals(t, c.position(), ctx + " position");
        assertClose(ctx + " steps", Nd4j.concat(1, os), whole, 1e-5);
        if (w > 0) {
            assertTrue(maxCap <= g + Math.max(16, 2 * (w - 1)), ctx + " capacity " + maxCap + " not O(G + w)");
        }

        // pieces 0..6, 6..7, 7..23 with the cache carried
        KvCache p = KvCache.empty(b, h, 4, 6, DataType.FLOAT, w, g);
        int[] cuts = {0, 6, 7, t};
        INDArray[] parts = new INDArray[3];
        for (int i = 0; i < 3; i++) {
            AttentionOps.Extended e = AttentionOps.extend(cfg, tokens(in.q(), cuts[i], cuts[i + 1]),
                    tokens(in.k(), cuts[i], cuts[i + 1]), tokens(in.v(), cuts[i], cuts[i + 1]), p, false);
            parts[i] = e.forward().o();
            p = e.cache();
        }
        assertClose(ctx + " pieces", Nd4j.concat(1, parts), whole, 1e-5);
        assertClose(ctx + " cache keys (pieces vs steps)", p.keys(), c.keys(), 0);
        assertClose(ctx + " cache values (pieces vs steps)", p.values(), c.values(), 0);
    }

    @ParameterizedTest(name = "w={0} G={1}")
    @CsvSource({"0,0", "6,2", "1,3"})
    void olderCachesKeepTheirContentsAfterBranching(int w, int g) {
        int b = 1;
        int h = 2;
        AttentionInputs in = AttentionTestData.random(b, 40, 0, h, 4, 4, DataType.DOUBLE, 5);
        KvCache base = KvCache.empty(b, h, 4, 4, DataType.DOUBLE, w, g).append(tokens(in.k(), 0, 10),
                tokens(in.v(), 0, 10));
        INDArray keys = base.keys();
        KvCache a = base.append(tokens(in.k(), 10, 11), tokens(in.v(), 10, 11)); // in place in base's buffer
        KvCache bb = base.append(tokens(in.k(), 20, 35), tokens(in.v(), 20, 35)); // branch: must copy
        KvCache a2 = a.append(tokens(in.k(), 11, 12), tokens(in.v(), 11, 12));
        assertClose("base keys after two appends", base.keys(), keys, 0);
        KvCache direct = KvCache.empty(b, h, 4, 4, DataType.DOUBLE, w, g).append(tokens(in.k(), 0, 12),
                tokens(in.v(), 0, 12));
        assertClose("a2 keys", a2.keys(), direct.keys(), 0);
        assertClose("a2 values", a2.values(), direct.values(), 0);
        KvCache directB = KvCache.empty(b, h, 4, 4, DataType.DOUBLE, w, g)
                .append(tokens(in.k(), 0, 10), tokens(in.v(), 0, 10))
                .append(tokens(in.k(), 20, 35), tokens(in.v(), 20, 35));
        assertClose("branch keys", bb.keys(), directB.keys(), 0);
        assertEquals(35 - 20 + 10, bb.position());
        // a copy has its own buffer of exactly its size and the same contents
        KvCache cp = a2.copy();
        assertEquals(Math.max(1, a2.size()), Math.max(1, cp.capacity()), "copy capacity");
        assertClose("copy", cp.keys(), direct.keys(), 0);
        assertEquals(a2.position(), cp.position(), "copy position");
    }
}
