package io.mnemo.modules.linear;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.GradientCheck;
import io.mnemo.core.NdBuffers;
import io.mnemo.core.kernel.Backend;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The reference backward (and so every backend compared with it) against central finite differences
 * of the reference forward, in double precision, for every input of every op.
 */
class ReferenceGradientCheckTest {
    private static final int B = 2;
    private static final int T = 9;
    private static final int H = 2;
    private static final int DK = 4;
    private static final int DV = 5;

    @ParameterizedTest
    @EnumSource(LinearOp.class)
    void referenceBackwardMatchesFiniteDifferences(LinearOp op) {
        LinearOpConfig cfg = LinearOpConfig.of(op).withBackend(Backend.REFERENCE).withScale(0.7);
        LinearInputs in = LinearTestData.random(op, B, T, H, DK, DV, true, DataType.DOUBLE, 42);
        INDArray dO = LinearTestData.randn(DataType.DOUBLE, 5, B, T, H, DV);
        INDArray dFin = LinearTestData.randn(DataType.DOUBLE, 6, B, H, DK, DV);
        LinearGrads g = LinearOps.backward(LinearOps.forward(cfg, in, true), dO, dFin);

        check(op + " q", cfg, in, dO, dFin, LinearInputs::q, (i, x) -> new LinearInputs(x, i.k(), i.v(), i.g(), i.gk(), i.beta(), i.initialState()), g.dq());
        check(op + " k", cfg, in, dO, dFin, LinearInputs::k, (i, x) -> new LinearInputs(i.q(), x, i.v(), i.g(), i.gk(), i.beta(), i.initialState()), g.dk());
        check(op + " v", cfg, in, dO, dFin, LinearInputs::v, (i, x) -> new LinearInputs(i.q(), i.k(), x, i.g(), i.gk(), i.beta(), i.initialState()), g.dv());
        check(op + " initial_state", cfg, in, dO, dFin, LinearInputs::initialState, LinearInputs::withInitialState, g.dInitialState());
        if (op.scalarGate()) {
            check(op + " g", cfg, in, dO, dFin, LinearInputs::g, (i, x) -> new LinearInputs(i.q(), i.k(), i.v(), x, i.gk(), i.beta(), i.initialState()), g.dg());
        }
        if (op.vectorGate()) {
            check(op + " gk", cfg, in, dO, dFin, LinearInputs::gk, (i, x) -> new LinearInputs(i.q(), i.k(), i.v(), i.g(), x, i.beta(), i.initialState()), g.dgk());
        }
        if (op.delta()) {
            check(op + " beta", cfg, in, dO, dFin, LinearInputs::beta, (i, x) -> new LinearInputs(i.q(), i.k(), i.v(), i.g(), i.gk(), x, i.initialState()), g.dbeta());
        }
    }

    private static void check(String what, LinearOpConfig cfg, LinearInputs in, INDArray dO, INDArray dFin,
            Function<LinearInputs, INDArray> get, BiFunction<LinearInputs, INDArray, LinearInputs> with,
            INDArray analytic) {
        long[] shape = get.apply(in).shape();
        double[] x = NdBuffers.toDoubles(get.apply(in));
        double[] dOv = NdBuffers.toDoubles(dO);
        double[] dFv = NdBuffers.toDoubles(dFin);
        GradientCheck.Result r = GradientCheck.check(xs -> {
            LinearForward f = LinearOps.forward(cfg, with.apply(in, NdBuffers.ofDoubles(xs, shape)), false);
            double[] o = NdBuffers.toDoubles(f.o());
            double[] s = NdBuffers.toDoubles(f.finalState());
            double l = 0;
            for (int i = 0; i < o.length; i++) {
                l += o[i] * dOv[i];
            }
            for (int i = 0; i < s.length; i++) {
                l += s[i] * dFv[i];
            }
            return l;
        }, x, NdBuffers.toDoubles(analytic), 1e-6, 60, 3);
        assertTrue(r.passed(1e-7), what + ": " + r);
    }
}
