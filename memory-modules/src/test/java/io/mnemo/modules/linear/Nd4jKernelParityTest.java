package io.mnemo.modules.linear;

import static io.mnemo.modules.linear.LinearTestData.assertClose;
import static io.mnemo.modules.linear.LinearTestData.assertGradsClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mnemo.core.kernel.Backend;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * nd4j backend (chunked forms) == double-precision reference on outputs, final state and every gradient, in
 * float and double; plus chunk continuation and the empty sequence for the nd4j backend.
 */
class Nd4jKernelParityTest {
    @ParameterizedTest(name = "{0} T={1} chunk={2} H={3}")
    @MethodSource("io.mnemo.modules.linear.LinearTestData#parityGrid")
    void nd4jMatchesReferenceInFloat(LinearOp op, int t, int chunk, int h) {
        int b = 2;
        int dk = 8;
        int dv = 12;
        LinearInputs in = LinearTestData.random(op, b, t, h, dk, dv, true, DataType.FLOAT, 1000L * t + h);
        LinearOpConfig cfg = LinearOpConfig.of(op).withChunkSize(chunk);
        LinearForward ref = LinearOps.forward(cfg.withBackend(Backend.REFERENCE), in, true);
        LinearForward nd = LinearOps.forward(cfg.withBackend(Backend.ND4J), in, true);
        String ctx = op.opName() + " T=" + t + " C=" + chunk + " H=" + h;
        assertEquals(DataType.FLOAT, nd.o().dataType(), ctx + " o data type");
        assertClose(ctx + " o", nd.o(), ref.o(), 1e-4);
        assertClose(ctx + " final state", nd.finalState(), ref.finalState(), 1e-4);

        INDArray dO = LinearTestData.randn(DataType.FLOAT, 7, b, t, h, dv);
        INDArray dFin = LinearTestData.randn(DataType.FLOAT, 8, b, h, dk, dv);
        LinearGrads gr = LinearOps.backward(ref, dO, dFin);
        LinearGrads gn = LinearOps.backward(nd, dO, dFin);
        assertGradsClose(ctx, gn, gr, 1e-4);
    }

    static Stream<Arguments> doubleCases() {
        List<Arguments> out = new ArrayList<>();
        for (LinearOp op : LinearOp.values()) {
            out.add(Arguments.of(op, 2, 3, 1, 4, false));
            out.add(Arguments.of(op, 2, 3, 37, 8, true));
            out.add(Arguments.of(op, 2, 3, 100, 16, true));
            out.add(Arguments.of(op, 2, 3, 70, 64, false));
            out.add(Arguments.of(op, 1, 1, 45, 4, true)); // a single sequence; chunk smaller than Dk
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} B={1} H={2} T={3} chunk={4} init={5}")
    @MethodSource("doubleCases")
    void nd4jMatchesReferenceInDouble(LinearOp op, int b, int h, int t, int chunk, boolean withInit) {
        int dk = 8;
        int dv = 12;
        LinearInputs in = LinearTestData.random(op, b, t, h, dk, dv, withInit, DataType.DOUBLE, 77L * t + chunk);
        LinearOpConfig cfg = LinearOpConfig.of(op).withChunkSize(chunk).withScale(0.7);
        LinearForward ref = LinearOps.forward(cfg.withBackend(Backend.REFERENCE), in, true);
        LinearForward nd = LinearOps.forward(cfg.withBackend(Backend.ND4J), in, true);
        String ctx = op.opName() + " double B=" + b + " H=" + h + " T=" + t + " C=" + chunk;
        assertEquals(DataType.DOUBLE, nd.o().dataType(), ctx + " o data type");
        assertClose(ctx + " o", nd.o(), ref.o(), 1e-10);
        assertClose(ctx + " final state", nd.finalState(), ref.finalState(), 1e-10);

        INDArray dO = LinearTestData.randn(DataType.DOUBLE, 9, b, t, h, dv);
        INDArray dFin = LinearTestData.randn(DataType.DOUBLE, 10, b, h, dk, dv);
        assertGradsClose(ctx, LinearOps.backward(nd, dO, dFin), LinearOps.backward(ref, dO, dFin), 1e-10);
        // either upstream gradient may be absent
        assertGradsClose(ctx + " (dO only)", LinearOps.backward(nd, dO, null), LinearOps.backward(ref, dO, null), 1e-10);
        assertGradsClose(ctx + " (dFinal only)", LinearOps.backward(nd, null, dFin), LinearOps.backward(ref, null, dFin),
                1e-10);
    }

    /**
     * Many equal keys and β near 1 make {@code I + strictLower(diag(β) K Kᵀ)} far from the identity (a power
     * series of it would cancel catastrophically); the chunked inverse must stay as accurate as the recurrence.
     */
    @ParameterizedTest
    @EnumSource(value = LinearOp.class, names = {"DELTA_RULE", "GATED_DELTA_RULE"})
    void deltaRulesStayAccurateWithRepeatedKeys(LinearOp op) {
        int b = 1;
        int t = 128;
        int h = 2;
        int dk = 8;
        int dv = 12;
        LinearInputs r = LinearTestData.random(op, b, t, h, dk, dv, true, DataType.FLOAT, 21);
        // every token of a head writes one of two keys
        INDArray k = r.k().dup();
        for (int i = 0; i < t; i++) {
            k.get(NDArrayIndex.all(), NDArrayIndex.point(i)).assign(r.k().get(NDArrayIndex.all(), NDArrayIndex.point(i % 2)));
        }
        INDArray beta = Nd4j.valueArrayOf(r.beta().shape(), 0.99f);
        LinearInputs in = new LinearInputs(r.q(), k, r.v(), r.g(), null, beta, r.initialState());
        LinearOpConfig cfg = LinearOpConfig.of(op).withChunkSize(64);
        LinearForward ref = LinearOps.forward(cfg.withBackend(Backend.REFERENCE), in, true);
        LinearForward nd = LinearOps.forward(cfg.withBackend(Backend.ND4J), in, true);
        assertClose(op + " repeated keys o", nd.o(), ref.o(), 1e-4);
        assertClose(op + " repeated keys final state", nd.finalState(), ref.finalState(), 1e-4);
        INDArray dO = LinearTestData.randn(DataType.FLOAT, 3, b, t, h, dv);
        assertGradsClose(op + " repeated keys", LinearOps.backward(nd, dO, null), LinearOps.backward(ref, dO, null), 1e-4);
    }

    @ParameterizedTest
    @EnumSource(LinearOp.class)
    void piecesWithCarriedStateEqualOnePass(LinearOp op) {
        int t = 100;
        LinearInputs in = LinearTestData.random(op, 2, t, 3, 8, 6, true, DataType.FLOAT, 11);
        LinearOpConfig cfg = LinearOpConfig.of(op).withBackend(Backend.ND4J).withChunkSize(16);
        LinearForward whole = LinearOps.forward(cfg, in, false);
        int[] cuts = {0, 1, 37, 63, 100};
        INDArray state = in.initialState();
        INDArray[] outs = new INDArray[cuts.length - 1];
        for (int p = 0; p + 1 < cuts.length; p++) {
            LinearForward f = LinearOps.forward(cfg, LinearTestData.piece(in, cuts[p], cuts[p + 1], state), false);
            outs[p] = f.o();
            state = f.finalState();
        }
        assertClose(op + " pieces o", Nd4j.concat(1, outs), whole.o(), 1e-5);
        assertClose(op + " pieces state", state, whole.finalState(), 1e-5);
    }

    @ParameterizedTest
    @EnumSource(LinearOp.class)
    void emptySequenceReturnsEmptyOutputAndUnchangedState(LinearOp op) {
        LinearOpConfig cfg = LinearOpConfig.of(op).withBackend(Backend.ND4J);
        LinearInputs in = LinearTestData.random(op, 2, 0, 3, 4, 5, true, DataType.FLOAT, 13);
        LinearForward f = LinearOps.forward(cfg, in, true);
        assertArrayEquals(new long[] {2, 0, 3, 5}, f.o().shape());
        assertClose("state", f.finalState(), in.initialState(), 0);
        INDArray dFin = LinearTestData.randn(DataType.FLOAT, 1, 2, 3, 4, 5);
        LinearGrads g = LinearOps.backward(f, null, dFin);
        assertArrayEquals(new long[] {2, 0, 3, 4}, g.dq().shape());
        assertArrayEquals(new long[] {2, 0, 3, 5}, g.dv().shape());
        assertClose("dInitialState", g.dInitialState(), dFin, 0);

        LinearInputs noInit = LinearTestData.random(op, 2, 0, 3, 4, 5, false, DataType.FLOAT, 13);
        LinearForward z = LinearOps.forward(cfg, noInit, false);
        assertClose("zero state", z.finalState(), Nd4j.zeros(DataType.FLOAT, 2, 3, 4, 5), 0);
    }
}
