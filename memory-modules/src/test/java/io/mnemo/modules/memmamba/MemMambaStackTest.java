package io.mnemo.modules.memmamba;

import static io.mnemo.modules.memmamba.MemMambaTestData.assertClose;
import static io.mnemo.modules.memmamba.MemMambaTestData.assertStatesClose;
import static io.mnemo.modules.memmamba.MemMambaTestData.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.Mixer;
import io.mnemo.core.NdBuffers;
import io.mnemo.core.Parameter;
import io.mnemo.core.kernel.Backend;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The carried-state contract in float: one forward over T tokens == forward over uneven pieces with
 * the state carried == T calls of step, on outputs and on every part of the final state; and the float
 * CPU stack == the double reference stack on outputs, states and every gradient.
 */
class MemMambaStackTest {
    /** D = 8, L = 3, N = 4, E = 2, conv 4, Ds = 4 (2 heads), K = 4, τ₁ = 0.3, τ₂ = 0, p = 2. */
    static MemMambaConfig small(PoolPolicy policy, Backend be, DataType t) {
        return new MemMambaConfig(8, 3, 4, 2, 4, 4, 4, 0.3, 0.0, policy, 2, 2, be, t, 5L);
    }

    static Stream<Arguments> lengthsAndPolicies() {
        List<Arguments> a = new ArrayList<>();
        for (int t : new int[] {1, 7, 63}) {
            for (PoolPolicy p : PoolPolicy.values()) {
                a.add(Arguments.of(t, p));
            }
        }
        return a.stream();
    }

    @ParameterizedTest
    @MethodSource("lengthsAndPolicies")
    void forwardEqualsPiecesEqualsSteps(int t, PoolPolicy policy) {
        MemMambaConfig c = small(policy, Backend.CPU, DataType.FLOAT);
        MemMambaStack m = new MemMambaStack(c);
        int b = 2;
        INDArray x = randn(DataType.FLOAT, 100 + t, b, t, c.dModel());
        MemMambaState s0 = MemMambaTestData.randomState(c, b, new int[] {1, 4}, 7);
        Mixer.Forward<MemMambaState> whole = m.forward(x, s0, true);
        if (t == 63) {
            MemMambaTrace tr = MemMambaStack.trace(whole);
            for (int l = 0; l < c.layers(); l++) {
                assertTrue(tr.writes()[l] > 2 * c.poolSize() && tr.evictions()[l] > 0 && tr.reads()[l] > 0,
                        "layer " + l + " writes " + Arrays.toString(tr.writes()) + " evictions "
                                + Arrays.toString(tr.evictions()) + " reads " + Arrays.toString(tr.reads()));
            }
            assertTrue(tr.crossReads()[1] > 0, "cross-layer reads " + Arrays.toString(tr.crossReads()));
        }
        // the incoming state is not modified
        assertStatesClose("incoming state after forward", s0, MemMambaTestData.randomState(c, b, new int[] {1, 4}, 7),
                0);
        int[] cuts = t == 1 ? new int[] {0, 1} : t == 7 ? new int[] {0, 1, 3, 7} : new int[] {0, 1, 20, 21, 50, 63};
        MemMambaState s = s0;
        List<INDArray> ys = new ArrayList<>();
        for (int i = 0; i + 1 < cuts.length; i++) {
            INDArray p = x.get(NDArrayIndex.all(), NDArrayIndex.interval(cuts[i], cuts[i + 1]), NDArrayIndex.all())
                    .dup('c');
            Mixer.Forward<MemMambaState> f = m.forward(p, s, false);
            ys.add(f.y());
            s = f.state();
        }
        assertClose("pieces y", Nd4j.concat(1, ys.toArray(new INDArray[0])), whole.y(), 1e-4);
        assertStatesClose("pieces state", s, whole.state(), 1e-4);
        s = s0;
        for (int i = 0; i < t; i++) {
            Mixer.Step<MemMambaState> st = m.step(x.get(NDArrayIndex.all(), NDArrayIndex.point(i), NDArrayIndex.all())
                    .dup('c'), s);
            assertClose("step y at t=" + i, st.y(),
                    whole.y().get(NDArrayIndex.all(), NDArrayIndex.point(i), NDArrayIndex.all()), 1e-4);
            s = st.state();
        }
        assertStatesClose("steps state", s, whole.state(), 1e-4);
    }

    @Test
    void floatCpuStackMatchesDoubleReferenceOnOutputsStatesAndGradients() {
        MemMambaConfig cd = small(PoolPolicy.PRIORITY, Backend.REFERENCE, DataType.DOUBLE).withCrossLayerPeriod(1);
        MemMambaConfig cf = cd.withBackend(Backend.CPU).withDataType(DataType.FLOAT);
        MemMambaStack md = new MemMambaStack(cd);
        MemMambaStack mf = new MemMambaStack(cf);
        for (int i = 0; i < md.parameters().size(); i++) {
            mf.parameters().get(i).value().assign(md.parameters().get(i).value().castTo(DataType.FLOAT));
        }
        int b = 2;
        int t = 37;
        INDArray x = randn(DataType.DOUBLE, 11, b, t, cd.dModel());
        INDArray dy = randn(DataType.DOUBLE, 12, b, t, cd.dModel());
        MemMambaState s0 = MemMambaTestData.randomState(cd, b, new int[] {0, 3}, 13);
        MemMambaState dS = MemMambaTestData.randomState(cd, b, new int[] {4, 4}, 14);
        Mixer.Forward<MemMambaState> fd = md.forward(x, s0, true);
        Mixer.Forward<MemMambaState> ff = mf.forward(x.castTo(DataType.FLOAT), toFloat(s0), true);
        MemMambaTrace tr = MemMambaStack.trace(fd);
        for (int l = 0; l < cd.layers(); l++) {
            assertTrue(tr.margin()[l] > 1e-3, "decision margin " + Arrays.toString(tr.margin()));
            assertTrue(tr.evictions()[l] > 0 && tr.reads()[l] > 0, "evictions " + Arrays.toString(tr.evictions())
                    + " reads " + Arrays.toString(tr.reads()));
        }
        assertClose("y", ff.y(), fd.y(), 1e-4);
        assertStatesClose("state", ff.state(), fd.state(), 1e-4);
        Mixer.Backward<MemMambaState> gd = md.backward(fd, dy, dS);
        Mixer.Backward<MemMambaState> gf = mf.backward(ff, dy.castTo(DataType.FLOAT), toFloat(dS));
        assertClose("dx", gf.dx(), gd.dx(), 1e-4);
        for (int l = 0; l < cd.layers(); l++) {
            assertClose("dState.pools[" + l + "].summaries", gf.dState().pools().get(l).summaries(),
                    gd.dState().pools().get(l).summaries(), 1e-4);
            assertClose("dState.pools[" + l + "].scores", gf.dState().pools().get(l).scores(),
                    gd.dState().pools().get(l).scores(), 1e-4);
            assertClose("dState.mamba[" + l + "].conv", gf.dState().mamba().get(l).conv(),
                    gd.dState().mamba().get(l).conv(), 1e-4);
            assertClose("dState.mamba[" + l + "].ssm", gf.dState().mamba().get(l).ssm(),
                    gd.dState().mamba().get(l).ssm(), 1e-4);
        }
        for (int i = 0; i < md.parameters().size(); i++) {
            Parameter p = md.parameters().get(i);
            assertClose("d" + p.name(), mf.parameters().get(i).grad(), p.grad(), 1e-4);
        }
    }

    private static MemMambaState toFloat(MemMambaState s) {
        List<NotePool> pools = new ArrayList<>();
        List<io.mnemo.modules.mamba.Mamba1State> ms = new ArrayList<>();
        for (int l = 0; l < s.pools().size(); l++) {
            NotePool p = s.pools().get(l);
            pools.add(new NotePool(p.summaries().castTo(DataType.FLOAT), p.scores().castTo(DataType.FLOAT),
                    p.count().dup()));
            io.mnemo.modules.mamba.Mamba1State m = s.mamba().get(l);
            ms.add(new io.mnemo.modules.mamba.Mamba1State(m.conv().castTo(DataType.FLOAT),
                    m.ssm().castTo(DataType.FLOAT)));
        }
        return new MemMambaState(pools, ms);
    }

    @Test
    void emptySequenceReturnsEmptyOutputAndUnchangedState() {
        MemMambaConfig c = small(PoolPolicy.FIFO, Backend.CPU, DataType.FLOAT);
        MemMambaStack m = new MemMambaStack(c);
        MemMambaState s0 = MemMambaTestData.randomState(c, 2, new int[] {2, 4}, 3);
        Mixer.Forward<MemMambaState> f = m.forward(Nd4j.create(DataType.FLOAT, 2, 0, c.dModel()), s0, true);
        assertEquals(List.of(2L, 0L, 8L), Arrays.stream(f.y().shape()).boxed().toList());
        assertStatesClose("state", f.state(), s0, 0);
        MemMambaState dS = MemMambaTestData.randomState(c, 2, new int[] {4, 4}, 4);
        Mixer.Backward<MemMambaState> g = m.backward(f, Nd4j.create(DataType.FLOAT, 2, 0, c.dModel()), dS);
        assertEquals(0, g.dx().length());
        assertStatesClose("dState", g.dState(), dS, 0);
    }

    @Test
    void defaultsBuildAndRun() {
        MemMambaConfig c = MemMambaConfig.of(32, 4);
        assertEquals(16, c.summaryDim());
        assertEquals(16, c.poolSize());
        assertEquals(2, c.crossLayerPeriod());
        assertEquals(PoolPolicy.FIFO, c.policy());
        assertTrue(c.crossLayerAt(1) && c.crossLayerAt(3) && !c.crossLayerAt(0) && !c.crossLayerAt(2));
        MemMambaStack m = new MemMambaStack(c);
        INDArray x = randn(DataType.FLOAT, 1, 2, 40, 32);
        Mixer.Forward<MemMambaState> f = m.forward(x, null, true);
        double[] y = NdBuffers.toDoubles(f.y());
        assertTrue(Arrays.stream(y).allMatch(Double::isFinite));
        MemMambaTrace tr = MemMambaStack.trace(f);
        // τ₁ = τ₂ = 0 with zero biases: a good share of the tokens write and read
        assertTrue(tr.writes()[0] > 10 && tr.reads()[0] > 10, Arrays.toString(tr.writes()) + " "
                + Arrays.toString(tr.reads()));
        assertTrue(Arrays.stream(tr.maxFill()).allMatch(v -> v <= 16));
    }
}
