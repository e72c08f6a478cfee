package io.mnemo.modules.memmamba;

import static io.mnemo.modules.memmamba.MemMambaTestData.dot;
import static io.mnemo.modules.memmamba.MemMambaTestData.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.GradientCheck;
import io.mnemo.core.Mixer;
import io.mnemo.core.NdBuffers;
import io.mnemo.core.Parameter;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.mamba.Mamba1State;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The whole stack's backward against central finite differences in double precision, on every
 * parameter, the input and every part of the incoming state, with a loss that also weights every part
 * of the outgoing state. The case is chosen so that writes, evictions, gated reads and cross-layer
 * reads all happen, and the trace's margin proves that no decision is within reach of the FD step.
 * FIFO here, PRIORITY in {@link MemMambaPriorityGradientCheckTest}.
 */
class MemMambaGradientCheckTest {
    private static final double EPS = 1e-6;
    private static final int COORDS = 4;

    /** D = 6, L = 3, N = 3, E = 2, conv 3, Ds = 4 (2 heads), K = 3, τ₁ = 0.2, τ₂ = −0.3, p = 1. */
    private static MemMambaConfig config(PoolPolicy policy) {
        return new MemMambaConfig(6, 3, 3, 2, 3, 4, 3, 0.2, -0.3, policy, 1, 2, Backend.REFERENCE, DataType.DOUBLE,
                21L);
    }

    @Test
    void fifoBackwardMatchesFiniteDifferences() {
        run(PoolPolicy.FIFO);
    }

    /** Shared with {@link MemMambaPriorityGradientCheckTest} (one policy per class keeps each under 20 s). */
    static void run(PoolPolicy policy) {
        MemMambaConfig c = config(policy);
        MemMambaStack m = new MemMambaStack(c);
        int b = 2;
        int t = 10;
        INDArray x = randn(DataType.DOUBLE, 1, b, t, c.dModel());
        MemMambaState s0 = MemMambaTestData.randomState(c, b, new int[] {2, 3}, 2);
        INDArray dy = randn(DataType.DOUBLE, 3, b, t, c.dModel());
        MemMambaState dS = MemMambaTestData.randomState(c, b, new int[] {3, 3}, 4);
        for (Parameter p : m.parameters()) {
            p.grad().assign(0);
        }
        Mixer.Forward<MemMambaState> f = m.forward(x, s0, true);
        MemMambaTrace tr = MemMambaStack.trace(f);
        // the case exercises what it claims to
        assertTrue(MemMambaTrace.total(tr.writes()) >= 12, "writes " + Arrays.toString(tr.writes()));
        assertTrue(MemMambaTrace.total(tr.evictions()) >= 6, "evictions " + Arrays.toString(tr.evictions()));
        for (int l = 0; l < c.layers(); l++) {
            assertTrue(tr.evictions()[l] > 0, "layer " + l + " evicts: " + Arrays.toString(tr.evictions()));
            assertTrue(tr.reads()[l] >= 3 && tr.reads()[l] < b * t,
                    "layer " + l + " gated reads on and off: " + Arrays.toString(tr.reads()));
            assertTrue(tr.margin()[l] > 1e-4, "layer " + l + " decision margin " + tr.margin()[l]);
        }
        assertEquals(0, tr.crossReads()[0]);
        assertTrue(tr.crossReads()[1] > 0 && tr.crossReads()[2] > 0, Arrays.toString(tr.crossReads()));
        if (policy == PoolPolicy.PRIORITY) {
            assertTrue(MemMambaTrace.total(tr.drops()) > 0, "drops " + Arrays.toString(tr.drops()));
        }
        Mixer.Backward<MemMambaState> g = m.backward(f, dy, dS);
        ToDoubleFunction<Mixer.Forward<MemMambaState>> loss = fw -> {
            double v = dot(fw.y(), dy);
            for (int l = 0; l < c.layers(); l++) {
                NotePool p = fw.state().pools().get(l);
                NotePool q = dS.pools().get(l);
                v += dot(p.summaries(), q.summaries()) + dot(p.scores(), q.scores());
                v += dot(fw.state().mamba().get(l).conv(), dS.mamba().get(l).conv());
                v += dot(fw.state().mamba().get(l).ssm(), dS.mamba().get(l).ssm());
            }
            return v;
        };
        check("x", x, g.dx(), 20, v -> loss.applyAsDouble(m.forward(NdBuffers.ofDoubles(v, x.shape()), s0, false)));
        for (int l = 0; l < c.layers(); l++) {
            int li = l;
            NotePool p0 = s0.pools().get(l);
            NotePool gp = g.dState().pools().get(l);
            check("state.pools[" + l + "].summaries", p0.summaries(), gp.summaries(), 8,
                    v -> loss.applyAsDouble(m.forward(x, replacePool(s0, li, new NotePool(
                            NdBuffers.ofDoubles(v, p0.summaries().shape()), p0.scores(), p0.count())), false)));
            check("state.pools[" + l + "].scores", p0.scores(), gp.scores(), 3,
                    v -> loss.applyAsDouble(m.forward(x, replacePool(s0, li, new NotePool(p0.summaries(),
                            NdBuffers.ofDoubles(v, p0.scores().shape()), p0.count())), false)));
            Mamba1State m0 = s0.mamba().get(l);
            check("state.mamba[" + l + "].conv", m0.conv(), g.dState().mamba().get(l).conv(), 3,
                    v -> loss.applyAsDouble(m.forward(x, replaceMamba(s0, li,
                            new Mamba1State(NdBuffers.ofDoubles(v, m0.conv().shape()), m0.ssm())), false)));
            check("state.mamba[" + l + "].ssm", m0.ssm(), g.dState().mamba().get(l).ssm(), 3,
                    v -> loss.applyAsDouble(m.forward(x, replaceMamba(s0, li,
                            new Mamba1State(m0.conv(), NdBuffers.ofDoubles(v, m0.ssm().shape()))), false)));
        }
        // 3 layers × (11 memory + 9 Mamba) + 2 cross-layer layers × 4
        assertEquals(3 * 20 + 2 * 4, m.parameters().size());
        for (Parameter p : m.parameters()) {
            INDArray orig = p.value().dup();
            check(p.name(), orig, p.grad(), p.name().contains(".mamba.") ? 3 : COORDS, v -> {
                p.value().assign(NdBuffers.ofDoubles(v, orig.shape()));
                return loss.applyAsDouble(m.forward(x, s0, false));
            });
            p.value().assign(orig);
        }
    }

    private static MemMambaState replacePool(MemMambaState s, int l, NotePool p) {
        return rebuild(s, l, p, null);
    }

    private static MemMambaState replaceMamba(MemMambaState s, int l, Mamba1State ms) {
        return rebuild(s, l, null, ms);
    }

    private static MemMambaState rebuild(MemMambaState s, int l, NotePool p, Mamba1State ms) {
        List<NotePool> pools = new ArrayList<>(s.pools());
        List<Mamba1State> mam = new ArrayList<>(s.mamba());
        if (p != null) {
            pools.set(l, p);
        }
        if (ms != null) {
            mam.set(l, ms);
        }
        return new MemMambaState(pools, mam);
    }

    private static void check(String name, INDArray at, INDArray analytic, int coords,
            Function<double[], Double> f) {
        GradientCheck.Result r = GradientCheck.check(f::apply, NdBuffers.toDoubles(at), NdBuffers.toDoubles(analytic),
                EPS, coords, name.hashCode());
        assertTrue(r.passed(1e-7), "d" + name + ": " + r);
    }
}
