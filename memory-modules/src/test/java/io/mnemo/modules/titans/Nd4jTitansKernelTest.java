package io.mnemo.modules.titans;

import static io.mnemo.modules.titans.TitansTestData.assertClose;
import static io.mnemo.modules.titans.TitansTestData.assertGradsClose;
import static io.mnemo.modules.titans.TitansTestData.assertStateClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.kernel.Backend;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.executioner.OpExecutioner;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The nd4j backend beyond the parity grid: gates at the ends of their ranges (α = 1 and η = 0 make the
 * cumulative products of the chunked form exactly zero), empty sequences, retrieval without writes
 * ({@link TitansOps#read}), backend selection, and inputs left untouched. Pieces with the carried state and
 * steps are checked for every backend in {@link TitansOpsContractTest}.
 */
class Nd4jTitansKernelTest {
    private static final int B = 2;
    private static final int H = 2;
    private static final int D = 4;

    /**
     * α = 1 (a = 0: the memory forgets everything), α = 0, η = 0 (momentum reset) and η = 1 on some tokens; the
     * nd4j kernel takes the cumulative decays in log space with a floor, whose derivative must still equal the
     * reference's (products with one zero factor have a non-zero derivative).
     */
    @ParameterizedTest(name = "depth={0} C={1} {2} {3}")
    @CsvSource({"1, 4, PER_TOKEN, DOUBLE", "2, 4, PER_TOKEN, DOUBLE", "2, 5, COMMITTED, DOUBLE", "2, 4, PER_TOKEN, FLOAT",
        "1, 16, PER_TOKEN, FLOAT"})
    void gatesAtTheirBoundsMatchTheReference(int depth, int c, TitansReadMode read, DataType type) {
        TitansOpConfig cfg = TitansOpConfig.defaults().withDepth(depth).withChunkSize(c).withReadMode(read)
                .withExpansion(2).withMaxGradNorm(1.2);
        int t = 23;
        TitansInputs r = TitansTestData.random(cfg, B, t, H, D, true, 2, type, 61);
        INDArray alpha = r.alpha().dup();
        INDArray eta = r.eta().dup();
        alpha.get(NDArrayIndex.all(), NDArrayIndex.point(3), NDArrayIndex.point(0)).assign(1.0);
        alpha.get(NDArrayIndex.all(), NDArrayIndex.point(9), NDArrayIndex.all()).assign(0.0);
        alpha.get(NDArrayIndex.point(1), NDArrayIndex.point(10), NDArrayIndex.all()).assign(1.0);
        eta.get(NDArrayIndex.all(), NDArrayIndex.point(5), NDArrayIndex.point(1)).assign(0.0);
        eta.get(NDArrayIndex.all(), NDArrayIndex.point(6), NDArrayIndex.all()).assign(0.0);
        eta.get(NDArrayIndex.all(), NDArrayIndex.point(2), NDArrayIndex.all()).assign(1.0);
        TitansInputs in = new TitansInputs(r.q(), r.k(), r.v(), r.theta(), eta, alpha, r.initialState());
        TitansForward ref = TitansOps.forward(cfg.withBackend(Backend.REFERENCE), in, true);
        TitansForward got = TitansOps.forward(cfg.withBackend(Backend.ND4J), in, true);
        double tol = type == DataType.DOUBLE ? 1e-9 : 1e-4;
        assertClose("y", got.y(), ref.y(), tol);
        assertStateClose("final state", got.finalState(), ref.finalState(), tol);
        INDArray dY = TitansTestData.randn(type, 62, B, t, H, D);
        TitansState dFin = TitansTestData.randomLike(ref.finalState(), 63);
        TitansGrads gr = TitansOps.backward(ref, dY, dFin);
        TitansGrads gg = TitansOps.backward(got, dY, dFin);
        assertGradsClose("gates at bounds", gg, gr, tol);
        // the bound tokens do receive gradient (the floor must not zero it)
        assertTrue(Math.abs(gr.dAlpha().getDouble(0, 3, 0)) > 1e-6, "reference dAlpha at α = 1 is non-zero");
        assertTrue(Math.abs(gr.dEta().getDouble(0, 6, 0)) > 1e-6, "reference dEta at η = 0 is non-zero");
    }

    /**
     * The chunk loops keep their temporaries in loop workspaces ({@code LoopWorkspace}); nothing allocated in one
     * chunk's scope may be read after it closes. ND4J's SCOPE_PANIC mode fails any op that touches such an array,
     * and the results must still equal the reference (a leaked array would have been overwritten by the next chunk).
     */
    @ParameterizedTest(name = "depth={0} {1} momentum={2}")
    @CsvSource({"1, PER_TOKEN, true", "2, PER_TOKEN, true", "2, COMMITTED, true", "2, PER_TOKEN, false"})
    void chunkWorkspacesLeakNothing(int depth, TitansReadMode read, boolean momentum) {
        TitansOpConfig cfg = TitansOpConfig.defaults().withDepth(depth).withChunkSize(4).withReadMode(read)
                .withExpansion(2).withMomentum(momentum).withMaxGradNorm(1.5);
        int t = 19;
        TitansInputs in = TitansTestData.random(cfg, B, t, H, D, true, 2, DataType.DOUBLE, 71);
        TitansForward ref = TitansOps.forward(cfg.withBackend(Backend.REFERENCE), in, true);
        INDArray dY = TitansTestData.randn(DataType.DOUBLE, 72, B, t, H, D);
        TitansState dFin = TitansTestData.randomLike(ref.finalState(), 73);
        TitansGrads gr = TitansOps.backward(ref, dY, dFin);
        OpExecutioner ex = Nd4j.getExecutioner();
        OpExecutioner.ProfilingMode before = ex.getProfilingMode();
        ex.setProfilingMode(OpExecutioner.ProfilingMode.SCOPE_PANIC);
        try {
            for (int rep = 0; rep < 2; rep++) { // the second pass runs in the learned (reused) workspace
                TitansForward got = TitansOps.forward(cfg.withBackend(Backend.ND4J), in, true);
                TitansGrads gg = TitansOps.backward(got, dY, dFin);
                assertClose("y", got.y(), ref.y(), 1e-9);
                assertStateClose("final state", got.finalState(), ref.finalState(), 1e-9);
                assertGradsClose("grads", gg, gr, 1e-9);
            }
        } finally {
            ex.setProfilingMode(before);
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"PER_TOKEN", "COMMITTED"})
    void emptySequenceWithOpenChunkKeepsTheStateAndPassesItsGradient(TitansReadMode read) {
        TitansOpConfig cfg = TitansOpConfig.defaults().withBackend(Backend.ND4J).withChunkSize(4).withReadMode(read);
        TitansInputs full = TitansTestData.random(cfg, B, 3, H, D, true, 2, DataType.FLOAT, 31);
        TitansInputs in = TitansTestData.piece(full, 0, 0, full.initialState());
        TitansForward f = TitansOps.forward(cfg, in, true);
        assertEquals(List.of(2L, 0L, 2L, 4L), List.of(f.y().size(0), f.y().size(1), f.y().size(2), f.y().size(3)));
        assertStateClose("state", f.finalState(), in.initialState(), 0);
        TitansState dFin = TitansTestData.randomLike(f.finalState(), 32);
        TitansGrads g = TitansOps.backward(f, null, dFin);
        assertEquals(0, g.dq().size(1));
        assertStateClose("dInitialState", g.dInitialState(), dFin, 0);
    }

    @Test
    void emptySequenceWithoutStateGivesZeros() {
        TitansOpConfig cfg = TitansOpConfig.defaults().withBackend(Backend.ND4J).withChunkSize(4);
        TitansInputs full = TitansTestData.random(cfg, B, 3, H, D, false, 0, DataType.FLOAT, 33);
        TitansInputs in = TitansTestData.piece(full, 0, 0, null);
        TitansForward f = TitansOps.forward(cfg, in, true);
        assertEquals(0, f.y().size(1));
        assertStateClose("state", f.finalState(), TitansState.zeros(cfg, B, H, D, DataType.FLOAT), 0);
        TitansGrads g = TitansOps.backward(f, null, null);
        assertStateClose("dInitialState", g.dInitialState(), TitansState.zeros(cfg, B, H, D, DataType.FLOAT), 0);
        assertEquals(0, g.dAlpha().size(1));
    }

    /** {@link TitansOps#read} and its backward on nd4j == the reference, depth 1–3, DOUBLE (1e-10) and FLOAT. */
    @ParameterizedTest(name = "depth={0} {1} {2}")
    @CsvSource({"1, DOUBLE, SILU", "2, DOUBLE, SILU", "3, DOUBLE, GELU_TANH", "2, FLOAT, SILU"})
    void readMatchesTheReference(int depth, DataType type, TitansActivation act) {
        TitansOpConfig cfg = TitansOpConfig.defaults().withDepth(depth).withExpansion(2).withActivation(act);
        int t = 9;
        TitansState s = TitansTestData.randomState(cfg, new Random(71), B, H, D, 0, type);
        INDArray q = TitansTestData.randn(type, 72, B, t, H, D);
        INDArray dY = TitansTestData.randn(type, 73, B, t, H, D);
        TitansOpConfig ref = cfg.withBackend(Backend.REFERENCE);
        TitansOpConfig nd = cfg.withBackend(Backend.ND4J);
        double tol = type == DataType.DOUBLE ? 1e-10 : 1e-5;
        assertClose("y", TitansOps.read(nd, q, s.memory()), TitansOps.read(ref, q, s.memory()), tol);
        INDArray[] gr = TitansOps.readBackward(ref, q, s.memory(), dY);
        INDArray[] gg = TitansOps.readBackward(nd, q, s.memory(), dY);
        assertEquals(gr.length, gg.length);
        for (int i = 0; i < gr.length; i++) {
            assertClose("read grad " + i, gg[i], gr[i], tol);
        }
    }

    @Test
    void backendSelection() {
        assertInstanceOf(Nd4jTitansKernel.class, TitansOps.kernel(Backend.ND4J));
        // ND4J's CPU backend in the tests: AUTO stays on the cpu kernel (the nd4j kernel is CUDA's)
        if (!Backend.onCuda()) {
            assertInstanceOf(CpuTitansKernel.class, TitansOps.kernel(Backend.AUTO));
        } else {
            assertInstanceOf(Nd4jTitansKernel.class, TitansOps.kernel(Backend.AUTO));
        }
    }

    @Test
    void backwardRejectsAForeignForward() {
        TitansOpConfig cfg = TitansOpConfig.defaults().withChunkSize(4);
        TitansInputs in = TitansTestData.random(cfg, B, 5, H, D, true, 0, DataType.FLOAT, 81);
        TitansForward cpu = TitansOps.forward(cfg.withBackend(Backend.CPU), in, true);
        Exception e = assertThrows(IllegalArgumentException.class,
                () -> new Nd4jTitansKernel().backward(cpu, null, null));
        assertTrue(e.getMessage().contains("nd4j backend"), e.getMessage());
    }

    /** A negative factor of the log-space cumulative products (α > 1, η < 0) is refused with the gate's name. */
    @Test
    void gatesWithoutALogarithmAreRejected() {
        TitansOpConfig cfg = TitansOpConfig.defaults().withBackend(Backend.ND4J).withChunkSize(4);
        TitansInputs in = TitansTestData.random(cfg, B, 5, H, D, true, 0, DataType.FLOAT, 85);
        Exception a = assertThrows(IllegalArgumentException.class, () -> TitansOps.forward(cfg, new TitansInputs(
                in.q(), in.k(), in.v(), in.theta(), in.eta(), in.alpha().add(1.5), in.initialState()), false));
        assertTrue(a.getMessage().contains("alpha <= 1"), a.getMessage());
        Exception e = assertThrows(IllegalArgumentException.class, () -> TitansOps.forward(cfg, new TitansInputs(
                in.q(), in.k(), in.v(), in.theta(), in.eta().sub(2), in.alpha(), in.initialState()), false));
        assertTrue(e.getMessage().contains("eta >= 0"), e.getMessage());
    }

    /** Forward and backward leave every input array (and the initial state) as they were. */
    @Test
    void inputsAreNotModified() {
        TitansOpConfig cfg = TitansOpConfig.defaults().withBackend(Backend.ND4J).withChunkSize(4).withMaxGradNorm(1.2);
        TitansInputs in = TitansTestData.random(cfg, B, 10, H, D, true, 3, DataType.FLOAT, 91);
        List<INDArray> before = arrays(in);
        List<INDArray> copies = before.stream().map(INDArray::dup).toList();
        TitansForward f = TitansOps.forward(cfg, in, true);
        INDArray dY = TitansTestData.randn(DataType.FLOAT, 92, B, 10, H, D);
        TitansState dFin = TitansTestData.randomLike(f.finalState(), 93);
        List<INDArray> dFinCopies = arrays(dFin).stream().map(INDArray::dup).toList();
        INDArray dYCopy = dY.dup();
        TitansOps.backward(f, dY, dFin);
        for (int i = 0; i < before.size(); i++) {
            assertClose("input array " + i, before.get(i), copies.get(i), 0);
        }
        List<INDArray> dFinAfter = arrays(dFin);
        for (int i = 0; i < dFinAfter.size(); i++) {
            assertClose("dFinalState array " + i, dFinAfter.get(i), dFinCopies.get(i), 0);
        }
        assertClose("dY", dY, dYCopy, 0);
    }

    private static List<INDArray> arrays(TitansInputs in) {
        List<INDArray> out = new ArrayList<>(List.of(in.q(), in.k(), in.v(), in.theta(), in.eta(), in.alpha()));
        out.addAll(arrays(in.initialState()));
        return out;
    }

    private static List<INDArray> arrays(TitansState s) {
        List<INDArray> out = new ArrayList<>(s.memory());
        out.addAll(s.momentum());
        for (INDArray a : new INDArray[] {s.bufK(), s.bufV(), s.bufTheta(), s.bufEta(), s.bufAlpha()}) {
            if (a != null) {
                out.add(a);
            }
        }
        return out;
    }
}
