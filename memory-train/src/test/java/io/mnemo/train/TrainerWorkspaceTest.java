package io.mnemo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.Parameter;
import io.mnemo.train.model.LanguageModel;
import io.mnemo.train.model.Presets;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.ops.executioner.OpExecutioner;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Training inside the per-step ND4J workspace equals training without it, for every preset: the same loss curve
 * and the same parameters over steps with gradient accumulation and truncated back-propagation (the memory state
 * carried across segments inside the scope). ND4J's SCOPE_PANIC mode is on for the workspace run, so any op reading
 * an array from an earlier step's closed scope fails the test, and a layer that kept such an array silently would
 * get the next step's unrelated numbers.
 *
 * <p>Not bit for bit: ND4J's native reductions group their sums by the buffer's alignment, and workspace buffers are
 * aligned differently from fresh allocations, so results differ in the last float bits (seen: 3e-9 relative on the
 * first step's loss of mamba-tiny, before any scope has closed). The tolerances are far below what a leaked array
 * would do.
 */
class TrainerWorkspaceTest {
    static Stream<String> presets() {
        return Presets.names().stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("presets")
    void workspaceRunEqualsPlainRun(String preset) {
        PreviousTokenTask task = new PreviousTokenTask(16, 20, 2);
        TrainConfig cfg = TrainConfig.defaults(3, 2).withAccumSteps(2).withSegmentLen(7);
        Trainer plain = new Trainer(new LanguageModel(Presets.create(preset, 16)), task, Map.of(), cfg, null)
                .useWorkspaces(false);
        plain.run();
        Trainer ws = new Trainer(new LanguageModel(Presets.create(preset, 16)), task, Map.of(), cfg, null)
                .useWorkspaces(true);
        OpExecutioner ex = Nd4j.getExecutioner();
        OpExecutioner.ProfilingMode before = ex.getProfilingMode();
        ex.setProfilingMode(OpExecutioner.ProfilingMode.SCOPE_PANIC);
        try {
            ws.run();
        } finally {
            ex.setProfilingMode(before);
        }
        assertEquals(plain.losses().size(), ws.losses().size());
        for (int i = 0; i < plain.losses().size(); i++) {
            double x = plain.losses().get(i);
            assertEquals(x, ws.losses().get(i), 1e-6 * Math.abs(x), preset + ": loss of step " + (i + 1));
        }
        List<Parameter> a = plain.model().parameters();
        List<Parameter> b = ws.model().parameters();
        assertEquals(a.size(), b.size());
        double worst = 0;
        for (int i = 0; i < a.size(); i++) {
            float[] x = NdBuffers.toFloats(a.get(i).value());
            float[] y = NdBuffers.toFloats(b.get(i).value());
            for (int j = 0; j < x.length; j++) {
                worst = Math.max(worst, Math.abs(x[j] - y[j]));
            }
        }
        // AdamW moves a parameter by at most ~lr = 3e-3 per step; rounding-level gradient differences move it by far
        // less except where a gradient is ~0 in both runs
        assertTrue(worst < 1e-4, preset + ": largest parameter difference " + worst);
    }

    @Test
    void offByDefaultAndSwitchable() {
        Trainer t = new Trainer(new LanguageModel(TrainerTest.small()), new PreviousTokenTask(16, 8, 1), Map.of(),
                TrainerTest.cfg(1), null);
        assertEquals("true".equals(System.getProperty(Trainer.WORKSPACES_PROPERTY)), t.usesWorkspaces());
        assertTrue(t.useWorkspaces(true).usesWorkspaces());
        assertTrue(!t.useWorkspaces(false).usesWorkspaces());
    }
}
