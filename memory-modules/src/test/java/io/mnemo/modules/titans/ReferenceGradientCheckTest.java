package io.mnemo.modules.titans;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.GradientCheck;
import io.mnemo.core.NdBuffers;
import io.mnemo.core.kernel.Backend;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The reference backward (tape) against central finite differences of the reference forward in double
 * precision, through several chunks and an incoming open chunk, for every input and every part of the
 * incoming state, with a loss that also weighs the outgoing state (memory, momentum and buffer).
 */
class ReferenceGradientCheckTest {
    private static final int B = 2;
    private static final int T = 10;
    private static final int H = 2;
    private static final int D = 3;
    private static final int C = 4;
    private static final int BUFFERED = 2;

    static Stream<Arguments> configs() {
        TitansOpConfig base = TitansOpConfig.defaults().withBackend(Backend.REFERENCE).withChunkSize(C).withExpansion(2);
        List<Arguments> out = new ArrayList<>();
        for (int depth : new int[] {1, 2}) {
            for (TitansReadMode read : TitansReadMode.values()) {
                for (boolean momentum : new boolean[] {true, false}) {
                    for (boolean clamp : new boolean[] {false, true}) {
                        out.add(Arguments.of(base.withDepth(depth).withReadMode(read).withMomentum(momentum)
                                .withMaxGradNorm(clamp ? 1.0 : Double.NaN)));
                    }
                }
            }
        }
        out.add(Arguments.of(base.withDepth(2).withGatesAndRead(TitansGateGranularity.CHUNK, TitansReadMode.COMMITTED)));
        out.add(Arguments.of(base.withDepth(1).withGatesAndRead(TitansGateGranularity.CHUNK, TitansReadMode.COMMITTED)
                .withMaxGradNorm(1.0)));
        out.add(Arguments.of(base.withDepth(3).withMaxGradNorm(1.0)));
        out.add(Arguments.of(base.withDepth(2).withActivation(TitansActivation.GELU_TANH)));
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void referenceBackwardMatchesFiniteDifferences(TitansOpConfig cfg) {
        TitansInputs in = TitansTestData.random(cfg, B, T, H, D, true, BUFFERED, DataType.DOUBLE, 42);
        INDArray dY = TitansTestData.randn(DataType.DOUBLE, 5, B, T, H, D);
        TitansForward f = TitansOps.forward(cfg, in, true);
        TitansState dFin = TitansTestData.randomLike(f.finalState(), 6);
        TitansGrads g = TitansOps.backward(f, dY, dFin);
        String c = cfg.toString();

        check(c + " q", cfg, in, dY, dFin, TitansInputs::q, (i, x) -> new TitansInputs(x, i.k(), i.v(), i.theta(), i.eta(), i.alpha(), i.initialState()), g.dq());
        check(c + " k", cfg, in, dY, dFin, TitansInputs::k, (i, x) -> new TitansInputs(i.q(), x, i.v(), i.theta(), i.eta(), i.alpha(), i.initialState()), g.dk());
        check(c + " v", cfg, in, dY, dFin, TitansInputs::v, (i, x) -> new TitansInputs(i.q(), i.k(), x, i.theta(), i.eta(), i.alpha(), i.initialState()), g.dv());
        check(c + " theta", cfg, in, dY, dFin, TitansInputs::theta, (i, x) -> new TitansInputs(i.q(), i.k(), i.v(), x, i.eta(), i.alpha(), i.initialState()), g.dTheta());
        check(c + " alpha", cfg, in, dY, dFin, TitansInputs::alpha, (i, x) -> new TitansInputs(i.q(), i.k(), i.v(), i.theta(), i.eta(), x, i.initialState()), g.dAlpha());
        if (cfg.momentum()) {
            check(c + " eta", cfg, in, dY, dFin, TitansInputs::eta, (i, x) -> new TitansInputs(i.q(), i.k(), i.v(), i.theta(), x, i.alpha(), i.initialState()), g.dEta());
        }
        TitansState s = in.initialState();
        TitansState gs = g.dInitialState();
        for (int l = 0; l < cfg.depth(); l++) {
            int li = l;
            check(c + " memory[" + l + "]", cfg, in, dY, dFin, i -> i.initialState().memory().get(li),
                    (i, x) -> i.withInitialState(withLayer(i.initialState(), li, x, false)), gs.memory().get(l));
            if (cfg.momentum()) {
                check(c + " momentum[" + l + "]", cfg, in, dY, dFin, i -> i.initialState().momentum().get(li),
                        (i, x) -> i.withInitialState(withLayer(i.initialState(), li, x, true)), gs.momentum().get(l));
            }
        }
        check(c + " bufK", cfg, in, dY, dFin, i -> i.initialState().bufK(), (i, x) -> i.withInitialState(new TitansState(s.memory(), s.momentum(), x, s.bufV(), s.bufTheta(), s.bufEta(), s.bufAlpha())), gs.bufK());
        check(c + " bufV", cfg, in, dY, dFin, i -> i.initialState().bufV(), (i, x) -> i.withInitialState(new TitansState(s.memory(), s.momentum(), s.bufK(), x, s.bufTheta(), s.bufEta(), s.bufAlpha())), gs.bufV());
        check(c + " bufTheta", cfg, in, dY, dFin, i -> i.initialState().bufTheta(), (i, x) -> i.withInitialState(new TitansState(s.memory(), s.momentum(), s.bufK(), s.bufV(), x, s.bufEta(), s.bufAlpha())), gs.bufTheta());
        check(c + " bufAlpha", cfg, in, dY, dFin, i -> i.initialState().bufAlpha(), (i, x) -> i.withInitialState(new TitansState(s.memory(), s.momentum(), s.bufK(), s.bufV(), s.bufTheta(), s.bufEta(), x)), gs.bufAlpha());
        if (cfg.momentum()) {
            check(c + " bufEta", cfg, in, dY, dFin, i -> i.initialState().bufEta(), (i, x) -> i.withInitialState(new TitansState(s.memory(), s.momentum(), s.bufK(), s.bufV(), s.bufTheta(), x, s.bufAlpha())), gs.bufEta());
        }
    }

    private static TitansState withLayer(TitansState s, int l, INDArray x, boolean momentum) {
        List<INDArray> mem = new ArrayList<>(s.memory());
        List<INDArray> mom = s.momentum() == null ? null : new ArrayList<>(s.momentum());
        if (momentum) {
            mom.set(l, x);
        } else {
            mem.set(l, x);
        }
        return new TitansState(mem, mom, s.bufK(), s.bufV(), s.bufTheta(), s.bufEta(), s.bufAlpha());
    }

    private static void check(String what, TitansOpConfig cfg, TitansInputs in, INDArray dY, TitansState dFin,
            Function<TitansInputs, INDArray> get, BiFunction<TitansInputs, INDArray, TitansInputs> with,
            INDArray analytic) {
        long[] shape = get.apply(in).shape();
        double[] x = NdBuffers.toDoubles(get.apply(in));
        GradientCheck.Result r = GradientCheck.check(
                xs -> TitansTestData.loss(TitansOps.forward(cfg, with.apply(in, NdBuffers.ofDoubles(xs, shape)), false), dY, dFin),
                x, NdBuffers.toDoubles(analytic), 1e-6, 40, 3);
        assertTrue(r.checked() > 0, what + ": nothing checked");
        // a zero gradient would pass against zero differences: every input must matter
        double max = 0;
        for (double a : NdBuffers.toDoubles(analytic)) {
            max = Math.max(max, Math.abs(a));
        }
        assertTrue(max > 1e-4, what + ": gradient is (nearly) zero, max |g| = " + max);
        assertTrue(r.passed(1e-7), what + ": " + r);
    }
}
