package io.mnemo.modules.mamba;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.GradientCheck;
import io.mnemo.core.NdBuffers;
import io.mnemo.core.kernel.Backend;
import java.util.function.Function;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The reference backward == central differences of the reference forward in double, for every input
 * (u, delta, A, B, C, D, z, delta_bias, initial_state) of every variant, with the loss
 * {@code Σ out·dOut + Σ last_state·dLast} so that the state path is checked too.
 */
class ReferenceGradientCheckTest {
    private static final String[] NAMES = {"u", "delta", "A", "B", "C", "D", "z", "delta_bias", "initial_state"};

    static java.util.List<ScanTestData.Variant> variants() {
        return ScanTestData.VARIANTS;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void referenceBackwardMatchesFiniteDifferences(ScanTestData.Variant v) {
        int b = 2;
        int d = 4;
        int l = 7;
        int n = 3;
        SelectiveScanInputs in = ScanTestData.random(v, b, d, l, n, true, DataType.DOUBLE, 11);
        SelectiveScanConfig cfg = ScanTestData.config(v).withBackend(Backend.REFERENCE);
        INDArray dOut = ScanTestData.randn(DataType.DOUBLE, 3, b, d, l);
        INDArray dLast = ScanTestData.randn(DataType.DOUBLE, 4, b, d, n);
        SelectiveScanForward f = SelectiveScan.forward(cfg, in, true);
        SelectiveScanGrads g = SelectiveScan.backward(f, dOut, dLast);
        INDArray[] grads = {g.du(), g.ddelta(), g.dA(), g.dB(), g.dC(), g.dD(), g.dz(), g.dDeltaBias(),
                g.dInitialState()};
        double[] dO = NdBuffers.toDoubles(dOut);
        double[] dL = NdBuffers.toDoubles(dLast);
        for (int i = 0; i < NAMES.length; i++) {
            INDArray x = get(in, i);
            if (x == null) {
                continue;
            }
            assertNotNull(grads[i], v + ": gradient of " + NAMES[i] + " missing");
            long[] shape = x.shape();
            final int which = i;
            Function<double[], SelectiveScanInputs> with = vals -> set(in, which, NdBuffers.ofDoubles(vals, shape));
            GradientCheck.Result r = GradientCheck.check(vals -> {
                SelectiveScanForward fp = SelectiveScan.forward(cfg, with.apply(vals), false);
                return dot(NdBuffers.toDoubles(fp.out()), dO) + dot(NdBuffers.toDoubles(fp.lastState()), dL);
            }, NdBuffers.toDoubles(x), NdBuffers.toDoubles(grads[i]), 1e-6, 200, 5);
            assertTrue(r.passed(1e-7), v + " d" + NAMES[i] + ": " + r);
        }
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    static INDArray get(SelectiveScanInputs in, int i) {
        return switch (i) {
            case 0 -> in.u();
            case 1 -> in.delta();
            case 2 -> in.a();
            case 3 -> in.b();
            case 4 -> in.c();
            case 5 -> in.d();
            case 6 -> in.z();
            case 7 -> in.deltaBias();
            default -> in.initialState();
        };
    }

    static SelectiveScanInputs set(SelectiveScanInputs in, int i, INDArray x) {
        INDArray[] a = new INDArray[NAMES.length];
        for (int k = 0; k < a.length; k++) {
            a[k] = k == i ? x : get(in, k);
        }
        return new SelectiveScanInputs(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]);
    }
}
