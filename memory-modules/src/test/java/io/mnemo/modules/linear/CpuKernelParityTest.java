package io.mnemo.modules.linear;

import static io.mnemo.modules.linear.LinearTestData.assertClose;
import static io.mnemo.modules.linear.LinearTestData.assertGradsClose;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mnemo.core.kernel.Backend;
import io.mnemo.core.kernel.VectorSupport;
import io.mnemo.core.memory.SeqDims;
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

/**
 * cpu backend == double-precision reference on outputs, final state and every gradient: the recurrent kernel
 * through {@link LinearOps}, and the chunked kernel ({@link CpuChunkedLinearKernel}) called directly. The build
 * runs this class twice, with the Vector API and with {@code -Dmnemo.simd=false}, so both implementations of
 * {@link io.mnemo.core.kernel.VecOps#gemm} go through the chunked cases.
 */
class CpuKernelParityTest {
    @ParameterizedTest(name = "{0} T={1} chunk={2} H={3}")
    @MethodSource("io.mnemo.modules.linear.LinearTestData#parityGrid")
    void cpuMatchesReference(LinearOp op, int t, int chunk, int h) {
        int b = 2;
        int dk = 8;
        int dv = 12;
        LinearInputs in = LinearTestData.random(op, b, t, h, dk, dv, true, DataType.FLOAT, 1000L * t + h);
        LinearOpConfig cfg = LinearOpConfig.of(op).withChunkSize(chunk);
        LinearForward ref = LinearOps.forward(cfg.withBackend(Backend.REFERENCE), in, true);
        LinearForward cpu = LinearOps.forward(cfg.withBackend(Backend.CPU), in, true);
        String ctx = op.opName() + " T=" + t + " C=" + chunk + " H=" + h;
        assertClose(ctx + " o", cpu.o(), ref.o(), 1e-4);
        assertClose(ctx + " final state", cpu.finalState(), ref.finalState(), 1e-4);

        INDArray dO = LinearTestData.randn(DataType.FLOAT, 7, b, t, h, dv);
        INDArray dFin = LinearTestData.randn(DataType.FLOAT, 8, b, h, dk, dv);
        LinearGrads gr = LinearOps.backward(ref, dO, dFin);
        LinearGrads gc = LinearOps.backward(cpu, dO, dFin);
        assertGradsClose(ctx, gc, gr, 1e-4);

        // where the backend dispatched to the chunked kernel, the recurrence must still match on its own
        if (new CpuLinearKernel().usesChunked(cfg, t)) {
            assertInstanceOf(CpuChunkedLinearKernel.Saved.class, cpu.saved(), ctx + " dispatch");
            CpuLinearKernel rec = CpuLinearKernel.recurrentOnly();
            LinearForward r = rec.forward(cfg, in.validate(op, false), in, true);
            assertClose(ctx + " recurrent o", r.o(), ref.o(), 1e-4);
            assertClose(ctx + " recurrent final state", r.finalState(), ref.finalState(), 1e-4);
            assertGradsClose(ctx + " recurrent", rec.backward(r, dO, dFin), gr, 1e-4);
        }
    }

    /**
     * Chunked-kernel grid: T odd, below, at and across chunk boundaries (1, 7, 63, 64, 65, 100, 130), chunk 16 and
     * 64, B = 2, H ∈ {1, 3}, with and without an initial state, default scale and 0.7.
     */
    static Stream<Arguments> chunkedGrid() {
        List<Arguments> out = new ArrayList<>();
        for (LinearOp op : new LinearOp[] {LinearOp.LINEAR_ATTN, LinearOp.SIMPLE_GLA}) {
            for (int t : new int[] {1, 7, 63, 64, 65, 100, 130}) {
                for (int chunk : new int[] {16, 64}) {
                    out.add(Arguments.of(op, t, chunk, 1 + (t % 3 == 0 ? 0 : 2), t % 2 == 1, t % 4 == 0 ? 0.7 : Double.NaN));
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} T={1} chunk={2} H={3} init={4} scale={5}")
    @MethodSource("chunkedGrid")
    void chunkedMatchesReference(LinearOp op, int t, int chunk, int h, boolean init, double scale) {
        LinearInputs in = LinearTestData.random(op, 2, t, h, 8, 12, init, DataType.FLOAT, 500L * t + chunk);
        compareChunked(op, in, LinearOpConfig.of(op).withChunkSize(chunk).withScale(scale), 1e-4);
    }

    /**
     * Head sizes that fill whole vectors and the 4-row × 4-vector tiles (Dk = 64, Dv = 48 at AVX-512 width), a
     * chunk that does not divide T, and upstream gradients present or absent.
     */
    @ParameterizedTest
    @EnumSource(value = LinearOp.class, names = {"LINEAR_ATTN", "SIMPLE_GLA"})
    void chunkedMatchesReferenceAtFullHeadSize(LinearOp op) {
        LinearInputs in = LinearTestData.random(op, 1, 150, 2, 64, 48, true, DataType.FLOAT, 99);
        compareChunked(op, in, LinearOpConfig.of(op).withChunkSize(64), 1e-4);
    }

    /**
     * Strong decays (log decay −4 per token): the range of cumulative log decays inside a chunk of 64 exceeds
     * {@link CpuChunkedLinearKernel#FACTOR_RANGE}, so D is formed element by element; chunk 16 stays factored.
     */
    @Test
    void chunkedStrongDecayUsesExactDecayMatrix() {
        LinearOp op = LinearOp.SIMPLE_GLA;
        LinearInputs r = LinearTestData.random(op, 2, 100, 2, 8, 12, true, DataType.FLOAT, 5);
        LinearInputs in = new LinearInputs(r.q(), r.k(), r.v(), r.g().sub(4.0), null, null, r.initialState());
        compareChunked(op, in, LinearOpConfig.of(op).withChunkSize(64), 1e-4);
        compareChunked(op, in, LinearOpConfig.of(op).withChunkSize(16), 1e-4);
    }

    /** Double inputs give double outputs (float arithmetic); T = 0 returns the initial state; other ops are refused. */
    @Test
    void chunkedEdgeCases() {
        LinearOp op = LinearOp.SIMPLE_GLA;
        LinearInputs dbl = LinearTestData.random(op, 2, 37, 3, 8, 12, true, DataType.DOUBLE, 3);
        compareChunked(op, dbl, LinearOpConfig.of(op).withChunkSize(16), 1e-4);

        LinearInputs empty = LinearTestData.random(op, 2, 0, 3, 4, 5, true, DataType.FLOAT, 13);
        CpuChunkedLinearKernel kernel = new CpuChunkedLinearKernel();
        LinearOpConfig cfg = LinearOpConfig.of(op);
        LinearForward f = kernel.forward(cfg, empty.validate(op, false), empty, true);
        assertClose("T=0 state", f.finalState(), empty.initialState(), 0);
        INDArray dFin = LinearTestData.randn(DataType.FLOAT, 1, 2, 3, 4, 5);
        assertClose("T=0 dInitialState", kernel.backward(f, null, dFin).dInitialState(), dFin, 0);

        LinearInputs delta = LinearTestData.random(LinearOp.DELTA_RULE, 1, 4, 1, 4, 4, false, DataType.FLOAT, 1);
        assertThrows(IllegalArgumentException.class, () -> kernel.forward(LinearOpConfig.of(LinearOp.DELTA_RULE),
                delta.validate(LinearOp.DELTA_RULE, false), delta, false));
        LinearForward recurrent = CpuLinearKernel.recurrentOnly().forward(cfg, dbl.validate(op, false), dbl, true);
        assertThrows(IllegalArgumentException.class, () -> kernel.backward(recurrent, null, null));
    }

    /**
     * The chunked delta rules ({@link CpuChunkedDeltaKernel}) against the double reference and the float
     * recurrence: outputs and final state with and without saving, and every gradient (with dO and dFinal, each
     * alone); T odd, below, at and across chunk boundaries, chunk 16 and 64, H ∈ {1, 3}, with and without an
     * initial state, default scale and 0.7.
     */
    static Stream<Arguments> deltaGrid() {
        List<Arguments> out = new ArrayList<>();
        for (LinearOp op : new LinearOp[] {LinearOp.DELTA_RULE, LinearOp.GATED_DELTA_RULE}) {
            for (int t : new int[] {16, 17, 63, 64, 65, 100, 130}) {
                for (int chunk : new int[] {16, 64}) {
                    out.add(Arguments.of(op, t, chunk, 1 + (t % 3 == 0 ? 0 : 2), t % 2 == 1, t % 4 == 0 ? 0.7 : Double.NaN));
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} T={1} chunk={2} H={3} init={4} scale={5}")
    @MethodSource("deltaGrid")
    void chunkedDeltaMatchesReference(LinearOp op, int t, int chunk, int h, boolean init, double scale) {
        LinearInputs in = LinearTestData.random(op, 2, t, h, 8, 12, init, DataType.FLOAT, 700L * t + chunk);
        compareChunkedDelta(op, in, LinearOpConfig.of(op).withChunkSize(chunk).withScale(scale), 1e-4);
    }

    /** Full head size (Dk = Dv = 64, whole vectors), a chunk that does not divide T; β at 0 and 1; strong decays. */
    @ParameterizedTest
    @EnumSource(value = LinearOp.class, names = {"DELTA_RULE", "GATED_DELTA_RULE"})
    void chunkedDeltaAtFullHeadSizeAndExtremeGates(LinearOp op) {
        LinearInputs in = LinearTestData.random(op, 1, 150, 2, 64, 64, true, DataType.FLOAT, 98);
        compareChunkedDelta(op, in, LinearOpConfig.of(op).withChunkSize(64), 1e-4);
        INDArray ones = Nd4j.onesLike(in.beta());
        LinearInputs full = new LinearInputs(in.q(), in.k(), in.v(), in.g(), null, ones, in.initialState());
        compareChunkedDelta(op, full, LinearOpConfig.of(op).withChunkSize(64), 1e-4);
        LinearInputs none = new LinearInputs(in.q(), in.k(), in.v(), in.g(), null, ones.mul(0), in.initialState());
        compareChunkedDelta(op, none, LinearOpConfig.of(op).withChunkSize(64), 1e-4);
        if (op.scalarGate()) {
            // log decay −4 per token: the range inside a chunk of 64 exceeds FACTOR_RANGE (decays element by element)
            LinearInputs strong = new LinearInputs(in.q(), in.k(), in.v(), in.g().sub(4.0), null, in.beta(),
                    in.initialState());
            compareChunkedDelta(op, strong, LinearOpConfig.of(op).withChunkSize(64), 1e-4);
            compareChunkedDelta(op, strong, LinearOpConfig.of(op).withChunkSize(16), 1e-4);
        }
    }

    private static void compareChunkedDelta(LinearOp op, LinearInputs in, LinearOpConfig cfg, double tol) {
        SeqDims d = in.validate(op, false);
        CpuLinearKernel cpu = new CpuLinearKernel();
        org.junit.jupiter.api.Assertions.assertTrue(cpu.usesChunkedDelta(cfg, d.t()), "dispatch");
        LinearForward ref = LinearOps.forward(cfg.withBackend(Backend.REFERENCE), in, false);
        LinearForward fast = cpu.forward(cfg.withBackend(Backend.CPU), d, in, false);
        LinearForward rec = CpuLinearKernel.recurrentOnly().forward(cfg, d, in, false);
        String ctx = op.opName() + " chunked forward (simd=" + VectorSupport.simd() + ") T=" + d.t() + " H=" + d.h()
                + " Dk=" + d.dk() + " Dv=" + d.dv() + " C=" + cfg.chunkSize() + " scale=" + cfg.scale()
                + " init=" + (in.initialState() != null);
        assertClose(ctx + " o", fast.o(), ref.o(), tol);
        assertClose(ctx + " final state", fast.finalState(), ref.finalState(), tol);
        assertClose(ctx + " o vs recurrence", fast.o(), rec.o(), tol);
        assertClose(ctx + " final state vs recurrence", fast.finalState(), rec.finalState(), tol);
        // through the facade too (LinearOps with the cpu backend, nothing saved)
        assertClose(ctx + " LinearOps o", LinearOps.forward(cfg.withBackend(Backend.CPU), in, false).o(), ref.o(), tol);

        // training: the forward that saves, then the hand-written backward
        LinearForward refS = LinearOps.forward(cfg.withBackend(Backend.REFERENCE), in, true);
        LinearForward fastS = cpu.forward(cfg.withBackend(Backend.CPU), d, in, true);
        assertInstanceOf(CpuChunkedDeltaKernel.Saved.class, fastS.saved(), ctx + " dispatch (save)");
        assertClose(ctx + " o (save)", fastS.o(), ref.o(), tol);
        assertClose(ctx + " final state (save)", fastS.finalState(), ref.finalState(), tol);
        DataType dt = in.q().dataType();
        INDArray dO = LinearTestData.randn(dt, 7, d.b(), d.t(), d.h(), d.dv());
        INDArray dFin = LinearTestData.randn(dt, 8, d.b(), d.h(), d.dk(), d.dv());
        LinearGrads gr = LinearOps.backward(refS, dO, dFin);
        assertGradsClose(ctx, cpu.backward(fastS, dO, dFin), gr, tol);
        assertGradsClose(ctx + " (dO only)", cpu.backward(fastS, dO, null), LinearOps.backward(refS, dO, null), tol);
        assertGradsClose(ctx + " (dFinal only)", cpu.backward(fastS, null, dFin), LinearOps.backward(refS, null, dFin),
                tol);
        LinearForward recS = CpuLinearKernel.recurrentOnly().forward(cfg, d, in, true);
        assertGradsClose(ctx + " vs recurrence", cpu.backward(fastS, dO, dFin),
                CpuLinearKernel.recurrentOnly().backward(recS, dO, dFin), tol);
    }

    private static void compareChunked(LinearOp op, LinearInputs in, LinearOpConfig cfg, double tol) {
        SeqDims d = in.validate(op, false);
        CpuChunkedLinearKernel kernel = new CpuChunkedLinearKernel();
        LinearForward ref = LinearOps.forward(cfg.withBackend(Backend.REFERENCE), in, true);
        LinearForward fast = kernel.forward(cfg.withBackend(Backend.CPU), d, in, true);
        assertInstanceOf(CpuChunkedLinearKernel.Saved.class, fast.saved());
        String ctx = op.opName() + " chunked (simd=" + VectorSupport.simd() + ") B=" + d.b() + " T=" + d.t() + " H="
                + d.h() + " Dk=" + d.dk() + " Dv=" + d.dv() + " C=" + cfg.chunkSize() + " scale=" + cfg.scale()
                + " init=" + (in.initialState() != null);
        assertClose(ctx + " o", fast.o(), ref.o(), tol);
        assertClose(ctx + " final state", fast.finalState(), ref.finalState(), tol);
        // also forward without saving
        assertClose(ctx + " o (save=false)", kernel.forward(cfg, d, in, false).o(), ref.o(), tol);

        DataType dt = in.q().dataType();
        INDArray dO = LinearTestData.randn(dt, 7, d.b(), d.t(), d.h(), d.dv());
        INDArray dFin = LinearTestData.randn(dt, 8, d.b(), d.h(), d.dk(), d.dv());
        assertGradsClose(ctx, kernel.backward(fast, dO, dFin), LinearOps.backward(ref, dO, dFin), tol);
        assertGradsClose(ctx + " (dO only)", kernel.backward(fast, dO, null), LinearOps.backward(ref, dO, null), tol);
        assertGradsClose(ctx + " (dFinal only)", kernel.backward(fast, null, dFin), LinearOps.backward(ref, null, dFin),
                tol);
    }
}
