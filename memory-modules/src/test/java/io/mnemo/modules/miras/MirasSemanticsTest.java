package io.mnemo.modules.miras;

import static io.mnemo.modules.miras.MirasTestData.assertClose;
import static io.mnemo.modules.miras.MirasTestData.assertStateClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.NdBuffers;
import io.mnemo.modules.titans.TitansActivation;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The op's contract: one forward over T tokens == forwards over pieces with the state carried == T
 * calls of step (outputs and final state, double within 1e-12), for the presets and other compositions,
 * with chunk sizes that do not divide T and T < C; a gradient taken across pieces equals the one-call
 * gradient; KL-retained memories stay on the simplex; bad inputs are rejected naming the argument.
 */
class MirasSemanticsTest {
    private static final int B = 2;
    private static final int H = 2;
    private static final int D = 3;

    static Stream<Arguments> configs() {
        MemoryArchitecture lin = new MemoryArchitecture.Linear();
        return Stream.of(Arguments.of("moneta C=4", MirasPresets.moneta(4)),
                Arguments.of("yaad C=3", MirasPresets.yaad(3)),
                Arguments.of("memora C=5", MirasPresets.memora(5)),
                Arguments.of("memora C=16 (T < C)", MirasPresets.memora(16)),
                Arguments.of("linear/value-shift/elastic-net/momentum C=3",
                        MirasConfig.of(lin, new AttentionalBias.ValueShift(0.1, 1e-6),
                                new RetentionGate.ElasticNet(0.02, 0.01), new UpdateRule.Momentum()).withChunkSize(3)),
                Arguments.of("mlp/l2/scalar/momentum C=4 (Titans)",
                        MirasConfig.of(new MemoryArchitecture.Mlp(2, TitansActivation.SILU), new AttentionalBias.L2(),
                                new RetentionGate.ScalarDecay(), new UpdateRule.Momentum()).withChunkSize(4)),
                Arguments.of("linear/dot/vector-decay/gd C=1",
                        MirasConfig.of(lin, new AttentionalBias.Dot(), new RetentionGate.VectorDecay(),
                                new UpdateRule.Gd())));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void forwardEqualsPiecesEqualsSteps(String name, MirasConfig cfg) {
        int t = 11;
        MirasInputs in = MirasTestData.random(cfg, B, t, H, D, D, true, 0, DataType.DOUBLE, 61);
        MirasForward whole = MirasOps.forward(cfg, in, false);

        int[] cuts = {0, 2, 3, 8, 11};
        List<INDArray> ys = new ArrayList<>();
        MirasState s = in.initialState();
        for (int i = 0; i + 1 < cuts.length; i++) {
            MirasForward f = MirasOps.forward(cfg, MirasTestData.slice(in, cuts[i], cuts[i + 1], s), false);
            ys.add(f.y());
            s = f.finalState();
        }
        assertClose(name + " pieces y", Nd4j.concat(1, ys.toArray(new INDArray[0])), whole.y(), 1e-12);
        assertStateClose(name + " pieces state", s, whole.finalState(), 1e-12);

        s = in.initialState();
        List<INDArray> steps = new ArrayList<>();
        for (int i = 0; i < t; i++) {
            MirasForward f = MirasOps.step(cfg, MirasTestData.token(in.q(), i), MirasTestData.token(in.k(), i),
                    MirasTestData.token(in.v(), i), MirasTestData.token(in.theta(), i),
                    MirasTestData.token(in.eta(), i), MirasTestData.token(in.decay(), i),
                    MirasTestData.token(in.param(), i), s);
            steps.add(f.y());
            s = f.finalState();
        }
        assertClose(name + " steps y", Nd4j.concat(1, steps.toArray(new INDArray[0])), whole.y(), 1e-12);
        assertStateClose(name + " steps state", s, whole.finalState(), 1e-12);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void gradientAcrossPiecesEqualsOneCall(String name, MirasConfig cfg) {
        int t = 9;
        MirasInputs in = MirasTestData.random(cfg, B, t, H, D, D, true, 0, DataType.DOUBLE, 62);
        MirasForward whole = MirasOps.forward(cfg, in, true);
        INDArray dY = MirasTestData.randn(DataType.DOUBLE, 63, B, t, H, D);
        MirasState dFinal = MirasTestData.randomLike(whole.finalState(), 64);
        MirasGrads g = MirasOps.backward(whole, dY, dFinal);

        int cut = 5;
        MirasForward f1 = MirasOps.forward(cfg, MirasTestData.slice(in, 0, cut, in.initialState()), true);
        MirasForward f2 = MirasOps.forward(cfg, MirasTestData.slice(in, cut, t, f1.finalState()), true);
        MirasGrads g2 = MirasOps.backward(f2, MirasTestData.slice(dY, cut, t), dFinal);
        MirasGrads g1 = MirasOps.backward(f1, MirasTestData.slice(dY, 0, cut), g2.dInitialState());
        assertClose(name + " dq", Nd4j.concat(1, g1.dq(), g2.dq()), g.dq(), 1e-10);
        INDArray dk2 = g2.dk();
        INDArray dv2 = g2.dv();
        // the second piece's buffered tokens are the first piece's tail: their gradients reach it through the state
        assertClose(name + " dk", Nd4j.concat(1, g1.dk(), dk2), g.dk(), 1e-10);
        assertClose(name + " dv", Nd4j.concat(1, g1.dv(), dv2), g.dv(), 1e-10);
        assertClose(name + " dTheta", Nd4j.concat(1, g1.dTheta(), g2.dTheta()), g.dTheta(), 1e-10);
        if (g.dDecay() != null) {
            assertClose(name + " dDecay", Nd4j.concat(1, g1.dDecay(), g2.dDecay()), g.dDecay(), 1e-10);
        }
        assertStateClose(name + " dInitialState", g1.dInitialState(), g.dInitialState(), 1e-10);
    }

    @Test
    void klRetainedMemoryStaysOnTheSimplex() {
        MirasConfig cfg = MirasPresets.memora(4);
        MirasInputs in = MirasTestData.random(cfg, B, 30, H, D, D, false, 0, DataType.DOUBLE, 65);
        MirasState s = null;
        for (int piece = 0; piece < 3; piece++) {
            MirasForward f = MirasOps.forward(cfg, MirasTestData.slice(in, piece * 10, piece * 10 + 10, s), false);
            s = f.finalState();
            MemoryShape m = cfg.shape(D, D);
            double[] a = MirasSeq.flatten(s.memory(), m, B * H);
            double[] w = new double[m.size()];
            double[] ahead = new double[m.size()];
            for (int bh = 0; bh < B * H; bh++) {
                System.arraycopy(a, bh * m.size(), ahead, 0, m.size());
                cfg.retention().map(ahead, m, w);
                for (int l = 0; l < m.depth(); l++) {
                    for (int r = 0; r < m.rows(l); r++) {
                        double sum = 0;
                        for (int j = 0; j < m.cols(l); j++) {
                            double x = w[m.offset(l) + r * m.cols(l) + j];
                            assertTrue(x > 0 && x < 1, "weight " + x + " off the simplex");
                            sum += x;
                        }
                        assertEquals(1.0, sum, 1e-12, "row sum of layer " + l + " row " + r);
                    }
                }
            }
            // the memory moved: the logits are not the initial zeros
            assertTrue(NdBuffers.toDoubles(s.memory().get(0))[0] != 0);
        }
        assertNotNull(s);
    }

    @Test
    void badInputsAreRejectedNamingTheArgument() {
        MirasConfig yaad = MirasPresets.yaad(4);
        MirasInputs in = MirasTestData.random(yaad, 1, 5, 2, D, D, false, 0, DataType.DOUBLE, 66);
        message(() -> MirasOps.forward(yaad, new MirasInputs(in.q(), in.k(), in.v(), in.theta(), in.eta(), in.decay(),
                null, null), false), "param");
        message(() -> MirasOps.forward(yaad, new MirasInputs(in.q(), in.k(), in.v(), in.theta(),
                in.theta(), in.decay(), in.param(), null), false), "eta was given");
        message(() -> MirasOps.forward(yaad, new MirasInputs(in.q(), in.k(), in.v(), in.theta(), null, null,
                in.param(), null), false), "decay");
        message(() -> MirasOps.forward(yaad, new MirasInputs(in.q(), in.q().reshape(1, 5, 1, 6), in.v(), in.theta(),
                null, in.decay(), in.param(), null), false), "k");
        message(() -> MirasOps.forward(yaad.withCheckInputs(true), new MirasInputs(in.q(), in.k(), in.v(),
                in.theta().neg(), null, in.decay(), in.param(), null), false), "theta");
        message(() -> MirasOps.forward(yaad.withCheckInputs(true), new MirasInputs(in.q(), in.k(), in.v(),
                in.theta(), null, in.decay().add(1.5), in.param(), null), false), "decay");
        message(() -> MirasOps.forward(yaad, new MirasInputs(in.q(), in.k(), in.v(), in.theta(), null, in.decay(),
                in.param().neg(), null), false), "delta_t");
        message(() -> MirasOps.forward(yaad, in.withInitialState(MirasTestData.randomState(yaad,
                new java.util.Random(1), 1, 2, D, D, 0, DataType.FLOAT)), false), "data type");
        message(() -> MirasOps.forward(yaad.withChunkSize(2), in.withInitialState(MirasTestData.randomState(yaad,
                new java.util.Random(1), 1, 2, D, D, 3, DataType.DOUBLE)), false), "fewer than chunkSize");
        MirasConfig vecMlp = MirasConfig.of(MirasPresets.memory(), new AttentionalBias.Dot(),
                new RetentionGate.VectorDecay(), new UpdateRule.Gd());
        message(() -> vecMlp.shape(D, D), "single-layer");
        message(() -> MirasPresets.moneta(0), "chunkSize");
        MirasForward f = MirasOps.forward(yaad, in, false);
        message(() -> MirasOps.backward(f, null, null), "save=true");
    }

    private static void message(org.junit.jupiter.api.function.Executable e, String part) {
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, e);
        assertTrue(ex.getMessage().contains(part), () -> "message '" + ex.getMessage() + "' should contain '" + part + "'");
    }
}
