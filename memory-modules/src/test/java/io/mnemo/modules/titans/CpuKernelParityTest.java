package io.mnemo.modules.titans;

import io.mnemo.core.kernel.Backend;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * cpu backend (float, hand-written backward) == double-precision reference (tape backward) on the
 * outputs, the final state (memory, momentum, open-chunk buffer) and every gradient including the
 * incoming state's, over the whole {@link TitansParityGrid}: depth 1 and 2, C ∈ {1, 16, 64},
 * T ∈ {1, 7, 63, 100}, both read modes, momentum on/off and clamp on/off, CHUNK gates, depth 3, GELU,
 * a random initial state that carries an open chunk, and head sizes around the Vector API width.
 * fp32 tolerance 1e-4 relative to the reference's largest magnitude.
 */
class CpuKernelParityTest {
    static Stream<Arguments> gridAndExtras() {
        return Stream.concat(TitansParityGrid.grid(), TitansParityGrid.extras());
    }

    @ParameterizedTest(name = "depth={0} C={1} T={2} {3} momentum={4} clamp={5} gates={6} {7}")
    @MethodSource("gridAndExtras")
    void cpuMatchesReference(int depth, int c, int t, TitansReadMode read, boolean momentum, boolean clamp,
            TitansGateGranularity gates, TitansActivation activation) {
        TitansParityGrid.check(Backend.CPU, DataType.FLOAT, 1e-4, depth, c, t, read, momentum, clamp, gates,
                activation, 8);
    }

    static Stream<Arguments> wideHeads() {
        return TitansParityGrid.wideHeads();
    }

    @ParameterizedTest(name = "depth={0} C={1} T={2} {3} momentum={4} clamp={5} gates={6} {7} D={8}")
    @MethodSource("wideHeads")
    void cpuMatchesReferenceWideHeads(int depth, int c, int t, TitansReadMode read, boolean momentum, boolean clamp,
            TitansGateGranularity gates, TitansActivation activation, int d) {
        TitansParityGrid.check(Backend.CPU, DataType.FLOAT, 1e-4, depth, c, t, read, momentum, clamp, gates,
                activation, d);
    }
}
