package io.mnemo.modules.miras;

import static io.mnemo.modules.miras.Fd.close;
import static io.mnemo.modules.miras.Fd.dot;
import static io.mnemo.modules.miras.Fd.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.modules.miras.AttentionalBias.Huber;
import io.mnemo.modules.titans.TitansActivation;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every Miras component against central finite differences in double: each bias's gradient (of its
 * loss) and the derivative of that gradient (HVP, ∂g/∂v, ∂g/∂param); each retention's decay and map
 * backward; each rule's backward; each architecture's read backward, inner gradient and the backward of
 * the inner gradient with every bias. Plus the reductions (Lp/Lq with p, q = 2 are L2; Δ = 0 shift is
 * L2) and the rejected parameters.
 */
class MirasComponentsTest {
    private static final double H = 1e-6;
    private static final double TOL = 1e-6;
    private static final int DV = 5;

    static Stream<AttentionalBias> biases() {
        return Stream.of(new AttentionalBias.Dot(), new AttentionalBias.L2(), new AttentionalBias.Lp(3, 1e-6),
                new AttentionalBias.Lp(1, 1e-3), new AttentionalBias.Lp(2.5, 1e-6), new AttentionalBias.Lp(4, 1e-6),
                Huber.fixed(Huber.Mode.COORDINATE, 0.4), Huber.fixed(Huber.Mode.NORM, 0.6),
                Huber.perToken(Huber.Mode.COORDINATE), Huber.perToken(Huber.Mode.NORM),
                new AttentionalBias.ValueShift(0.3, 1e-6));
    }

    /** p, v with |p_i − v_i| away from Huber's kinks at 0.4 and norm thresholds near 0.5–0.6. */
    private static double[][] pv(Random r) {
        while (true) {
            double[] p = randn(r, DV, 0.5);
            double[] v = randn(r, DV, 0.5);
            double n = 0;
            boolean ok = true;
            for (int i = 0; i < DV; i++) {
                double e = Math.abs(p[i] - v[i]);
                n += e * e;
                ok &= Math.abs(e - 0.4) > 1e-3 && Math.abs(e - 0.5) > 1e-3;
            }
            n = Math.sqrt(n);
            if (ok && Math.abs(n - 0.6) > 1e-3 && Math.abs(n - 0.5) > 1e-3) {
                return new double[][] {p, v};
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("biases")
    void biasGradientAndItsDerivativeMatchFiniteDifferences(AttentionalBias bias) {
        Random r = new Random(11);
        for (int trial = 0; trial < 8; trial++) {
            double[][] x = pv(r);
            double[] p = x[0];
            double[] v = x[1];
            double[] param = {bias.tokenParameter() ? (trial % 2 == 0 ? 0.5 : 0.9) : Double.NaN};
            double[] g = new double[DV];
            bias.gradient(p, v, param[0], g);
            close(bias + " dℓ/dp", g, Fd.grad(p, () -> bias.loss(p, v, param[0]), H), TOL);
            double[] u = randn(r, DV, 1);
            double[] dP = new double[DV];
            double[] dV = new double[DV];
            double dParam = bias.gradientVjp(p, v, param[0], u, dP, dV);
            double[] gg = new double[DV];
            close(bias + " HVP", dP, Fd.grad(p, () -> {
                bias.gradient(p, v, param[0], gg);
                return dot(gg, u);
            }, H), TOL);
            close(bias + " dg/dv", dV, Fd.grad(v, () -> {
                bias.gradient(p, v, param[0], gg);
                return dot(gg, u);
            }, H), TOL);
            if (bias.tokenParameter()) {
                close(bias + " dg/dδ", dParam, Fd.grad(param, () -> {
                    bias.gradient(p, v, param[0], gg);
                    return dot(gg, u);
                }, H)[0], TOL);
                double[] dl = Fd.grad(param, () -> bias.loss(p, v, param[0]), H);
                assertTrue(Double.isFinite(dl[0]));
            } else {
                assertEquals(0.0, dParam);
            }
        }
    }

    @Test
    void lpWithP2AndShiftZeroAndWideHuberAreL2() {
        Random r = new Random(3);
        AttentionalBias l2 = new AttentionalBias.L2();
        List<AttentionalBias> same = List.of(new AttentionalBias.Lp(2, 1e-6), new AttentionalBias.ValueShift(0, 1e-9),
                Huber.fixed(Huber.Mode.COORDINATE, 1e3), Huber.fixed(Huber.Mode.NORM, 1e3));
        for (int trial = 0; trial < 5; trial++) {
            double[] p = randn(r, DV, 1);
            double[] v = randn(r, DV, 1);
            double[] u = randn(r, DV, 1);
            double[] g0 = new double[DV];
            l2.gradient(p, v, 0, g0);
            double[] dp0 = new double[DV];
            double[] dv0 = new double[DV];
            l2.gradientVjp(p, v, 0, u, dp0, dv0);
            for (AttentionalBias b : same) {
                double[] g = new double[DV];
                b.gradient(p, v, 0, g);
                close(b + " gradient vs l2", g, g0, 1e-12);
                double[] dp = new double[DV];
                double[] dv = new double[DV];
                b.gradientVjp(p, v, 0, u, dp, dv);
                close(b + " HVP vs l2", dp, dp0, 1e-12);
                close(b + " dv vs l2", dv, dv0, 1e-12);
            }
        }
    }

    @Test
    void huberClipsOutsideTheThreshold() {
        double[] p = {2.0, 0.1, -3.0};
        double[] v = {0.0, 0.0, 0.0};
        double[] g = new double[3];
        Huber.fixed(Huber.Mode.COORDINATE, 0.5).gradient(p, v, 0, g);
        close("coordinate Huber", g, new double[] {0.5, 0.1, -0.5}, 0);
        Huber.perToken(Huber.Mode.NORM).gradient(p, v, 0.25, g);
        double n = Math.sqrt(4 + 0.01 + 9);
        close("norm Huber", g, new double[] {0.25 * 2 / n, 0.25 * 0.1 / n, -0.25 * 3 / n}, 1e-15);
    }

    static Stream<RetentionGate> retentions() {
        return Stream.of(new RetentionGate.None(), new RetentionGate.L2Prev(), new RetentionGate.ScalarDecay(),
                new RetentionGate.VectorDecay(), new RetentionGate.ElasticNet(0.05, 0.02),
                new RetentionGate.Lq(4, 1e-6), new RetentionGate.Lq(3, 1e-6), new RetentionGate.Lq(1.5, 1e-4),
                new RetentionGate.Kl(1), new RetentionGate.Kl(2.5));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("retentions")
    void retentionBackwardMatchesFiniteDifferences(RetentionGate ret) {
        Random r = new Random(5);
        MemoryShape s = ret.gateShape() == RetentionGate.GateShape.PER_KEY ? new MemoryShape(new int[] {3},
                new int[] {4}) : new MemoryShape(new int[] {3, 4}, new int[] {4, 3});
        double[] a = randn(r, s.size(), 0.7);
        double[] gate = switch (ret.gateShape()) {
            case NONE -> new double[0];
            case SCALAR -> new double[] {0.8};
            case PER_KEY -> new double[] {0.9, 0.5, 0.7, 0.95};
        };
        double[] d = randn(r, s.size(), 1);
        double[] dA = d.clone();
        double[] dGate = new double[gate.length];
        ret.retainVjp(a, s, gate, dA, dGate);
        double[] tmp = new double[s.size()];
        DoubleSupplierWithRetain f = () -> {
            System.arraycopy(a, 0, tmp, 0, s.size());
            ret.retain(tmp, s, gate);
            return dot(tmp, d);
        };
        close(ret + " dA (retain)", dA, Fd.grad(a, f::get, H), TOL);
        close(ret + " dGate", dGate, Fd.grad(gate, f::get, H), TOL);
        double[] dW = randn(r, s.size(), 1);
        double[] dMap = new double[s.size()];
        ret.mapVjp(a, s, dW, dMap);
        double[] w = new double[s.size()];
        close(ret + " dA (map)", dMap, Fd.grad(a, () -> {
            ret.map(a, s, w);
            return dot(w, dW);
        }, H), TOL);
        ret.map(a, s, w);
        if (!ret.mapped()) {
            close(ret + " map is the identity", w, a, 0);
        }
    }

    @FunctionalInterface
    private interface DoubleSupplierWithRetain {
        double get();
    }

    @Test
    void lqWithQ2AndElasticNetWithoutThresholdAreIdentities() {
        Random r = new Random(8);
        MemoryShape s = new MemoryShape(new int[] {3, 4}, new int[] {4, 3});
        double[] a = randn(r, s.size(), 1);
        double[] w = new double[s.size()];
        new RetentionGate.Lq(2, 1e-6).map(a, s, w);
        close("Lq(2) map", w, a, 1e-15);
        new RetentionGate.ElasticNet(0, 0.01).map(a, s, w);
        close("ElasticNet(0) map", w, a, 1e-12);
        // a real threshold shrinks towards zero by about λ
        new RetentionGate.ElasticNet(0.1, 1e-4).map(a, s, w);
        for (int i = 0; i < a.length; i++) {
            double exact = Math.signum(a[i]) * Math.max(Math.abs(a[i]) - 0.1, 0);
            assertEquals(exact, w[i], 1e-3, "soft threshold at " + a[i]);
        }
    }

    @Test
    void klRowsAreOnTheScaledSimplex() {
        Random r = new Random(9);
        MemoryShape s = new MemoryShape(new int[] {3, 4}, new int[] {4, 3});
        double[] a = randn(r, s.size(), 3);
        double[] w = new double[s.size()];
        new RetentionGate.Kl(2).map(a, s, w);
        for (int l = 0; l < 2; l++) {
            for (int row = 0; row < s.rows(l); row++) {
                double sum = 0;
                for (int j = 0; j < s.cols(l); j++) {
                    double x = w[s.offset(l) + row * s.cols(l) + j];
                    assertTrue(x > 0);
                    sum += x;
                }
                assertEquals(2.0, sum, 1e-12);
            }
        }
    }

    static Stream<UpdateRule> rules() {
        return Stream.of(new UpdateRule.Gd(), new UpdateRule.Momentum());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rules")
    void ruleBackwardMatchesFiniteDifferences(UpdateRule rule) {
        Random r = new Random(6);
        int n = 7;
        double[] s0 = randn(r, n, 1);
        double[] g = randn(r, n, 1);
        double[] gates = {0.3, 0.8};
        double[] dU = randn(r, n, 1);
        double[] dS1 = randn(r, n, 1);
        double[] dS = dS1.clone();
        double[] dG = new double[n];
        double[] dGates = new double[2];
        rule.stepVjp(s0, g, gates[0], gates[1], dU, dS, dG, dGates, n);
        double[] s = new double[n];
        double[] u = new double[n];
        java.util.function.DoubleSupplier f = () -> {
            System.arraycopy(s0, 0, s, 0, n);
            rule.step(s, g, gates[0], gates[1], u, n);
            return dot(u, dU) + (rule.momentum() ? dot(s, dS1) : 0);
        };
        close(rule + " dG", dG, Fd.grad(g, f, H), TOL);
        close(rule + " dGates", dGates, Fd.grad(gates, f, H), TOL);
        if (rule.momentum()) {
            close(rule + " dS", dS, Fd.grad(s0, f, H), TOL);
        }
    }

    static Stream<MemoryArchitecture> architectures() {
        return Stream.of(new MemoryArchitecture.Linear(), new MemoryArchitecture.Mlp(2, TitansActivation.SILU),
                new MemoryArchitecture.Mlp(1, TitansActivation.GELU_TANH));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("architectures")
    void architectureReadInnerGradientAndSecondOrderMatchFiniteDifferences(MemoryArchitecture arch) {
        Random r = new Random(7);
        int d = 4;
        MemoryShape s = arch.shape(d, d);
        double[] w = randn(r, s.size(), 0.5);
        double[] x = randn(r, d, 1);
        double[] dOut = randn(r, d, 1);
        double[] dW = new double[s.size()];
        double[] dX = new double[d];
        arch.applyVjp(s, w, x, dOut, dW, dX);
        double[] out = new double[d];
        java.util.function.DoubleSupplier read = () -> {
            arch.apply(s, w, x, out);
            return dot(out, dOut);
        };
        close(arch + " read dW", dW, Fd.grad(w, read, H), TOL);
        close(arch + " read dX", dX, Fd.grad(x, read, H), TOL);
        List<AttentionalBias> all = biases().toList();
        for (AttentionalBias bias : all) {
            double[] k = randn(r, d, 1);
            double[] v = randn(r, d, 1);
            double[] param = {bias.tokenParameter() ? 0.7 : Double.NaN};
            double[] g = new double[s.size()];
            arch.innerGradient(s, w, k, v, param[0], bias, g);
            double[] p = new double[d];
            close(arch + "/" + bias + " inner gradient", g, Fd.grad(w, () -> {
                arch.apply(s, w, k, p);
                return bias.loss(p, v, param[0]);
            }, H), 1e-5);
            double[] dG = randn(r, s.size(), 1);
            double[] dW2 = new double[s.size()];
            double[] dK = new double[d];
            double[] dV = new double[d];
            double dParam = arch.innerGradientVjp(s, w, k, v, param[0], bias, dG, dW2, dK, dV);
            double[] gg = new double[s.size()];
            java.util.function.DoubleSupplier f = () -> {
                arch.innerGradient(s, w, k, v, param[0], bias, gg);
                return dot(gg, dG);
            };
            close(arch + "/" + bias + " second order dW", dW2, Fd.grad(w, f, H), 1e-5);
            close(arch + "/" + bias + " second order dk", dK, Fd.grad(k, f, H), 1e-5);
            close(arch + "/" + bias + " second order dv", dV, Fd.grad(v, f, H), 1e-5);
            if (bias.tokenParameter()) {
                close(arch + "/" + bias + " second order dδ", dParam, Fd.grad(param, f, H)[0], 1e-5);
            }
        }
    }

    @Test
    void invalidParametersAreRejectedNamingTheArgument() {
        assertMessage(() -> new AttentionalBias.Lp(0.5, 1e-6), "p must");
        assertMessage(() -> new AttentionalBias.Lp(3, 0), "eps must");
        assertMessage(() -> Huber.fixed(Huber.Mode.NORM, 0), "delta must");
        assertMessage(() -> Huber.fixed(Huber.Mode.NORM, -1), "delta must");
        assertMessage(() -> new Huber(Huber.Mode.NORM, 1, true), "delta must be NaN");
        assertMessage(() -> new AttentionalBias.ValueShift(-0.1, 1e-6), "shift must");
        assertMessage(() -> new RetentionGate.Lq(0.5, 1e-6), "q must");
        assertMessage(() -> new RetentionGate.ElasticNet(-1, 0.1), "lambda must");
        assertMessage(() -> new RetentionGate.ElasticNet(0.1, 0), "tau must");
        assertMessage(() -> new RetentionGate.Kl(0), "scale must");
        assertMessage(() -> new MemoryArchitecture.Mlp(0, TitansActivation.SILU), "expansion must");
        assertMessage(() -> new MemoryArchitecture.Mlp(2, TitansActivation.SILU).shape(4, 5), "Dk == Dv");
        double[] p = {1, 2};
        assertMessage(() -> Huber.perToken(Huber.Mode.COORDINATE).gradient(p, p, -0.5, new double[2]), "delta_t");
    }

    private static void assertMessage(org.junit.jupiter.api.function.Executable e, String part) {
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, e);
        assertTrue(ex.getMessage().contains(part), () -> "message '" + ex.getMessage() + "' should contain '" + part + "'");
    }
}
