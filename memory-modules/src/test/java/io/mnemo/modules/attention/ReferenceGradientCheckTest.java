package io.mnemo.modules.attention;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.GradientCheck;
import io.mnemo.core.NdBuffers;
import io.mnemo.core.kernel.Backend;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The reference backward (and so every backend compared with it) against central finite differences of the
 * reference forward in double precision, for q, k and v (prefix rows included).
 */
class ReferenceGradientCheckTest {
    @ParameterizedTest(name = "T={0} P={1} w={2} G={3}")
    @CsvSource({"9,0,0,0", "9,4,0,0", "9,4,3,0", "9,4,3,2", "1,3,2,1"})
    void referenceBackwardMatchesFiniteDifferences(int t, int p, int w, int g) {
        int b = 2;
        int h = 2;
        AttentionInputs in = AttentionTestData.random(b, t, p, h, 4, 5, DataType.DOUBLE, 42 + t + p + w);
        AttentionOpConfig cfg = AttentionOpConfig.of().withBackend(Backend.REFERENCE).withScale(0.7).withWindow(w)
                .withGlobalKeys(g);
        INDArray dO = AttentionTestData.randn(DataType.DOUBLE, 5, b, t, h, 5);
        AttentionGrads gr = AttentionOps.backward(AttentionOps.forward(cfg, in, true), dO);
        String ctx = "T=" + t + " P=" + p + " w=" + w + " G=" + g;
        check(ctx + " q", cfg, in, dO, AttentionInputs::q, (i, x) -> new AttentionInputs(x, i.k(), i.v()), gr.dq());
        check(ctx + " k", cfg, in, dO, AttentionInputs::k, (i, x) -> new AttentionInputs(i.q(), x, i.v()), gr.dk());
        check(ctx + " v", cfg, in, dO, AttentionInputs::v, (i, x) -> new AttentionInputs(i.q(), i.k(), x), gr.dv());
    }

    private static void check(String what, AttentionOpConfig cfg, AttentionInputs in, INDArray dO,
            Function<AttentionInputs, INDArray> get, BiFunction<AttentionInputs, INDArray, AttentionInputs> with,
            INDArray analytic) {
        long[] shape = get.apply(in).shape();
        double[] x = NdBuffers.toDoubles(get.apply(in));
        double[] g = NdBuffers.toDoubles(dO);
        GradientCheck.Result r = GradientCheck.check(xs -> {
            double[] o = NdBuffers.toDoubles(AttentionOps.forward(cfg, with.apply(in, NdBuffers.ofDoubles(xs, shape)),
                    false).o());
            double l = 0;
            for (int i = 0; i < o.length; i++) {
                l += o[i] * g[i];
            }
            return l;
        }, x, NdBuffers.toDoubles(analytic), 1e-6, 80, 3);
        assertTrue(r.passed(1e-7), what + ": " + r);
    }
}
