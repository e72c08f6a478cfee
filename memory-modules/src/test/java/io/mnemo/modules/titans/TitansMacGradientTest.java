package io.mnemo.modules.titans;

import static io.mnemo.modules.titans.TitansMacBlockTest.D;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.GradientCheck;
import io.mnemo.core.Mixer;
import io.mnemo.core.NdBuffers;
import io.mnemo.core.Parameter;
import io.mnemo.core.kernel.Backend;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Titans MAC: finite differences in double (reference backends) of every parameter, dx and the incoming state
 * (memory, momentum, open-segment inputs) with a random gradient on the returned state: from the learned initial
 * state (batch 2, so the batch sums into the initial memory and P are checked), from a carried open segment ending
 * in an open segment (segments 4, 4, 1), and from a carried open segment ending at a segment boundary.
 */
class TitansMacGradientTest {
    // every array: one random-direction difference (all coordinates) plus `coords` single coordinates
    @Test
    void gradientsFromInitialStateEndingInOpenSegment() {
        fdCase(-1, 6, 2, 1);
    }

    @Test
    void gradientsFromCarriedOpenSegmentEndingInOpenSegment() {
        fdCase(2, 7, 1, 1);
    }

    @Test
    void gradientsFromCarriedOpenSegmentEndingAtSegmentBoundary() {
        fdCase(3, 5, 1, 1);
    }

    /** n0 = −1: the learned initial state; else a carried state with n0 buffered tokens. */
    private void fdCase(int n0, int t, int b, int coords) {
        TitansMacBlock blk = new TitansMacBlock(TitansMacBlockTest.config(DataType.DOUBLE, Backend.REFERENCE));
        TitansMacBlockTest.perturbNorms(blk, 40);
        TitansMacState s0 = n0 < 0 ? null : TitansMacBlockTest.carried(blk, b, n0, 50);
        INDArray x = TitansMacBlockTest.randn(DataType.DOUBLE, 1, b, t, D).muli(0.5);
        INDArray ry = TitansMacBlockTest.randn(DataType.DOUBLE, 2, b, t, D);
        Mixer.Forward<TitansMacState> f = blk.forward(x, s0 == null ? blk.initialState(b) : s0, true);
        TitansMacState dS = TitansMacBlockTest.randomGrad(f.state(), 60);
        Mixer.Backward<TitansMacState> bw = blk.backward(f, ry, dS);
        DoubleSupplier l = () -> {
            Mixer.Forward<TitansMacState> g = blk.forward(x, s0 == null ? blk.initialState(b) : s0, false);
            return g.y().mul(ry).sumNumber().doubleValue() + TitansMacBlockTest.dot(g.state(), dS);
        };
        check("dx", x, bw.dx(), l, 4);
        for (Parameter p : blk.parameters()) {
            check(p.name(), p.value(), p.grad(), l, coords);
        }
        if (s0 != null) {
            for (int i = 0; i < s0.memory().memory().size(); i++) {
                check("dState.memory[" + i + "]", s0.memory().memory().get(i), bw.dState().memory().memory().get(i), l,
                        coords);
                check("dState.momentum[" + i + "]", s0.memory().momentum().get(i),
                        bw.dState().memory().momentum().get(i), l, coords);
            }
            check("dState.buffer", s0.buffer(), bw.dState().buffer(), l, coords);
        } else {
            assertNull(bw.dState().buffer());
        }
    }

    /**
     * Central differences along a random direction u of the whole array ({@code ⟨∇, u⟩}, every coordinate takes
     * part) and at {@code coords} single coordinates.
     */
    private static void check(String what, INDArray a, INDArray analytic, DoubleSupplier f, int coords) {
        double[] x0 = NdBuffers.toDoubles(a);
        long[] shape = a.shape();
        double[] g = NdBuffers.toDoubles(analytic);
        java.util.Random rng = new java.util.Random(what.hashCode());
        double[] u = new double[x0.length];
        double expected = 0;
        for (int i = 0; i < u.length; i++) {
            u[i] = rng.nextGaussian();
            expected += u[i] * g[i];
        }
        double eps = 1e-6;
        double[] xp = x0.clone();
        double[] xm = x0.clone();
        for (int i = 0; i < u.length; i++) {
            xp[i] += eps * u[i];
            xm[i] -= eps * u[i];
        }
        a.assign(NdBuffers.ofDoubles(xp, shape));
        double fp = f.getAsDouble();
        a.assign(NdBuffers.ofDoubles(xm, shape));
        double fm = f.getAsDouble();
        a.assign(NdBuffers.ofDoubles(x0, shape));
        double numeric = (fp - fm) / (2 * eps);
        double err = Math.abs(numeric - expected) / Math.max(1, Math.max(Math.abs(numeric), Math.abs(expected)));
        assertTrue(err <= 1e-5, what + " along a random direction: analytic " + expected + ", numeric " + numeric);
        if (coords > 0) {
            GradientCheck.Result r = GradientCheck.check(xs -> {
                a.assign(NdBuffers.ofDoubles(xs, shape));
                return f.getAsDouble();
            }, x0.clone(), g, eps, coords, 17);
            a.assign(NdBuffers.ofDoubles(x0, shape));
            assertTrue(r.passed(1e-5), what + ": " + r);
        }
    }
}
