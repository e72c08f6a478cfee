package io.mnemo.modules.linear;

import static io.mnemo.modules.linear.LinearTestData.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.kernel.Backend;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** State carrying, stepping, empty sequences and argument checking, for every op and backend. */
class LinearOpsContractTest {
    /** (op, backend, data type, tolerance): fp32 within 1e-5, the double reference within 1e-10. */
    static Stream<Arguments> opsAndBackends() {
        return Stream.of(LinearOp.values()).flatMap(op -> Stream.of(
                Arguments.of(op, Backend.REFERENCE, DataType.FLOAT, 1e-5),
                Arguments.of(op, Backend.REFERENCE, DataType.DOUBLE, 1e-10),
                Arguments.of(op, Backend.CPU, DataType.FLOAT, 1e-5)));
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("opsAndBackends")
    void piecesWithCarriedStateEqualOnePass(LinearOp op, Backend backend, DataType type, double tol) {
        int t = 100;
        LinearInputs in = LinearTestData.random(op, 2, t, 3, 8, 6, true, type, 11);
        LinearOpConfig cfg = LinearOpConfig.of(op).withBackend(backend).withChunkSize(16);
        LinearForward whole = LinearOps.forward(cfg, in, false);
        int[] cuts = {0, 1, 37, 63, 100};
        INDArray state = in.initialState();
        INDArray[] outs = new INDArray[cuts.length - 1];
        for (int p = 0; p + 1 < cuts.length; p++) {
            LinearForward f = LinearOps.forward(cfg, LinearTestData.piece(in, cuts[p], cuts[p + 1], state), false);
            outs[p] = f.o();
            state = f.finalState();
        }
        assertClose(op + " pieces o", Nd4j.concat(1, outs), whole.o(), tol);
        assertClose(op + " pieces state", state, whole.finalState(), tol);
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("opsAndBackends")
    void stepsEqualForward(LinearOp op, Backend backend, DataType type, double tol) {
        int t = 23;
        LinearInputs in = LinearTestData.random(op, 2, t, 2, 8, 6, true, type, 12);
        LinearOpConfig cfg = LinearOpConfig.of(op).withBackend(backend);
        LinearForward whole = LinearOps.forward(cfg, in, false);
        INDArray state = in.initialState();
        INDArray[] outs = new INDArray[t];
        for (int i = 0; i < t; i++) {
            LinearInputs p = LinearTestData.piece(in, i, i + 1, null);
            LinearForward s = LinearOps.step(cfg, sq(p.q()), sq(p.k()), sq(p.v()), sq(p.g()), sq(p.gk()), sq(p.beta()),
                    state);
            outs[i] = s.o();
            state = s.finalState();
        }
        assertClose(op + " steps o", Nd4j.concat(1, outs), whole.o(), tol);
        assertClose(op + " steps state", state, whole.finalState(), tol);
    }

    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.EnumSource(LinearOp.class)
    void stepperEqualsForward(LinearOp op) {
        int t = 31;
        LinearInputs in = LinearTestData.random(op, 2, t, 3, 8, 6, true, DataType.FLOAT, 14);
        LinearOpConfig cfg = LinearOpConfig.of(op).withBackend(Backend.REFERENCE);
        LinearForward whole = LinearOps.forward(cfg, in, false);
        LinearStepper stepper = new LinearStepper(cfg, 2, 3, 8, 6, in.initialState());
        INDArray out = Nd4j.create(DataType.FLOAT, 2, 3, 6);
        INDArray[] outs = new INDArray[t];
        for (int i = 0; i < t; i++) {
            LinearInputs p = LinearTestData.piece(in, i, i + 1, null);
            stepper.step(sq(p.q()), sq(p.k()), sq(p.v()), sq(p.g()), sq(p.gk()), sq(p.beta()), out);
            outs[i] = out.dup().reshape(2, 1, 3, 6);
        }
        assertClose(op + " stepper o", Nd4j.concat(1, outs), whole.o(), 1e-5);
        assertClose(op + " stepper state", stepper.state(), whole.finalState(), 1e-5);
    }

    private static INDArray sq(INDArray a) {
        return a == null ? null : a.reshape(drop1(a.shape()));
    }

    private static long[] drop1(long[] s) {
        long[] n = new long[s.length - 1];
        n[0] = s[0];
        System.arraycopy(s, 2, n, 1, s.length - 2);
        return n;
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("opsAndBackends")
    void emptySequenceReturnsEmptyOutputAndUnchangedState(LinearOp op, Backend backend, DataType type, double tol) {
        LinearInputs in = LinearTestData.random(op, 2, 0, 3, 4, 5, true, type, 13);
        LinearForward f = LinearOps.forward(LinearOpConfig.of(op).withBackend(backend), in, true);
        assertArrayEquals(new long[] {2, 0, 3, 5}, f.o().shape());
        assertClose("state", f.finalState(), in.initialState(), 0);
        LinearGrads g = LinearOps.backward(f, null, LinearTestData.randn(type, 1, 2, 3, 4, 5));
        assertArrayEquals(new long[] {2, 0, 3, 4}, g.dq().shape());
    }

    @Test
    void badShapesAreRejectedWithTheirNames() {
        LinearInputs in = LinearTestData.random(LinearOp.GATED_DELTA_RULE, 2, 10, 4, 8, 6, false, DataType.FLOAT, 1);
        LinearOpConfig cfg = LinearOpConfig.of(LinearOp.GATED_DELTA_RULE);
        var e = assertThrows(IllegalArgumentException.class, () -> LinearOps.forward(cfg,
                new LinearInputs(in.q(), Nd4j.zeros(DataType.FLOAT, 2, 10, 3, 8), in.v(), in.g(), null, in.beta(), null),
                false));
        assertEquals("k has shape [2, 10, 3, 8], expected [B, T, H, Dk] = [2, 10, 4, 8]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> LinearOps.forward(cfg,
                new LinearInputs(in.q(), in.k(), in.v(), in.g(), null, null, null), false));
        assertTrue(e.getMessage().contains("needs beta"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> LinearOps.forward(LinearOpConfig.of(LinearOp.LINEAR_ATTN),
                new LinearInputs(in.q(), in.k(), in.v(), in.g(), null, null, null), false));
        assertTrue(e.getMessage().contains("takes no g"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> LinearOps.forward(cfg,
                in.withInitialState(Nd4j.zeros(DataType.FLOAT, 2, 4, 6, 8)), false));
        assertTrue(e.getMessage().startsWith("initial_state has shape [2, 4, 6, 8]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> LinearOps.forward(cfg,
                new LinearInputs(in.q().reshape(20, 4, 8), in.k(), in.v(), in.g(), null, in.beta(), null), false));
        assertTrue(e.getMessage().startsWith("q has shape [20, 4, 8], expected [B, T, H, Dk]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> LinearOpConfig.of(LinearOp.GLA).withChunkSize(0));
        e = assertThrows(IllegalArgumentException.class, () -> LinearOp.byName("mamba"));
        assertTrue(e.getMessage().contains("gated_delta_rule"), e.getMessage());
    }

    @Test
    void nanInputsAreRejectedWhenCheckingIsOn() {
        LinearInputs in = LinearTestData.random(LinearOp.SIMPLE_GLA, 1, 5, 2, 4, 4, false, DataType.FLOAT, 2);
        in.v().putScalar(new long[] {0, 3, 1, 2}, Float.NaN);
        var e = assertThrows(IllegalArgumentException.class,
                () -> LinearOps.forward(LinearOpConfig.of(LinearOp.SIMPLE_GLA).withCheckFinite(true), in, false));
        assertTrue(e.getMessage().startsWith("v contains NaN at flat index"), e.getMessage());
    }
}
