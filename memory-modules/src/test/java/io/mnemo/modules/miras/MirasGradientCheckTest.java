package io.mnemo.modules.miras;

import static org.junit.jupiter.api.Assertions.fail;

import io.mnemo.modules.miras.AttentionalBias.Huber;
import io.mnemo.modules.titans.TitansActivation;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The generic kernel's backward against central finite differences in double, through several chunks
 * (T = 7 with C ∈ {1, 2, 3}, an open chunk carried in and one carried out), for a spread of compositions
 * covering every bias, retention gate, rule and architecture: every input, the initial memory, momentum
 * and buffered tokens, with a loss on y and on the whole final state.
 */
class MirasGradientCheckTest {
    private static final double H = 1e-6;
    private static final double TOL = 2e-6;

    static Stream<Arguments> configs() {
        MemoryArchitecture lin = new MemoryArchitecture.Linear();
        MemoryArchitecture mlp = new MemoryArchitecture.Mlp(2, TitansActivation.SILU);
        return Stream.of(
                Arguments.of("linear/l2/scalar-decay/momentum",
                        MirasConfig.of(lin, new AttentionalBias.L2(), new RetentionGate.ScalarDecay(),
                                new UpdateRule.Momentum()).withChunkSize(3), 3, 4),
                Arguments.of("linear/dot/vector-decay/gd",
                        MirasConfig.of(lin, new AttentionalBias.Dot(), new RetentionGate.VectorDecay(),
                                new UpdateRule.Gd()).withChunkSize(2), 4, 3),
                Arguments.of("mlp/lp3/lq4/gd (Moneta)",
                        MirasConfig.of(mlp, new AttentionalBias.Lp(3, 1e-6), new RetentionGate.Lq(4, 1e-6),
                                new UpdateRule.Gd()).withChunkSize(3), 3, 3),
                Arguments.of("mlp/huber-δt/scalar-decay/momentum (Yaad)",
                        MirasConfig.of(mlp, Huber.perToken(Huber.Mode.COORDINATE), new RetentionGate.ScalarDecay(),
                                new UpdateRule.Momentum()).withChunkSize(3), 3, 3),
                Arguments.of("mlp/l2/kl/gd (Memora)",
                        MirasConfig.of(mlp, new AttentionalBias.L2(), new RetentionGate.Kl(1), new UpdateRule.Gd())
                                .withChunkSize(2), 3, 3),
                Arguments.of("linear/value-shift/elastic-net/momentum",
                        MirasConfig.of(lin, new AttentionalBias.ValueShift(0.2, 1e-6),
                                new RetentionGate.ElasticNet(0.03, 0.02), new UpdateRule.Momentum()).withChunkSize(3),
                        3, 3),
                Arguments.of("mlp/huber-norm-δt/l2-prev/gd C=1",
                        MirasConfig.of(mlp, Huber.perToken(Huber.Mode.NORM), new RetentionGate.L2Prev(),
                                new UpdateRule.Gd()), 3, 3),
                Arguments.of("linear/lp1.5/none/gd C=2",
                        MirasConfig.of(lin, new AttentionalBias.Lp(1.5, 1e-4), new RetentionGate.None(),
                                new UpdateRule.Gd()).withChunkSize(2), 3, 2));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void backwardMatchesFiniteDifferences(String name, MirasConfig cfg, int dk, int dv) {
        int b = 1;
        int h = 2;
        int t = 7;
        int buffered = cfg.chunkSize() > 1 ? 1 : 0;
        MirasInputs in = MirasTestData.random(cfg, b, t, h, dk, dv, true, buffered, DataType.DOUBLE, 41);
        MirasForward f = MirasOps.forward(cfg, in, true);
        INDArray dY = MirasTestData.randn(DataType.DOUBLE, 42, b, t, h, dv);
        MirasState dFinal = MirasTestData.randomLike(f.finalState(), 43);
        MirasGrads g = MirasOps.backward(f, dY, dFinal);

        java.util.function.DoubleSupplier loss = () -> {
            MirasForward r = MirasOps.forward(cfg, in, false);
            return dot(r.y(), dY) + stateDot(r.finalState(), dFinal);
        };
        check(name + " q", in.q(), g.dq(), loss);
        check(name + " k", in.k(), g.dk(), loss);
        check(name + " v", in.v(), g.dv(), loss);
        check(name + " theta", in.theta(), g.dTheta(), loss);
        check(name + " eta", in.eta(), g.dEta(), loss);
        check(name + " decay", in.decay(), g.dDecay(), loss);
        check(name + " param", in.param(), g.dParam(), loss);
        MirasState s = in.initialState();
        MirasState ds = g.dInitialState();
        for (int l = 0; l < s.memory().size(); l++) {
            check(name + " memory[" + l + "]", s.memory().get(l), ds.memory().get(l), loss);
            if (s.momentum() != null) {
                check(name + " momentum[" + l + "]", s.momentum().get(l), ds.momentum().get(l), loss);
            }
        }
        if (s.buffer() != null) {
            MirasBuffer x = s.buffer();
            MirasBuffer dx = ds.buffer();
            check(name + " buffer.k", x.k(), dx.k(), loss);
            check(name + " buffer.v", x.v(), dx.v(), loss);
            check(name + " buffer.theta", x.theta(), dx.theta(), loss);
            check(name + " buffer.eta", x.eta(), dx.eta(), loss);
            check(name + " buffer.decay", x.decay(), dx.decay(), loss);
            check(name + " buffer.param", x.param(), dx.param(), loss);
        }
    }

    private static void check(String what, INDArray x, INDArray analytic, java.util.function.DoubleSupplier loss) {
        if (x == null) {
            if (analytic != null) {
                fail(what + ": gradient given for an absent input");
            }
            return;
        }
        if (analytic == null) {
            fail(what + ": no gradient");
        }
        List<String> bad = new ArrayList<>();
        for (long i = 0; i < x.length(); i++) {
            double x0 = x.getDouble(i);
            x.putScalar(i, x0 + H);
            double fp = loss.getAsDouble();
            x.putScalar(i, x0 - H);
            double fm = loss.getAsDouble();
            x.putScalar(i, x0);
            double fd = (fp - fm) / (2 * H);
            double an = analytic.getDouble(i);
            if (!(Math.abs(fd - an) <= TOL * Math.max(1, Math.abs(fd)))) {
                bad.add("[" + i + "] analytic " + an + " vs fd " + fd);
            }
        }
        if (!bad.isEmpty()) {
            fail(what + ": " + bad.size() + " of " + x.length() + " differ, e.g. " + bad.subList(0, Math.min(4, bad.size())));
        }
    }

    static double dot(INDArray a, INDArray b) {
        return a == null || b == null || a.length() == 0 ? 0 : a.mul(b).sumNumber().doubleValue();
    }

    static double stateDot(MirasState s, MirasState g) {
        double r = 0;
        for (int l = 0; l < s.memory().size(); l++) {
            r += dot(s.memory().get(l), g.memory().get(l));
            if (s.momentum() != null) {
                r += dot(s.momentum().get(l), g.momentum().get(l));
            }
        }
        if (s.buffer() != null && g.buffer() != null) {
            MirasBuffer x = s.buffer();
            MirasBuffer y = g.buffer();
            r += dot(x.k(), y.k()) + dot(x.v(), y.v()) + dot(x.theta(), y.theta()) + dot(x.eta(), y.eta())
                    + dot(x.decay(), y.decay()) + dot(x.param(), y.param());
        }
        return r;
    }
}
