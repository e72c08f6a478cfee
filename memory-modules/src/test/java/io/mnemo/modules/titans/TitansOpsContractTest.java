package io.mnemo.modules.titans;

import static io.mnemo.modules.titans.TitansTestData.assertClose;
import static io.mnemo.modules.titans.TitansTestData.assertGradsClose;
import static io.mnemo.modules.titans.TitansTestData.assertStateClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.kernel.Backend;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** State carrying (pieces, steps, gradients through pieces), empty sequences and bad inputs. */
class TitansOpsContractTest {
    private static final int B = 2;
    private static final int H = 2;
    private static final int D = 4;

    static Stream<Arguments> configs() {
        List<Arguments> out = new ArrayList<>();
        for (Backend be : new Backend[] {Backend.REFERENCE, Backend.CPU, Backend.ND4J}) {
            for (int depth : new int[] {1, 2}) {
                for (TitansReadMode read : TitansReadMode.values()) {
                    for (int c : new int[] {1, 3, 5}) {
                        out.add(Arguments.of(be, TitansOpConfig.defaults().withBackend(be).withDepth(depth)
                                .withReadMode(read).withChunkSize(c).withExpansion(2).withMaxGradNorm(1.2)));
                    }
                }
            }
            out.add(Arguments.of(be, TitansOpConfig.defaults().withBackend(be).withChunkSize(4).withMomentum(false)
                    .withGatesAndRead(TitansGateGranularity.CHUNK, TitansReadMode.COMMITTED)));
        }
        return out.stream();
    }

    /** fp64 reference: 1e-10 (DESIGN.md §1); the float kernels (cpu, nd4j on FLOAT inputs): 1e-5 relative. */
    private static double tol(Backend be) {
        return be == Backend.REFERENCE ? 1e-10 : 1e-5;
    }

    private static DataType type(Backend be) {
        return be == Backend.REFERENCE ? DataType.DOUBLE : DataType.FLOAT;
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("configs")
    void piecesWithCarriedStateEqualOnePass(Backend be, TitansOpConfig cfg) {
        int t = 17;
        TitansInputs in = TitansTestData.random(cfg, B, t, H, D, true, 0, type(be), 11);
        TitansForward whole = TitansOps.forward(cfg, in, true);
        INDArray dY = TitansTestData.randn(type(be), 12, B, t, H, D);
        TitansState dFin = TitansTestData.randomLike(whole.finalState(), 13);
        TitansGrads gWhole = TitansOps.backward(whole, dY, dFin);

        // uneven cuts, including an empty piece and pieces of length 1
        int[] cuts = {0, 1, 1, 5, 6, 13, t};
        List<TitansForward> fs = new ArrayList<>();
        TitansState s = in.initialState();
        for (int i = 0; i + 1 < cuts.length; i++) {
            TitansForward f = TitansOps.forward(cfg, TitansTestData.piece(in, cuts[i], cuts[i + 1], s), true);
            fs.add(f);
            s = f.finalState();
        }
        INDArray y = Nd4j.concat(1, fs.stream().map(TitansForward::y).filter(a -> a.size(1) > 0).toArray(INDArray[]::new));
        assertClose(cfg + " y", y, whole.y(), tol(be));
        assertStateClose(cfg + " final state", s, whole.finalState(), tol(be));

        // gradients through the pieces: each piece's dInitialState is the previous piece's dFinalState
        TitansState g = dFin;
        List<TitansGrads> gs = new ArrayList<>();
        for (int i = fs.size() - 1; i >= 0; i--) {
            TitansGrads gi = TitansOps.backward(fs.get(i), TitansTestData.slice(dY, cuts[i], cuts[i + 1]), g);
            gs.add(0, gi);
            g = gi.dInitialState();
        }
        assertClose(cfg + " dq", cat(gs, TitansGrads::dq), gWhole.dq(), tol(be));
        assertClose(cfg + " dk", cat(gs, TitansGrads::dk), gWhole.dk(), tol(be));
        assertClose(cfg + " dv", cat(gs, TitansGrads::dv), gWhole.dv(), tol(be));
        assertClose(cfg + " dTheta", cat(gs, TitansGrads::dTheta), gWhole.dTheta(), tol(be));
        assertClose(cfg + " dAlpha", cat(gs, TitansGrads::dAlpha), gWhole.dAlpha(), tol(be));
        if (cfg.momentum()) {
            assertClose(cfg + " dEta", cat(gs, TitansGrads::dEta), gWhole.dEta(), tol(be));
        }
        assertStateClose(cfg + " dInitialState", g, gWhole.dInitialState(), tol(be));
    }

    private static INDArray cat(List<TitansGrads> gs, java.util.function.Function<TitansGrads, INDArray> f) {
        return Nd4j.concat(1, gs.stream().map(f).filter(a -> a.size(1) > 0).toArray(INDArray[]::new));
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("configs")
    void stepsEqualForward(Backend be, TitansOpConfig cfg) {
        int t = 11;
        TitansInputs in = TitansTestData.random(cfg, B, t, H, D, true, 0, type(be), 21);
        TitansForward whole = TitansOps.forward(cfg, in, false);
        TitansState s = in.initialState();
        List<INDArray> ys = new ArrayList<>();
        for (int i = 0; i < t; i++) {
            TitansForward f = TitansOps.step(cfg, tok(in.q(), i), tok(in.k(), i), tok(in.v(), i), tok(in.theta(), i),
                    tok(in.eta(), i), tok(in.alpha(), i), s);
            assertEquals(List.of((long) B, 1L, (long) H, (long) D), List.of(f.y().shape()[0], f.y().shape()[1],
                    f.y().shape()[2], f.y().shape()[3]));
            ys.add(f.y());
            s = f.finalState();
            assertEquals((i + 1) % cfg.chunkSize(), s.buffered(), "open chunk after token " + i);
        }
        assertClose(cfg + " y", Nd4j.concat(1, ys.toArray(INDArray[]::new)), whole.y(), tol(be));
        assertStateClose(cfg + " state", s, whole.finalState(), tol(be));
    }

    /** The stepper is the float cpu path; it is compared with the cpu forward. */
    static Stream<Arguments> cpuConfigs() {
        return configs().filter(a -> a.get()[0] == Backend.CPU);
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("cpuConfigs")
    void stepperEqualsForward(Backend be, TitansOpConfig cfg) {
        int t = 13;
        int buffered = cfg.chunkSize() > 2 ? 2 : 0;
        TitansInputs in = TitansTestData.random(cfg, B, t, H, D, true, buffered, DataType.FLOAT, 23);
        TitansForward whole = TitansOps.forward(cfg, in, false);
        TitansStepper st = new TitansStepper(cfg, B, H, D, in.initialState());
        List<INDArray> ys = new ArrayList<>();
        INDArray out = Nd4j.create(DataType.FLOAT, B, H, D).assign(Double.NaN);
        for (int i = 0; i < t; i++) {
            INDArray y = st.step(tok(in.q(), i), tok(in.k(), i), tok(in.v(), i), tok(in.theta(), i), tok(in.eta(), i),
                    tok(in.alpha(), i), i % 2 == 0 ? null : out);
            ys.add(y.dup().reshape(B, 1, H, D));
            if (i == 6) {
                // the exported state continues the sequence like the forward's own state
                TitansForward head = TitansOps.forward(cfg, TitansTestData.piece(in, 0, 7, in.initialState()), false);
                assertStateClose(cfg + " state after 7", st.state(), head.finalState(), 1e-6);
            }
        }
        assertClose(cfg + " y", Nd4j.concat(1, ys.toArray(INDArray[]::new)), whole.y(), 1e-6);
        assertStateClose(cfg + " state", st.state(), whole.finalState(), 1e-6);
        assertEquals((buffered + t) % cfg.chunkSize(), st.buffered());
    }

    private static INDArray tok(INDArray a, int i) {
        if (a == null) {
            return null;
        }
        INDArray p = TitansTestData.slice(a, i, i + 1);
        long[] s = p.shape();
        long[] n = new long[s.length - 1];
        n[0] = s[0];
        System.arraycopy(s, 2, n, 1, s.length - 2);
        return p.reshape(n);
    }

    @ParameterizedTest
    @EnumSource(value = Backend.class, names = {"REFERENCE", "CPU", "ND4J"})
    void emptySequenceReturnsEmptyOutputAndUnchangedState(Backend be) {
        TitansOpConfig cfg = TitansOpConfig.defaults().withBackend(be).withChunkSize(4);
        TitansInputs full = TitansTestData.random(cfg, B, 3, H, D, true, 2, type(be), 31);
        TitansInputs in = TitansTestData.piece(full, 0, 0, full.initialState());
        TitansForward f = TitansOps.forward(cfg, in, true);
        assertEquals(0, f.y().size(1));
        assertStateClose("state", f.finalState(), in.initialState(), 0);
        TitansState dFin = TitansTestData.randomLike(f.finalState(), 32);
        TitansGrads g = TitansOps.backward(f, null, dFin);
        assertEquals(0, g.dq().size(1));
        assertStateClose("dInitialState", g.dInitialState(), dFin, 0);
    }

    @ParameterizedTest
    @EnumSource(value = Backend.class, names = {"REFERENCE", "CPU", "ND4J"})
    void nullPartsOfTheFinalStateGradientAreZeros(Backend be) {
        TitansOpConfig cfg = TitansOpConfig.defaults().withBackend(be).withChunkSize(4).withExpansion(2);
        TitansInputs in = TitansTestData.random(cfg, B, 6, H, D, true, 1, type(be), 45);
        TitansForward f = TitansOps.forward(cfg, in, true);
        TitansState full = TitansTestData.randomLike(f.finalState(), 46);
        TitansState zeros = new TitansState(List.of(full.memory().get(0), full.memory().get(1).mul(0)),
                full.momentum().stream().map(a -> a.mul(0)).toList(), full.bufK(), full.bufV().mul(0),
                full.bufTheta().mul(0), full.bufEta().mul(0), full.bufAlpha().mul(0));
        java.util.List<INDArray> mem = new ArrayList<>();
        mem.add(full.memory().get(0));
        mem.add(null);
        TitansState partial = new TitansState(mem, null, full.bufK(), null, null, null, null);
        assertGradsClose("partial", TitansOps.backward(f, null, partial), TitansOps.backward(f, null, zeros), 0);
    }

    @ParameterizedTest
    @EnumSource(value = Backend.class, names = {"REFERENCE", "CPU", "ND4J"})
    void nullStateIsZeroMemoryAndEmptyBuffer(Backend be) {
        TitansOpConfig cfg = TitansOpConfig.defaults().withBackend(be).withDepth(1).withChunkSize(4);
        TitansInputs in = TitansTestData.random(cfg, B, 6, H, D, false, 0, type(be), 41);
        TitansForward a = TitansOps.forward(cfg, in, true);
        TitansForward z = TitansOps.forward(cfg, in.withInitialState(TitansState.zeros(cfg, B, H, D, type(be))), true);
        assertClose("y", a.y(), z.y(), 0);
        assertStateClose("state", a.finalState(), z.finalState(), 0);
        assertEquals(2, a.finalState().buffered());
        INDArray dY = TitansTestData.randn(type(be), 42, B, 6, H, D);
        assertGradsClose("grads", TitansOps.backward(a, dY, null), TitansOps.backward(z, dY, null), 0);
    }

    @Test
    void committedReadIgnoresTheOwnChunkAndPerTokenReadSeesIt() {
        // depth 1, C = 4: a COMMITTED read of the first chunk sees only the initial memory; PER_TOKEN sees the writes
        TitansOpConfig cfg = TitansOpConfig.defaults().withBackend(Backend.REFERENCE).withDepth(1).withChunkSize(4);
        TitansInputs in = TitansTestData.random(cfg, 1, 8, 1, D, true, 0, DataType.DOUBLE, 51);
        TitansForward committed = TitansOps.forward(cfg.withReadMode(TitansReadMode.COMMITTED), in, false);
        TitansForward perToken = TitansOps.forward(cfg, in, false);
        INDArray w0 = in.initialState().memory().get(0).reshape(D, D);
        for (int t = 0; t < 4; t++) {
            INDArray q = in.q().get(org.nd4j.linalg.indexing.NDArrayIndex.point(0),
                    org.nd4j.linalg.indexing.NDArrayIndex.point(t)).reshape(D, 1);
            INDArray expected = w0.mmul(q).reshape(1, 1, 1, D);
            INDArray got = TitansTestData.slice(committed.y(), t, t + 1);
            assertClose("committed y_" + t, got, expected, 1e-12);
            assertTrue(TitansTestData.relErr(TitansTestData.slice(perToken.y(), t, t + 1), expected) > 1e-6,
                    "per-token read of token " + t + " should see the chunk's writes");
        }
    }

    @Test
    void badInputsAreRejectedWithTheirNames() {
        TitansOpConfig cfg = TitansOpConfig.defaults().withBackend(Backend.REFERENCE).withChunkSize(4);
        TitansInputs in = TitansTestData.random(cfg, B, 5, H, D, true, 2, DataType.DOUBLE, 61);
        msg("chunkSize must be > 0", () -> cfg.withChunkSize(0));
        msg("depth must be >= 1", () -> cfg.withDepth(0));
        msg("needs readMode=COMMITTED", () -> cfg.withGates(TitansGateGranularity.CHUNK));
        msg("maxGradNorm", () -> cfg.withMaxGradNorm(-1));
        msg("k has shape [2, 5, 2, 3]", () -> TitansOps.forward(cfg, new TitansInputs(in.q(), in.k().get(
                org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.all(),
                org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 3)).dup(),
                in.v(), in.theta(), in.eta(), in.alpha(), in.initialState()), false));
        msg("q has shape [2, 5, 2]", () -> TitansOps.forward(cfg, new TitansInputs(in.theta(), in.k(), in.v(),
                in.theta(), in.eta(), in.alpha(), null), false));
        msg("theta is missing", () -> TitansOps.forward(cfg, new TitansInputs(in.q(), in.k(), in.v(), null, in.eta(),
                in.alpha(), null), false));
        msg("eta is missing", () -> TitansOps.forward(cfg, new TitansInputs(in.q(), in.k(), in.v(), in.theta(), null,
                in.alpha(), null), false));
        msg("eta was given but the op runs without momentum", () -> TitansOps.forward(cfg.withMomentum(false),
                new TitansInputs(in.q(), in.k(), in.v(), in.theta(), in.eta(), in.alpha(), null), false));
        msg("initial_state.memory has 2 layers, expected depth=1", () -> TitansOps.forward(cfg.withDepth(1), in, false));
        msg("initial_state.memory[0] has shape", () -> TitansOps.forward(cfg.withExpansion(2), in, false));
        msg("initial_state.bufK holds 2 tokens, expected fewer than chunkSize=2",
                () -> TitansOps.forward(cfg.withChunkSize(2), in, false));
        TitansOpConfig checked = cfg.withCheckInputs(true);
        msg("theta holds -0.5", () -> TitansOps.forward(checked, new TitansInputs(in.q(), in.k(), in.v(),
                in.theta().sub(in.theta()).subi(0.5), in.eta(), in.alpha(), null), false));
        msg("eta holds 1.5", () -> TitansOps.forward(checked, new TitansInputs(in.q(), in.k(), in.v(), in.theta(),
                in.eta().mul(0).addi(1.5), in.alpha(), null), false));
        msg("alpha holds NaN", () -> TitansOps.forward(checked, new TitansInputs(in.q(), in.k(), in.v(), in.theta(),
                in.eta(), in.alpha().dup().assign(Double.NaN), null), false));
        msg("q contains NaN", () -> TitansOps.forward(checked, new TitansInputs(in.q().dup().assign(Double.NaN), in.k(), in.v(),
                in.theta(), in.eta(), in.alpha(), null), false));
        msg("initial_state.bufAlpha holds 2.0", () -> TitansOps.forward(checked, in.withInitialState(new TitansState(
                in.initialState().memory(), in.initialState().momentum(), in.initialState().bufK(),
                in.initialState().bufV(), in.initialState().bufTheta(), in.initialState().bufEta(),
                in.initialState().bufAlpha().mul(0).addi(2))), false));
        // unchecked, the same gates run (the caller is trusted)
        TitansOps.forward(cfg, new TitansInputs(in.q(), in.k(), in.v(), in.theta(), in.eta().mul(0).addi(1.5),
                in.alpha(), null), false);
        TitansForward f = TitansOps.forward(cfg, in, false);
        msg("needs a forward pass run with save=true", () -> TitansOps.backward(f, null, null));
        msg("dY has shape", () -> TitansOps.backward(f, in.q().get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
                org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 2)).dup(), null));
        assertNull(f.saved());
    }

    private static void msg(String expected, org.junit.jupiter.api.function.Executable e) {
        Exception ex = assertThrows(RuntimeException.class, e);
        assertTrue(ex.getMessage() != null && ex.getMessage().contains(expected),
                "expected a message containing '" + expected + "', got: " + ex.getMessage());
    }
}
