package io.mnemo.modules.attention;

import static io.mnemo.modules.attention.AttentionTestData.assertClose;
import static io.mnemo.modules.attention.AttentionTestData.assertGradsClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mnemo.core.kernel.Backend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * nd4j backend (batched matmuls per query block) == double-precision reference on o, lse, dq, dk, dv; query
 * blocks of 16 so that blocks smaller than, dividing and not dividing T all occur. Also in double at 1e-10.
 */
class Nd4jKernelParityTest {
    @ParameterizedTest(name = "T={0} w={1} P={2} H={3} G={4}")
    @MethodSource("io.mnemo.modules.attention.AttentionTestData#parityGrid")
    void nd4jMatchesReferenceInFloat(int t, int w, int p, int h, int g) {
        int b = 2;
        int dk = 8;
        int dv = 12;
        AttentionInputs in = AttentionTestData.random(b, t, p, h, dk, dv, DataType.FLOAT, 100L * t + 10 * w + p + h);
        AttentionOpConfig cfg = AttentionOpConfig.of().withWindow(w).withGlobalKeys(g).withQueryBlock(16);
        AttentionForward ref = AttentionOps.forward(cfg.withBackend(Backend.REFERENCE), in, true);
        AttentionForward nd = AttentionOps.forward(cfg.withBackend(Backend.ND4J), in, true);
        String ctx = "T=" + t + " w=" + w + " P=" + p + " H=" + h + " G=" + g;
        assertEquals(DataType.FLOAT, nd.o().dataType(), ctx + " o data type");
        assertClose(ctx + " o", nd.o(), ref.o(), 1e-4);
        assertClose(ctx + " lse", nd.lse(), ref.lse(), 1e-5);
        INDArray dO = AttentionTestData.randn(DataType.FLOAT, 7, b, t, h, dv);
        assertGradsClose(ctx, AttentionOps.backward(nd, dO), AttentionOps.backward(ref, dO), 1e-4);
    }

    @ParameterizedTest(name = "T={0} w={1} P={2} G={3} block={4}")
    @CsvSource({"1,0,0,0,4", "37,0,3,0,8", "100,16,7,3,16", "45,5,0,2,64", "70,64,9,0,7"})
    void nd4jMatchesReferenceInDouble(int t, int w, int p, int g, int block) {
        int b = 2;
        int h = 3;
        AttentionInputs in = AttentionTestData.random(b, t, p, h, 8, 6, DataType.DOUBLE, 31L * t + w);
        AttentionOpConfig cfg = AttentionOpConfig.of().withWindow(w).withGlobalKeys(g).withQueryBlock(block)
                .withScale(0.4);
        AttentionForward ref = AttentionOps.forward(cfg.withBackend(Backend.REFERENCE), in, true);
        AttentionForward nd = AttentionOps.forward(cfg.withBackend(Backend.ND4J), in, true);
        String ctx = "double T=" + t + " w=" + w + " P=" + p + " G=" + g + " block=" + block;
        assertEquals(DataType.DOUBLE, nd.o().dataType(), ctx + " o data type");
        assertClose(ctx + " o", nd.o(), ref.o(), 1e-10);
        assertClose(ctx + " lse", nd.lse(), ref.lse(), 1e-10);
        INDArray dO = AttentionTestData.randn(DataType.DOUBLE, 9, b, t, h, 6);
        assertGradsClose(ctx, AttentionOps.backward(nd, dO), AttentionOps.backward(ref, dO), 1e-10);
    }

    /** T = 1000 (not a multiple of the key or query blocks), full and windowed with global keys. */
    @ParameterizedTest(name = "T=1000 w={0} G={1}")
    @org.junit.jupiter.params.provider.CsvSource({"0,0", "50,2"})
    void longSequenceMatchesReference(int w, int g) {
        int b = 1;
        int h = 2;
        AttentionInputs in = AttentionTestData.random(b, 1000, 5, h, 8, 12, DataType.FLOAT, 99 + w);
        AttentionOpConfig cfg = AttentionOpConfig.of().withWindow(w).withGlobalKeys(g).withQueryBlock(64);
        AttentionForward ref = AttentionOps.forward(cfg.withBackend(Backend.REFERENCE), in, true);
        AttentionForward got = AttentionOps.forward(cfg.withBackend(Backend.ND4J), in, true);
        String ctx = "T=1000 w=" + w + " G=" + g;
        assertClose(ctx + " o", got.o(), ref.o(), 1e-4);
        assertClose(ctx + " lse", got.lse(), ref.lse(), 1e-5);
        INDArray dO = AttentionTestData.randn(DataType.FLOAT, 3, b, 1000, h, 12);
        assertGradsClose(ctx, AttentionOps.backward(got, dO), AttentionOps.backward(ref, dO), 1e-4);
    }
}
