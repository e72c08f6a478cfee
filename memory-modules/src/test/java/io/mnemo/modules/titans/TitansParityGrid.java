package io.mnemo.modules.titans;

import static io.mnemo.modules.titans.TitansTestData.assertClose;
import static io.mnemo.modules.titans.TitansTestData.assertGradsClose;
import static io.mnemo.modules.titans.TitansTestData.assertStateClose;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.kernel.Backend;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.Arguments;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The parity grid shared by the fast backends' tests: a backend against the double-precision reference
 * (tape backward) on the outputs, the final state (memory, momentum, open-chunk buffer) and every gradient
 * including the incoming state's. Rows are {@code (depth, C, T, readMode, momentum, clamp, gates, activation)}
 * (plus D for the wide-head rows); the clamp limit 1.8 sits inside the range of the data's gradient norms, so
 * some tokens are clamped and others not; every row starts from a random state that carries an open chunk of
 * 5 tokens when C > 5, and the backward gets a random dY and a random gradient of every part of the final state.
 */
final class TitansParityGrid {
    private TitansParityGrid() {}

    /** depth 1, 2 × C ∈ {1, 16, 64} × T ∈ {1, 7, 63, 100} × both reads × momentum on/off × clamp on/off, plus CHUNK gates. */
    static Stream<Arguments> grid() {
        List<Arguments> out = new ArrayList<>();
        for (int depth : new int[] {1, 2}) {
            for (int c : new int[] {1, 16, 64}) {
                for (int t : new int[] {1, 7, 63, 100}) {
                    for (TitansReadMode read : TitansReadMode.values()) {
                        for (boolean momentum : new boolean[] {true, false}) {
                            for (boolean clamp : new boolean[] {false, true}) {
                                out.add(Arguments.of(depth, c, t, read, momentum, clamp, TitansGateGranularity.TOKEN));
                            }
                        }
                    }
                }
            }
        }
        for (int depth : new int[] {1, 2}) {
            for (int t : new int[] {7, 63, 100}) {
                out.add(Arguments.of(depth, 16, t, TitansReadMode.COMMITTED, true, true, TitansGateGranularity.CHUNK));
            }
        }
        return out.stream().map(a -> Arguments.of(a.get()[0], a.get()[1], a.get()[2], a.get()[3], a.get()[4],
                a.get()[5], a.get()[6], TitansActivation.SILU));
    }

    /**
     * Every (depth, C, T) cell of {@link #grid()} with {@code perCell} of its eight (read, momentum, clamp)
     * combinations, rotating from cell to cell so that every combination occurs in every depth and every C;
     * plus all CHUNK-gate rows; C = 1 only with T ∈ {1, 7} (the T = 7 and 1000-token extras and the wide heads keep
     * odd T with other chunk sizes). For backends whose per-op overhead makes the full grid slow.
     */
    static Stream<Arguments> subsampledGrid(int perCell) {
        List<Arguments> out = new ArrayList<>();
        int cell = 0;
        for (int depth : new int[] {1, 2}) {
            for (int c : new int[] {1, 16, 64}) {
                for (int t : new int[] {1, 7, 63, 100}) {
                    if (c == 1 && t > 7) {
                        // C = 1 is one chunk per token: 100 chunks of small batched ops cost seconds per row
                        cell++;
                        continue;
                    }
                    for (int j = 0; j < perCell; j++) {
                        // combination index: bit 0 = clamp, bit 1 = momentum off, bit 2 = COMMITTED
                        int combo = (cell * 3 + j * (8 / perCell)) % 8;
                        out.add(Arguments.of(depth, c, t, (combo & 4) == 0 ? TitansReadMode.PER_TOKEN
                                : TitansReadMode.COMMITTED, (combo & 2) == 0, (combo & 1) != 0,
                                TitansGateGranularity.TOKEN, TitansActivation.SILU));
                    }
                    cell++;
                }
            }
        }
        grid().filter(a -> a.get()[6] == TitansGateGranularity.CHUNK).forEach(out::add);
        return out.stream();
    }

    /** Depth 3 and the GELU activation on a few rows, and a long T = 1000 row with C = 64. */
    static Stream<Arguments> extras() {
        return Stream.of(
                Arguments.of(3, 16, 63, TitansReadMode.PER_TOKEN, true, true, TitansGateGranularity.TOKEN, TitansActivation.SILU),
                Arguments.of(3, 4, 7, TitansReadMode.COMMITTED, false, false, TitansGateGranularity.TOKEN, TitansActivation.SILU),
                Arguments.of(2, 16, 100, TitansReadMode.PER_TOKEN, true, true, TitansGateGranularity.TOKEN, TitansActivation.GELU_TANH),
                Arguments.of(2, 1, 7, TitansReadMode.COMMITTED, true, false, TitansGateGranularity.TOKEN, TitansActivation.GELU_TANH),
                Arguments.of(2, 64, 1000, TitansReadMode.PER_TOKEN, true, true, TitansGateGranularity.TOKEN, TitansActivation.SILU));
    }

    /**
     * Head sizes at and around the Vector API width (16 floats at 512 bits, 8 at 256): full-vector blocks
     * of the chunked kernels' matrix products (D = 16, 32: the lmm-tiny shape) and column remainders
     * (D = 20, hidden width 80), with chunks that do not divide T.
     */
    static Stream<Arguments> wideHeads() {
        return Stream.of(
                Arguments.of(2, 16, 40, TitansReadMode.PER_TOKEN, true, true, TitansGateGranularity.TOKEN, TitansActivation.SILU, 32),
                Arguments.of(1, 16, 37, TitansReadMode.PER_TOKEN, true, false, TitansGateGranularity.TOKEN, TitansActivation.SILU, 20),
                Arguments.of(1, 5, 23, TitansReadMode.COMMITTED, true, true, TitansGateGranularity.TOKEN, TitansActivation.SILU, 32),
                Arguments.of(2, 8, 21, TitansReadMode.COMMITTED, false, true, TitansGateGranularity.TOKEN, TitansActivation.SILU, 20),
                Arguments.of(2, 16, 33, TitansReadMode.PER_TOKEN, true, true, TitansGateGranularity.TOKEN, TitansActivation.GELU_TANH, 16),
                Arguments.of(2, 16, 35, TitansReadMode.COMMITTED, true, false, TitansGateGranularity.CHUNK, TitansActivation.SILU, 16));
    }

    /**
     * Runs {@code backend} and the reference on the same random problem (B = H = 2, head size d, inputs of
     * {@code type}) and asserts that outputs, final state and every gradient agree within {@code tol}
     * relative to the reference's largest magnitude (NaN fails). The reference must not diverge (|y| < 50).
     */
    static void check(Backend backend, DataType type, double tol, int depth, int c, int t, TitansReadMode read,
            boolean momentum, boolean clamp, TitansGateGranularity gates, TitansActivation activation, int d) {
        int b = 2;
        int h = 2;
        TitansOpConfig cfg = TitansOpConfig.defaults().withDepth(depth).withChunkSize(c).withMomentum(momentum)
                .withGatesAndRead(gates, read).withMaxGradNorm(clamp ? 1.8 : Double.NaN).withActivation(activation);
        int buffered = c > 5 ? 5 : 0;
        TitansInputs in = TitansTestData.random(cfg, b, t, h, d, true, buffered, type, 1000L * t + c);
        TitansForward ref = TitansOps.forward(cfg.withBackend(Backend.REFERENCE), in, true);
        TitansForward got = TitansOps.forward(cfg.withBackend(backend), in, true);
        String ctx = backend + " " + type + " " + cfg;
        // the test data must keep the memory learning stably, or the comparison says nothing
        double maxY = ref.y().length() == 0 ? 0 : ref.y().amaxNumber().doubleValue();
        assertTrue(maxY < 50, ctx + ": reference outputs diverge, max |y| = " + maxY);
        assertTrue(got.y().dataType() == type, ctx + ": y has type " + got.y().dataType());
        assertClose(ctx + " y", got.y(), ref.y(), tol);
        assertStateClose(ctx + " final state", got.finalState(), ref.finalState(), tol);

        INDArray dY = TitansTestData.randn(type, 7, b, t, h, d);
        TitansState dFin = TitansTestData.randomLike(ref.finalState(), 8);
        assertGradsClose(ctx, TitansOps.backward(got, dY, dFin), TitansOps.backward(ref, dY, dFin), tol);
    }
}
