package io.mnemo.modules.memmamba;

import org.junit.jupiter.api.Test;

/** {@link MemMambaGradientCheckTest} with PRIORITY pools (which also drop notes). */
class MemMambaPriorityGradientCheckTest {
    @Test
    void priorityBackwardMatchesFiniteDifferences() {
        MemMambaGradientCheckTest.run(PoolPolicy.PRIORITY);
    }
}
