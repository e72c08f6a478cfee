package io.mnemo.modules.titans;

import io.mnemo.core.kernel.Backend;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * nd4j backend (batched ND4J ops, hand-written backward) == double-precision reference (tape backward) on the
 * outputs, the final state (memory, momentum, open-chunk buffer) and every gradient including the incoming
 * state's, through the same {@link TitansParityGrid} as the cpu kernel: every (depth 1/2, C 1/16/64,
 * T 1/7/63/100) cell with two of its (read, momentum, clamp) combinations (all eight occur for every depth and
 * C), the CHUNK-gate rows, depth 3, GELU, T = 1000, and the wide heads; FLOAT inputs at 1e-4. The same kernel on
 * DOUBLE inputs computes in double and must match the reference within 1e-9 (a tolerance that no
 * sign or factor error in a gradient could pass).
 */
class Nd4jTitansKernelParityTest {
    static Stream<Arguments> floatRows() {
        return Stream.concat(TitansParityGrid.subsampledGrid(2), TitansParityGrid.extras());
    }

    @ParameterizedTest(name = "depth={0} C={1} T={2} {3} momentum={4} clamp={5} gates={6} {7}")
    @MethodSource("floatRows")
    void nd4jMatchesReference(int depth, int c, int t, TitansReadMode read, boolean momentum, boolean clamp,
            TitansGateGranularity gates, TitansActivation activation) {
        TitansParityGrid.check(Backend.ND4J, DataType.FLOAT, 1e-4, depth, c, t, read, momentum, clamp, gates,
                activation, 8);
    }

    static Stream<Arguments> wideHeads() {
        return TitansParityGrid.wideHeads();
    }

    @ParameterizedTest(name = "depth={0} C={1} T={2} {3} momentum={4} clamp={5} gates={6} {7} D={8}")
    @MethodSource("wideHeads")
    void nd4jMatchesReferenceWideHeads(int depth, int c, int t, TitansReadMode read, boolean momentum,
            boolean clamp, TitansGateGranularity gates, TitansActivation activation, int d) {
        TitansParityGrid.check(Backend.ND4J, DataType.FLOAT, 1e-4, depth, c, t, read, momentum, clamp, gates,
                activation, d);
    }

    static Stream<Arguments> doubleRows() {
        return Stream.of(
                Arguments.of(1, 16, 63, TitansReadMode.PER_TOKEN, true, true, TitansGateGranularity.TOKEN, TitansActivation.SILU),
                Arguments.of(1, 1, 7, TitansReadMode.PER_TOKEN, false, false, TitansGateGranularity.TOKEN, TitansActivation.SILU),
                Arguments.of(2, 1, 7, TitansReadMode.PER_TOKEN, true, true, TitansGateGranularity.TOKEN, TitansActivation.SILU),
                Arguments.of(2, 16, 100, TitansReadMode.PER_TOKEN, true, true, TitansGateGranularity.TOKEN, TitansActivation.SILU),
                Arguments.of(2, 64, 100, TitansReadMode.COMMITTED, false, true, TitansGateGranularity.TOKEN, TitansActivation.SILU),
                Arguments.of(2, 64, 1, TitansReadMode.PER_TOKEN, true, false, TitansGateGranularity.TOKEN, TitansActivation.SILU),
                Arguments.of(2, 16, 35, TitansReadMode.COMMITTED, true, true, TitansGateGranularity.CHUNK, TitansActivation.SILU),
                Arguments.of(3, 4, 7, TitansReadMode.PER_TOKEN, true, true, TitansGateGranularity.TOKEN, TitansActivation.GELU_TANH),
                Arguments.of(2, 16, 63, TitansReadMode.PER_TOKEN, false, true, TitansGateGranularity.TOKEN, TitansActivation.GELU_TANH));
    }

    @ParameterizedTest(name = "double depth={0} C={1} T={2} {3} momentum={4} clamp={5} gates={6} {7}")
    @MethodSource("doubleRows")
    void nd4jInDoubleMatchesReferenceTightly(int depth, int c, int t, TitansReadMode read, boolean momentum,
            boolean clamp, TitansGateGranularity gates, TitansActivation activation) {
        TitansParityGrid.check(Backend.ND4J, DataType.DOUBLE, 1e-9, depth, c, t, read, momentum, clamp, gates,
                activation, 8);
    }
}
