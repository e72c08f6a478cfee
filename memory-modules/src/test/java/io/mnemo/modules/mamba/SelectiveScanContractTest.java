package io.mnemo.modules.mamba;

import static io.mnemo.modules.mamba.ScanTestData.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.kernel.Backend;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** Pieces with carried state == one pass == L steps; empty sequences; bad inputs named in messages. */
class SelectiveScanContractTest {
    static List<Arguments> backendsAndVariants() {
        List<Arguments> r = new ArrayList<>();
        for (Backend be : SelectiveScanTestBackends.ALL) {
            for (ScanTestData.Variant v : ScanTestData.VARIANTS) {
                r.add(Arguments.of(be, v));
            }
        }
        return r;
    }

    /** Time slice [t0, t1) of an operand in its own layout (shared operands are returned as they are). */
    static INDArray slice(INDArray x, int t0, int t1) {
        if (x == null || x.rank() == 2) {
            return x;
        }
        NDArrayIndex[] idx = new NDArrayIndex[x.rank()];
        org.nd4j.linalg.indexing.INDArrayIndex[] ix = new org.nd4j.linalg.indexing.INDArrayIndex[x.rank()];
        for (int i = 0; i < x.rank() - 1; i++) {
            ix[i] = NDArrayIndex.all();
        }
        ix[x.rank() - 1] = NDArrayIndex.interval(t0, t1);
        return x.get(ix).dup('c');
    }

    static SelectiveScanInputs piece(SelectiveScanInputs in, int t0, int t1, INDArray state) {
        return new SelectiveScanInputs(slice(in.u(), t0, t1), slice(in.delta(), t0, t1), in.a(), slice(in.b(), t0, t1),
                slice(in.c(), t0, t1), in.d(), slice(in.z(), t0, t1), in.deltaBias(), state);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("backendsAndVariants")
    void piecesWithCarriedStateEqualOnePass(Backend be, ScanTestData.Variant v) {
        int l = 63;
        SelectiveScanInputs in = ScanTestData.random(v, 2, 8, l, 5, true, DataType.FLOAT, 21);
        SelectiveScanConfig cfg = ScanTestData.config(v).withBackend(be).withChunkSize(16);
        SelectiveScanForward whole = SelectiveScan.forward(cfg, in, false);
        int[] cuts = {0, 1, 20, 21, 63};
        INDArray state = in.initialState();
        List<INDArray> outs = new ArrayList<>();
        for (int i = 0; i + 1 < cuts.length; i++) {
            SelectiveScanForward p = SelectiveScan.forward(cfg, piece(in, cuts[i], cuts[i + 1], state), false);
            outs.add(p.out());
            state = p.lastState();
        }
        assertClose(be + " " + v + " out", Nd4j.concat(2, outs.toArray(new INDArray[0])), whole.out(), 1e-5);
        assertClose(be + " " + v + " last_state", state, whole.lastState(), 1e-5);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("backendsAndVariants")
    void stepsEqualForward(Backend be, ScanTestData.Variant v) {
        int l = 7;
        int b = 2;
        int d = 8;
        SelectiveScanInputs in = ScanTestData.random(v, b, d, l, 5, true, DataType.FLOAT, 22);
        SelectiveScanConfig cfg = ScanTestData.config(v).withBackend(be);
        SelectiveScanForward whole = SelectiveScan.forward(cfg, in, false);
        INDArray state = in.initialState();
        for (int t = 0; t < l; t++) {
            SelectiveScanInputs p = piece(in, t, t + 1, state);
            SelectiveScan.Step s = SelectiveScan.step(cfg, p.u().reshape(b, d), p.delta().reshape(b, d), in.a(),
                    token(p.b()), token(p.c()), in.d(), p.z() == null ? null : p.z().reshape(b, d), in.deltaBias(),
                    state);
            assertClose(be + " " + v + " out at t=" + t, s.out(),
                    whole.out().get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(t)), 1e-5);
            state = s.state();
        }
        assertClose(be + " " + v + " last_state", state, whole.lastState(), 1e-5);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.mnemo.modules.mamba.ScanTestData#variants")
    void stepperEqualsForward(ScanTestData.Variant v) {
        int l = 9;
        int b = 2;
        int d = 8;
        SelectiveScanInputs in = ScanTestData.random(v, b, d, l, 5, true, DataType.FLOAT, 26);
        SelectiveScanConfig cfg = ScanTestData.config(v).withBackend(Backend.REFERENCE);
        SelectiveScanForward whole = SelectiveScan.forward(cfg, in, false);
        boolean sb = in.b().rank() == 2;
        boolean sc = in.c().rank() == 2;
        SelectiveScanStepper st = new SelectiveScanStepper(cfg, in.a(), sb ? in.b() : null, sc ? in.c() : null, in.d(),
                in.deltaBias(), b, in.initialState());
        INDArray dst = Nd4j.create(DataType.FLOAT, b, d).assign(Float.NaN);
        for (int t = 0; t < l; t++) {
            SelectiveScanInputs p = piece(in, t, t + 1, null);
            INDArray o = st.step(p.u().reshape(b, d), p.delta().reshape(b, d), sb ? null : token(p.b()),
                    sc ? null : token(p.c()), p.z() == null ? null : p.z().reshape(b, d), dst);
            assertClose(v + " stepper out at t=" + t, o,
                    whole.out().get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(t)), 1e-5);
        }
        assertClose(v + " stepper state", st.state(), whole.lastState(), 1e-5);
    }

    /** A one-token operand without its L axis: [D, N] stays, [B, N, 1] → [B, N], [B, G, N, 1] → [B, G, N]. */
    private static INDArray token(INDArray x) {
        return switch (x.rank()) {
            case 2 -> x;
            case 3 -> x.reshape(x.size(0), x.size(1));
            default -> x.reshape(x.size(0), x.size(1), x.size(2));
        };
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.mnemo.modules.mamba.SelectiveScanTestBackends#all")
    void emptySequenceReturnsEmptyOutputAndUnchangedState(Backend be) {
        ScanTestData.Variant v = ScanTestData.VARIANTS.get(1);
        SelectiveScanInputs full = ScanTestData.random(v, 2, 4, 3, 5, true, DataType.FLOAT, 23);
        SelectiveScanInputs in = new SelectiveScanInputs(Nd4j.create(DataType.FLOAT, 2, 4, 0),
                Nd4j.create(DataType.FLOAT, 2, 4, 0), full.a(), Nd4j.create(DataType.FLOAT, 2, 5, 0),
                Nd4j.create(DataType.FLOAT, 2, 5, 0), full.d(), Nd4j.create(DataType.FLOAT, 2, 4, 0), full.deltaBias(),
                full.initialState());
        SelectiveScanConfig cfg = ScanTestData.config(v).withBackend(be);
        SelectiveScanForward f = SelectiveScan.forward(cfg, in, true);
        assertEquals(0, f.out().length());
        assertClose("last_state", f.lastState(), full.initialState(), 0);
        INDArray dLast = ScanTestData.randn(DataType.FLOAT, 3, 2, 4, 5);
        SelectiveScanGrads g = SelectiveScan.backward(f, null, dLast);
        assertClose("dinitial_state", g.dInitialState(), dLast, 0);
        assertEquals(0, g.du().length());
        assertEquals(0.0, g.dA().amaxNumber().doubleValue());
    }

    @Test
    void badShapesAreRejectedWithTheirNames() {
        ScanTestData.Variant v = ScanTestData.VARIANTS.get(1);
        SelectiveScanInputs ok = ScanTestData.random(v, 2, 8, 5, 4, true, DataType.FLOAT, 24);
        SelectiveScanConfig cfg = SelectiveScanConfig.of().withBackend(Backend.CPU);
        expect("u has shape [2, 8], expected [B, D, L]", () -> SelectiveScan.forward(cfg,
                new SelectiveScanInputs(Nd4j.create(DataType.FLOAT, 2, 8), ok.delta(), ok.a(), ok.b(), ok.c(), null,
                        null, null, null), false));
        expect("delta has shape [2, 8, 4], expected [B, D, L] = [2, 8, 5]", () -> SelectiveScan.forward(cfg,
                new SelectiveScanInputs(ok.u(), Nd4j.create(DataType.FLOAT, 2, 8, 4), ok.a(), ok.b(), ok.c(), null,
                        null, null, null), false));
        expect("A has shape [7, 4], expected [D, N] = [8, *]", () -> SelectiveScan.forward(cfg,
                new SelectiveScanInputs(ok.u(), ok.delta(), Nd4j.create(DataType.FLOAT, 7, 4), ok.b(), ok.c(), null,
                        null, null, null), false));
        expect("B has shape [2, 3, 4, 5], expected [D, N] = [8, 4], [B, N, L] = [2, 4, 5] or [B, G, N, L] = "
                + "[2, G, 4, 5] with G dividing D=8", () -> SelectiveScan.forward(cfg,
                new SelectiveScanInputs(ok.u(), ok.delta(), ok.a(), Nd4j.create(DataType.FLOAT, 2, 3, 4, 5), ok.c(),
                        null, null, null, null), false));
        expect("C has shape [2, 4, 6]", () -> SelectiveScan.forward(cfg,
                new SelectiveScanInputs(ok.u(), ok.delta(), ok.a(), ok.b(), Nd4j.create(DataType.FLOAT, 2, 4, 6),
                        null, null, null, null), false));
        expect("C is missing", () -> SelectiveScan.forward(cfg,
                new SelectiveScanInputs(ok.u(), ok.delta(), ok.a(), ok.b(), null, null, null, null, null), false));
        expect("D has shape [7], expected [D] = [8]", () -> SelectiveScan.forward(cfg,
                ok.withOptional(Nd4j.create(DataType.FLOAT, 7), null, null), false));
        expect("z has shape [2, 8, 4], expected [B, D, L] = [2, 8, 5]", () -> SelectiveScan.forward(cfg,
                ok.withOptional(null, Nd4j.create(DataType.FLOAT, 2, 8, 4), null), false));
        expect("delta_bias has shape [2], expected [D] = [8]", () -> SelectiveScan.forward(cfg,
                ok.withOptional(null, null, Nd4j.create(DataType.FLOAT, 2)), false));
        expect("initial_state has shape [2, 8, 5], expected [B, D, N] = [2, 8, 4]", () -> SelectiveScan.forward(cfg,
                ok.withInitialState(Nd4j.create(DataType.FLOAT, 2, 8, 5)), false));
        expect("A has data type DOUBLE, expected FLOAT like u", () -> SelectiveScan.forward(cfg,
                new SelectiveScanInputs(ok.u(), ok.delta(), ok.a().castTo(DataType.DOUBLE), ok.b(), ok.c(), null,
                        null, null, null), false));
        expect("chunkSize must be > 0, got 0", () -> cfg.withChunkSize(0));
        SelectiveScanForward f = SelectiveScan.forward(cfg, ok, true);
        expect("dout has shape [2, 8, 4], expected [B, D, L] = [2, 8, 5]",
                () -> SelectiveScan.backward(f, Nd4j.create(DataType.FLOAT, 2, 8, 4), null));
        expect("dlast_state has shape [2, 8], expected [B, D, N] = [2, 8, 4]",
                () -> SelectiveScan.backward(f, null, Nd4j.create(DataType.FLOAT, 2, 8)));
        SelectiveScanForward noSave = SelectiveScan.forward(cfg, ok, false);
        expect("backward needs a forward pass run with save=true", () -> SelectiveScan.backward(noSave, null, null));
    }

    @Test
    void stepperRejectsBadTokens() {
        ScanTestData.Variant v = ScanTestData.VARIANTS.get(1);
        SelectiveScanInputs in = ScanTestData.random(v, 2, 8, 3, 4, false, DataType.FLOAT, 27);
        SelectiveScanStepper st = new SelectiveScanStepper(ScanTestData.config(v), in.a(), null, null, null, null, 2,
                null);
        INDArray u = Nd4j.zeros(DataType.FLOAT, 2, 8);
        expect("B is missing, expected [B, N] = [2, 4] or [B, G, N] with G dividing D=8",
                () -> st.step(u, u, null, Nd4j.zeros(DataType.FLOAT, 2, 4), null, null));
        expect("C has shape [2, 3, 4], expected [B, N] = [2, 4] or [B, G, N] = [2, G, 4] with G dividing D=8",
                () -> st.step(u, u, Nd4j.zeros(DataType.FLOAT, 2, 4), Nd4j.zeros(DataType.FLOAT, 2, 3, 4), null, null));
        expect("u has shape [2, 7], expected [B, D] = [2, 8]",
                () -> st.step(Nd4j.zeros(DataType.FLOAT, 2, 7), u, null, null, null, null));
    }

    @Test
    void nanInputsAreRejectedWhenCheckingIsOn() {
        SelectiveScanInputs ok = ScanTestData.random(ScanTestData.VARIANTS.get(0), 1, 2, 3, 2, false, DataType.FLOAT,
                25);
        INDArray bad = ok.delta().dup();
        bad.putScalar(new long[] {0, 1, 2}, Float.NaN);
        SelectiveScanInputs in = new SelectiveScanInputs(ok.u(), bad, ok.a(), ok.b(), ok.c(), null, null, null, null);
        expect("delta contains NaN at flat index 5", () -> SelectiveScan.forward(
                SelectiveScanConfig.of().withBackend(Backend.CPU).withCheckFinite(true), in, false));
    }

    private static void expect(String fragment, org.junit.jupiter.api.function.Executable e) {
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, e);
        assertTrue(ex.getMessage().contains(fragment), "message '" + ex.getMessage() + "' lacks '" + fragment + "'");
    }
}
