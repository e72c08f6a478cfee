package io.mnemo.modules.miras;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.GradientCheck;
import io.mnemo.core.Mixer;
import io.mnemo.core.NdBuffers;
import java.util.ArrayList;
import java.util.List;
import java.util.function.DoubleSupplier;
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
 * The Miras layer for the three presets (and a linear/vector-decay/momentum composition): every
 * parameter's gradient (the learned initial memory included) and dx against finite differences in
 * double (3 random coordinates per array, to keep the class fast), the gradient of a carried state with
 * an open chunk (Yaad's δ_t buffer, momentum and per-key decay buffers), forward == T steps, bad input.
 */
class MirasBlockTest {
    static Stream<Arguments> configs() {
        return Stream.of(Arguments.of("moneta", MirasPresets.moneta(3)), Arguments.of("yaad", MirasPresets.yaad(3)),
                Arguments.of("memora", MirasPresets.memora(3)),
                Arguments.of("linear/l2/vector-decay/momentum", MirasConfig.of(new MemoryArchitecture.Linear(),
                        new AttentionalBias.L2(), new RetentionGate.VectorDecay(), new UpdateRule.Momentum())
                        .withChunkSize(2)));
    }

    static MirasBlock block(MirasConfig m) {
        return new MirasBlock(new MirasBlockConfig(4, 2, m, 3, 0.8, DataType.DOUBLE, 11));
    }

    static INDArray randn(long seed, long... shape) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.randn(DataType.DOUBLE, shape);
    }

    static List<INDArray> arrays(MirasBlockState s) {
        List<INDArray> a = new ArrayList<>(s.memory().memory());
        if (s.memory().momentum() != null) {
            a.addAll(s.memory().momentum());
        }
        MirasBuffer b = s.memory().buffer();
        List<INDArray> rest = new ArrayList<>();
        if (b != null) {
            rest.addAll(java.util.Arrays.asList(b.k(), b.v(), b.theta(), b.eta(), b.decay(), b.param()));
        }
        rest.addAll(java.util.Arrays.asList(s.convQ(), s.convK(), s.convV()));
        for (INDArray x : rest) {
            if (x != null) {
                a.add(x);
            }
        }
        return a;
    }

    static MirasBlockState like(MirasBlockState s, List<INDArray> a) {
        int i = 0;
        List<INDArray> mem = new ArrayList<>();
        for (int l = 0; l < s.memory().memory().size(); l++) {
            mem.add(a.get(i++));
        }
        List<INDArray> mom = null;
        if (s.memory().momentum() != null) {
            mom = new ArrayList<>();
            for (int l = 0; l < s.memory().momentum().size(); l++) {
                mom.add(a.get(i++));
            }
        }
        MirasBuffer b = s.memory().buffer();
        MirasBuffer nb = null;
        if (b != null) {
            INDArray[] src = {b.k(), b.v(), b.theta(), b.eta(), b.decay(), b.param()};
            INDArray[] dst = new INDArray[6];
            for (int j = 0; j < 6; j++) {
                dst[j] = src[j] == null ? null : a.get(i++);
            }
            nb = new MirasBuffer(dst[0], dst[1], dst[2], dst[3], dst[4], dst[5]);
        }
        INDArray[] conv = {s.convQ(), s.convK(), s.convV()};
        INDArray[] c = new INDArray[3];
        for (int j = 0; j < 3; j++) {
            c[j] = conv[j] == null ? null : a.get(i++);
        }
        return new MirasBlockState(new MirasState(mem, mom, nb), c[0], c[1], c[2], false);
    }

    static double loss(MirasBlock blk, INDArray x, MirasBlockState s0, INDArray ry, List<INDArray> rs) {
        Mixer.Forward<MirasBlockState> f = blk.forward(x, s0, false);
        double l = f.y().mul(ry).sumNumber().doubleValue();
        List<INDArray> fs = arrays(f.state());
        assertEquals(rs.size(), fs.size(), "state arrays");
        for (int i = 0; i < fs.size(); i++) {
            l += fs.get(i).mul(rs.get(i)).sumNumber().doubleValue();
        }
        return l;
    }

    static void checkArray(String what, INDArray a, INDArray analytic, DoubleSupplier f) {
        double[] x0 = NdBuffers.toDoubles(a);
        long[] shape = a.shape();
        GradientCheck.Result r = GradientCheck.check(xs -> {
            a.assign(NdBuffers.ofDoubles(xs, shape));
            return f.getAsDouble();
        }, x0.clone(), NdBuffers.toDoubles(analytic), 1e-6, 3, 13);
        a.assign(NdBuffers.ofDoubles(x0, shape));
        assertTrue(r.passed(1e-5), what + ": " + r);
    }

    static List<INDArray> randomLike(List<INDArray> a, long seed) {
        List<INDArray> r = new ArrayList<>();
        for (INDArray x : a) {
            r.add(randn(seed++, x.shape()).muli(0.3));
        }
        return r;
    }

    static Stream<Arguments> carried() {
        return configs().filter(a -> !a.get()[0].equals("moneta") && !a.get()[0].equals("memora"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("carried")
    void gradientsOfACarriedStateWithAnOpenChunkMatchFiniteDifferences(String name, MirasConfig m) {
        MirasBlock blk = block(m);
        int b = 1;
        MirasBlockState s0 = blk.forward(randn(5, b, 5, 4), null, false).state().detach();
        assertTrue(s0.memory().buffered() > 0, "an open chunk is carried");
        INDArray x = randn(6, b, 5, 4).muli(0.5);
        INDArray ry = randn(7, b, 5, 4);
        Mixer.Forward<MirasBlockState> probe = blk.forward(x, s0, false);
        List<INDArray> rs = randomLike(arrays(probe.state()), 40);
        Mixer.Forward<MirasBlockState> f = blk.forward(x, s0, true);
        Mixer.Backward<MirasBlockState> bw = blk.backward(f, ry, like(probe.state(), rs));
        DoubleSupplier l = () -> loss(blk, x, s0, ry, rs);
        List<INDArray> in = arrays(s0);
        List<INDArray> din = arrays(bw.dState());
        assertEquals(in.size(), din.size(), "dState has the incoming state's form");
        for (int i = 0; i < in.size(); i++) {
            checkArray(name + " dState[" + i + "]", in.get(i), din.get(i), l);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void forwardEqualsSteps(String name, MirasConfig m) {
        MirasBlock blk = block(m);
        int b = 2;
        int t = 8;
        INDArray x = randn(9, b, t, 4);
        Mixer.Forward<MirasBlockState> f = blk.forward(x, null, false);
        MirasBlockState s = blk.initialState(b);
        for (int i = 0; i < t; i++) {
            Mixer.Step<MirasBlockState> st = blk.step(x.get(NDArrayIndex.all(), NDArrayIndex.point(i),
                    NDArrayIndex.all()).dup('c'), s);
            MirasTestData.assertClose(name + " step " + i, st.y(), f.y().get(NDArrayIndex.all(), NDArrayIndex.point(i),
                    NDArrayIndex.all()).dup('c'), 1e-12);
            s = st.state();
        }
        MirasTestData.assertStateClose(name + " final", s.memory(), f.state().memory(), 1e-12);
    }

    @Test
    void badInputIsRejected() {
        MirasBlock blk = block(MirasPresets.yaad(3));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> blk.forward(Nd4j.zeros(DataType.DOUBLE, 2, 3, 5), null, false));
        assertTrue(e.getMessage().contains("x"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> blk.forward(Nd4j.zeros(DataType.FLOAT, 2, 3, 4), null, false));
        assertTrue(e.getMessage().contains("data type"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new MirasBlockConfig(5, 2, MirasPresets.yaad(3), 4, 1, DataType.FLOAT, 1));
        assertTrue(e.getMessage().contains("heads"), e.getMessage());
    }
}
