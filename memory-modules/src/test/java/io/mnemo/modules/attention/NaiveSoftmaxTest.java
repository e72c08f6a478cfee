package io.mnemo.modules.attention;

import static io.mnemo.modules.attention.AttentionTestData.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.kernel.Backend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Every backend against a naive softmax written here, independently of the library: explicit exp/sum loops, the
 * visible set spelled out from positions (the last w tokens up to and including the query's own position, plus the
 * first G keys), no max subtraction (inputs are small enough). Also: keys the mask hides have no influence.
 */
class NaiveSoftmaxTest {
    /** o and lse of one (b, h) slice, written the plainest way. */
    private static double[][] naive(double[] q, double[] k, double[] v, int b, int t, int p, int h, int dk, int dv,
            int bi, int hi, double scale, int w, int g) {
        int tk = p + t;
        double[] o = new double[t * dv];
        double[] lse = new double[t];
        for (int i = 0; i < t; i++) {
            int pos = p + i;
            double[] e = new double[tk];
            double sum = 0;
            for (int j = 0; j < tk; j++) {
                boolean inWindow = w == 0 ? j <= pos : (j <= pos && j >= pos - w + 1);
                boolean global = j < g && j <= pos;
                if (!(inWindow || global)) {
                    continue;
                }
                double dot = 0;
                for (int c = 0; c < dk; c++) {
                    dot += q[((bi * t + i) * h + hi) * dk + c] * k[((bi * tk + j) * h + hi) * dk + c];
                }
                e[j] = Math.exp(scale * dot);
                sum += e[j];
            }
            lse[i] = Math.log(sum);
            for (int j = 0; j < tk; j++) {
                for (int c = 0; c < dv; c++) {
                    o[i * dv + c] += e[j] / sum * v[((bi * tk + j) * h + hi) * dv + c];
                }
            }
        }
        return new double[][] {o, lse};
    }

    @ParameterizedTest(name = "{0} T={1} P={2} w={3} G={4}")
    @CsvSource({"REFERENCE,13,0,0,0", "CPU,13,0,0,0", "ND4J,13,0,0,0", "CPU,20,6,4,0", "ND4J,20,6,4,0",
            "REFERENCE,20,6,4,3", "CPU,20,6,4,3", "ND4J,20,6,4,3", "CPU,70,3,1,1", "CPU,130,0,0,0", "ND4J,130,2,9,0"})
    void backendEqualsNaiveSoftmax(Backend backend, int t, int p, int w, int g) {
        int b = 2;
        int h = 2;
        int dk = 6;
        int dv = 3;
        AttentionInputs in = AttentionTestData.random(b, t, p, h, dk, dv, DataType.DOUBLE, 3 * t + w);
        double scale = 0.5;
        AttentionOpConfig cfg = AttentionOpConfig.of().withBackend(backend).withWindow(w).withGlobalKeys(g)
                .withScale(scale).withQueryBlock(16);
        AttentionForward f = AttentionOps.forward(cfg, in, false);
        double[] q = NdBuffers.toDoubles(in.q());
        double[] k = NdBuffers.toDoubles(in.k());
        double[] v = NdBuffers.toDoubles(in.v());
        double[] o = new double[b * t * h * dv];
        double[] lse = new double[b * t * h];
        for (int bi = 0; bi < b; bi++) {
            for (int hi = 0; hi < h; hi++) {
                double[][] r = naive(q, k, v, b, t, p, h, dk, dv, bi, hi, scale, w, g);
                for (int i = 0; i < t; i++) {
                    lse[(bi * t + i) * h + hi] = r[1][i];
                    System.arraycopy(r[0], i * dv, o, ((bi * t + i) * h + hi) * dv, dv);
                }
            }
        }
        double tol = backend == Backend.CPU ? 1e-5 : 1e-10;
        String ctx = backend + " T=" + t + " P=" + p + " w=" + w + " G=" + g;
        assertClose(ctx + " o", f.o(), NdBuffers.ofDoubles(o, b, t, h, dv), tol);
        assertClose(ctx + " lse", f.lse(), NdBuffers.ofDoubles(lse, b, t, h), tol);
    }

    /** Token j of batch element 0: a view {@code [H, D]}. */
    private static INDArray tok(INDArray a, int j) {
        return a.get(org.nd4j.linalg.indexing.NDArrayIndex.point(0), org.nd4j.linalg.indexing.NDArrayIndex.point(j),
                org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.all());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"REFERENCE", "CPU", "ND4J"})
    void hiddenKeysHaveNoInfluence(Backend backend) {
        // T=10, P=4, w=3, G=1: query 0 (position 4) sees keys {0, 2, 3, 4}; key 1 is hidden from every query,
        // and keys 5.. are hidden from query 0 (causality)
        AttentionInputs in = AttentionTestData.random(1, 10, 4, 1, 4, 4, DataType.DOUBLE, 8);
        AttentionOpConfig cfg = AttentionOpConfig.of().withBackend(backend).withWindow(3).withGlobalKeys(1);
        INDArray o = AttentionOps.forward(cfg, in, false).o();
        INDArray k2 = in.k().dup();
        INDArray v2 = in.v().dup();
        tok(k2, 1).addi(3.0);
        tok(v2, 1).addi(5.0);
        for (int j = 5; j < 14; j++) {
            tok(k2, j).addi(2.0);
            tok(v2, j).addi(2.0);
        }
        INDArray o2 = AttentionOps.forward(cfg, new AttentionInputs(in.q(), k2, v2), false).o();
        double[] a = NdBuffers.toDoubles(tok(o, 0));
        double[] c = NdBuffers.toDoubles(tok(o2, 0));
        for (int i = 0; i < a.length; i++) {
            assertEquals(a[i], c[i], 1e-6, backend + " query 0 changed when hidden keys changed");
        }
        // and the global key 0 does matter for the last query (position 13, window 11..13)
        INDArray k3 = in.k().dup();
        tok(k3, 0).addi(1.0);
        INDArray o3 = AttentionOps.forward(cfg, new AttentionInputs(in.q(), k3, in.v()), false).o();
        double diff = tok(o3, 9).sub(tok(o, 9)).norm2Number().doubleValue();
        org.junit.jupiter.api.Assertions.assertTrue(diff > 1e-6, backend + ": the global key had no influence");
    }
}
