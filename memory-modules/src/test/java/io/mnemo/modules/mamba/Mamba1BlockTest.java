package io.mnemo.modules.mamba;

import static io.mnemo.modules.mamba.ScanTestData.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.GradientCheck;
import io.mnemo.core.Mixer;
import io.mnemo.core.NdBuffers;
import io.mnemo.core.Parameter;
import io.mnemo.core.kernel.Backend;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToDoubleFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** Mamba1Block: steps == forward, pieces == one pass, backward == finite differences in double. */
class Mamba1BlockTest {
    private static Mamba1Config small(Backend be, DataType t) {
        return new Mamba1Config(6, 3, 4, 2, 2, 1e-3, 0.1, 1e-4, 4, be, t, 7L);
    }

    /** A state with random values, so that carried conv inputs and scan state matter. */
    private static Mamba1State randomState(Mamba1Config c, int b, long seed) {
        return new Mamba1State(ScanTestData.randn(c.dataType(), seed, b, c.convKernel() - 1, c.dInner()),
                ScanTestData.randn(c.dataType(), seed + 1, b, c.dInner(), c.dState()));
    }

    @ParameterizedTest
    @EnumSource(value = Backend.class, names = {"REFERENCE", "CPU", "ND4J"})
    void stepsEqualForward(Backend be) {
        Mamba1Config c = small(be, DataType.FLOAT);
        Mamba1Block m = new Mamba1Block(c);
        int b = 2;
        int t = 7;
        INDArray x = ScanTestData.randn(DataType.FLOAT, 1, b, t, c.dModel());
        Mamba1State s0 = randomState(c, b, 2);
        Mixer.Forward<Mamba1State> f = m.forward(x, s0, false);
        Mamba1State s = s0;
        for (int i = 0; i < t; i++) {
            Mixer.Step<Mamba1State> st = m.step(x.get(NDArrayIndex.all(), NDArrayIndex.point(i), NDArrayIndex.all())
                    .dup('c'), s);
            assertClose("y at t=" + i, st.y(),
                    f.y().get(NDArrayIndex.all(), NDArrayIndex.point(i), NDArrayIndex.all()), 1e-5);
            s = st.state();
        }
        assertClose("conv state", s.conv(), f.state().conv(), 1e-6);
        assertClose("ssm state", s.ssm(), f.state().ssm(), 1e-5);
    }

    @ParameterizedTest
    @EnumSource(value = Backend.class, names = {"REFERENCE", "CPU", "ND4J"})
    void piecesWithCarriedStateEqualOnePass(Backend be) {
        Mamba1Config c = small(be, DataType.FLOAT);
        Mamba1Block m = new Mamba1Block(c);
        int b = 2;
        int t = 11;
        INDArray x = ScanTestData.randn(DataType.FLOAT, 3, b, t, c.dModel());
        Mixer.Forward<Mamba1State> whole = m.forward(x, null, false);
        int[] cuts = {0, 1, 3, 10, 11};
        Mamba1State s = null;
        List<INDArray> ys = new ArrayList<>();
        for (int i = 0; i + 1 < cuts.length; i++) {
            INDArray p = x.get(NDArrayIndex.all(), NDArrayIndex.interval(cuts[i], cuts[i + 1]), NDArrayIndex.all())
                    .dup('c');
            Mixer.Forward<Mamba1State> f = m.forward(p, s, false);
            ys.add(f.y());
            s = f.state();
        }
        assertClose("y", Nd4j.concat(1, ys.toArray(new INDArray[0])), whole.y(), 1e-5);
        assertClose("conv state", s.conv(), whole.state().conv(), 1e-6);
        assertClose("ssm state", s.ssm(), whole.state().ssm(), 1e-5);
    }

    @ParameterizedTest
    @EnumSource(value = Backend.class, names = {"CPU", "ND4J"})
    void fastBlockGradientsMatchReference(Backend be) {
        Mamba1Block ref = new Mamba1Block(small(Backend.REFERENCE, DataType.FLOAT));
        Mamba1Block cpu = new Mamba1Block(small(be, DataType.FLOAT));
        int b = 2;
        int t = 9;
        INDArray x = ScanTestData.randn(DataType.FLOAT, 4, b, t, 6);
        Mamba1State s0 = randomState(ref.config(), b, 5);
        INDArray dy = ScanTestData.randn(DataType.FLOAT, 6, b, t, 6);
        Mixer.Backward<Mamba1State> gr = ref.backward(ref.forward(x, s0, true), dy, null);
        Mixer.Backward<Mamba1State> gc = cpu.backward(cpu.forward(x, s0, true), dy, null);
        assertClose("dx", gc.dx(), gr.dx(), 1e-4);
        assertClose("dState.ssm", gc.dState().ssm(), gr.dState().ssm(), 1e-4);
        assertClose("dState.conv", gc.dState().conv(), gr.dState().conv(), 1e-4);
        for (int i = 0; i < ref.parameters().size(); i++) {
            Parameter pr = ref.parameters().get(i);
            assertClose("d" + pr.name(), cpu.parameters().get(i).grad(), pr.grad(), 1e-4);
        }
    }

    /** In double: the reference backend, and the nd4j backend (which computes in the inputs' type). */
    @ParameterizedTest
    @EnumSource(value = Backend.class, names = {"REFERENCE", "ND4J"})
    void backwardMatchesFiniteDifferencesOnEveryParameterAndInput(Backend be) {
        Mamba1Config c = small(be, DataType.DOUBLE);
        Mamba1Block m = new Mamba1Block(c);
        int b = 2;
        int t = 5;
        INDArray x = ScanTestData.randn(DataType.DOUBLE, 8, b, t, c.dModel());
        Mamba1State s0 = randomState(c, b, 9);
        INDArray dy = ScanTestData.randn(DataType.DOUBLE, 10, b, t, c.dModel());
        Mamba1State dS = randomState(c, b, 11);
        for (Parameter p : m.parameters()) {
            p.grad().assign(0);
        }
        Mixer.Forward<Mamba1State> f = m.forward(x, s0, true);
        Mixer.Backward<Mamba1State> g = m.backward(f, dy, dS);
        ToDoubleFunction<Mixer.Forward<Mamba1State>> loss = fw -> dot(fw.y(), dy) + dot(fw.state().conv(), dS.conv())
                + dot(fw.state().ssm(), dS.ssm());
        check("x", x, g.dx(), vals -> loss.applyAsDouble(m.forward(NdBuffers.ofDoubles(vals, x.shape()), s0, false)));
        check("state.conv", s0.conv(), g.dState().conv(), vals -> loss.applyAsDouble(m.forward(x,
                new Mamba1State(NdBuffers.ofDoubles(vals, s0.conv().shape()), s0.ssm()), false)));
        check("state.ssm", s0.ssm(), g.dState().ssm(), vals -> loss.applyAsDouble(m.forward(x,
                new Mamba1State(s0.conv(), NdBuffers.ofDoubles(vals, s0.ssm().shape())), false)));
        assertEquals(9, m.parameters().size());
        for (Parameter p : m.parameters()) {
            INDArray orig = p.value().dup();
            check(p.name(), orig, p.grad(), vals -> {
                p.value().assign(NdBuffers.ofDoubles(vals, orig.shape()));
                return loss.applyAsDouble(m.forward(x, s0, false));
            });
            p.value().assign(orig);
        }
    }

    private static void check(String name, INDArray at, INDArray analytic, ToDoubleFunction<double[]> f) {
        GradientCheck.Result r = GradientCheck.check(f, NdBuffers.toDoubles(at), NdBuffers.toDoubles(analytic), 1e-6,
                120, 3);
        assertTrue(r.passed(1e-7), "d" + name + ": " + r);
    }

    private static double dot(INDArray a, INDArray b) {
        double[] x = NdBuffers.toDoubles(a);
        double[] y = NdBuffers.toDoubles(b);
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += x[i] * y[i];
        }
        return s;
    }

    @Test
    void initialisationFollowsMamba() {
        Mamba1Block m = new Mamba1Block(Mamba1Config.of(32).withDataType(DataType.DOUBLE));
        Parameter aLog = m.parameters().stream().filter(p -> p.name().equals("A_log")).findFirst().orElseThrow();
        assertEquals(Math.log(16), aLog.value().getDouble(5, 15), 1e-12);
        assertEquals(0.0, aLog.value().getDouble(63, 0), 1e-12);
        Parameter bias = m.parameters().stream().filter(p -> p.name().equals("dt_proj.bias")).findFirst().orElseThrow();
        for (double v : NdBuffers.toDoubles(bias.value())) {
            double dt = ReferenceSelectiveScanKernel.softplus(v);
            assertTrue(dt >= 1e-3 - 1e-12 && dt <= 0.1 + 1e-12, "softplus(dt_bias) = " + dt + " outside [1e-3, 0.1]");
        }
        assertEquals(2, m.config().dtRank());
        assertEquals(64, m.config().dInner());
    }

    @Test
    void badInputsAreRejectedWithTheirNames() {
        Mamba1Block m = new Mamba1Block(small(Backend.CPU, DataType.FLOAT));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> m.forward(Nd4j.create(DataType.FLOAT, 2, 3, 5), null, false));
        assertTrue(e.getMessage().contains("x has shape [2, 3, 5], expected [B, T, D] = [*, *, 6]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> m.forward(Nd4j.create(DataType.FLOAT, 2, 3, 6),
                new Mamba1State(Nd4j.create(DataType.FLOAT, 2, 2, 12), Nd4j.create(DataType.FLOAT, 2, 12, 3)), false));
        assertTrue(e.getMessage().contains("state.conv has shape [2, 2, 12], expected [B, K-1, E*D] = [2, 3, 12]"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new Mamba1Config(6, 3, 1, 2, 2, 1e-3, 0.1, 1e-4, 4,
                Backend.CPU, DataType.FLOAT, 1));
        assertTrue(e.getMessage().contains("convKernel must be >= 2"), e.getMessage());
    }
}
