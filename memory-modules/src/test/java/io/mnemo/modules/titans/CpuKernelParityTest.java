package io.mnemo.modules.titans;

import static io.mnemo.modules.titans.TitansTestData.assertClose;
import static io.mnemo.modules.titans.TitansTestData.assertGradsClose;
import static io.mnemo.modules.titans.TitansTestData.assertStateClose;

import io.mnemo.core.kernel.Backend;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * cpu backend (float, hand-written backward) == double-precision reference (tape backward) on the
 * outputs, the final state (memory, momentum, open-chunk buffer) and every gradient including the
 * incoming state's, for depth 1 and 2, C ∈ {1, 16, 64}, T ∈ {1, 7, 63, 100}, both read modes,
 * momentum on/off and clamp on/off (the limit 1.8 sits inside the range of the data's gradient norms, so
 * some tokens are clamped and others not), with a random initial state that carries an open chunk.
 */
class CpuKernelParityTest {
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

    /** The grid, plus depth 3 and the GELU activation on a few rows. */
    static Stream<Arguments> gridAndExtras() {
        Stream<Arguments> extras = Stream.of(
                Arguments.of(3, 16, 63, TitansReadMode.PER_TOKEN, true, true, TitansGateGranularity.TOKEN, TitansActivation.SILU),
                Arguments.of(3, 4, 7, TitansReadMode.COMMITTED, false, false, TitansGateGranularity.TOKEN, TitansActivation.SILU),
                Arguments.of(2, 16, 100, TitansReadMode.PER_TOKEN, true, true, TitansGateGranularity.TOKEN, TitansActivation.GELU_TANH),
                Arguments.of(2, 1, 7, TitansReadMode.COMMITTED, true, false, TitansGateGranularity.TOKEN, TitansActivation.GELU_TANH),
                Arguments.of(2, 64, 1000, TitansReadMode.PER_TOKEN, true, true, TitansGateGranularity.TOKEN, TitansActivation.SILU));
        return Stream.concat(grid(), extras);
    }

    @ParameterizedTest(name = "depth={0} C={1} T={2} {3} momentum={4} clamp={5} gates={6} {7}")
    @MethodSource("gridAndExtras")
    void cpuMatchesReference(int depth, int c, int t, TitansReadMode read, boolean momentum, boolean clamp,
            TitansGateGranularity gates, TitansActivation activation) {
        check(depth, c, t, read, momentum, clamp, gates, activation, 8);
    }

    /**
     * Head sizes at and around the Vector API width (16 floats at 512 bits, 8 at 256): full-vector blocks
     * of the chunked kernel's matrix products (D = 16, 32: the lmm-tiny shape) and column remainders
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

    @ParameterizedTest(name = "depth={0} C={1} T={2} {3} momentum={4} clamp={5} gates={6} {7} D={8}")
    @MethodSource("wideHeads")
    void cpuMatchesReferenceWideHeads(int depth, int c, int t, TitansReadMode read, boolean momentum, boolean clamp,
            TitansGateGranularity gates, TitansActivation activation, int d) {
        check(depth, c, t, read, momentum, clamp, gates, activation, d);
    }

    private static void check(int depth, int c, int t, TitansReadMode read, boolean momentum, boolean clamp,
            TitansGateGranularity gates, TitansActivation activation, int d) {
        int b = 2;
        int h = 2;
        TitansOpConfig cfg = TitansOpConfig.defaults().withDepth(depth).withChunkSize(c).withMomentum(momentum)
                .withGatesAndRead(gates, read).withMaxGradNorm(clamp ? 1.8 : Double.NaN).withActivation(activation);
        int buffered = c > 5 ? 5 : 0;
        TitansInputs in = TitansTestData.random(cfg, b, t, h, d, true, buffered, DataType.FLOAT, 1000L * t + c);
        TitansForward ref = TitansOps.forward(cfg.withBackend(Backend.REFERENCE), in, true);
        TitansForward cpu = TitansOps.forward(cfg.withBackend(Backend.CPU), in, true);
        String ctx = cfg.toString();
        // the test data must keep the memory learning stably, or the comparison says nothing
        double maxY = ref.y().length() == 0 ? 0 : ref.y().amaxNumber().doubleValue();
        org.junit.jupiter.api.Assertions.assertTrue(maxY < 50, ctx + ": reference outputs diverge, max |y| = " + maxY);
        assertClose(ctx + " y", cpu.y(), ref.y(), 1e-4);
        assertStateClose(ctx + " final state", cpu.finalState(), ref.finalState(), 1e-4);

        INDArray dY = TitansTestData.randn(DataType.FLOAT, 7, b, t, h, d);
        TitansState dFin = TitansTestData.randomLike(ref.finalState(), 8);
        assertGradsClose(ctx, TitansOps.backward(cpu, dY, dFin), TitansOps.backward(ref, dY, dFin), 1e-4);
    }
}
