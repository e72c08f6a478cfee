package io.mnemo.core.kernel;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link VecOps#gemm} of the plain-Java and the Vector API implementations against a double-precision triple
 * loop, on sizes that exercise every tile and remainder path (rows not a multiple of 4, columns not a multiple
 * of the vector width, padded leading dimensions and offsets), with A plain and transposed, and with both tile
 * shapes of the Vector API implementation (4 × 4 for 512-bit machines, 6 × 2 for 16-register ones).
 */
class GemmTest {
    @ParameterizedTest(name = "m={0} n={1} k={2}")
    @CsvSource({"1, 1, 1", "4, 16, 8", "5, 17, 3", "7, 12, 9", "64, 64, 64", "13, 70, 33", "8, 130, 64", "3, 5, 0", "6, 16, 5",
            "11, 40, 7", "23, 33, 17", "66, 72, 64"})
    void matchesDoubleLoop(int m, int n, int k) {
        check(new ScalarOps(), m, n, k);
        Assumptions.assumeTrue(ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent(),
                "Vector API module not loaded");
        check(new SimdOps(true), m, n, k);
        check(new SimdOps(false), m, n, k);
    }

    private static void check(VecOps ops, int m, int n, int k) {
        Random rnd = new Random(31L * m + 7L * n + k);
        for (boolean transA : new boolean[] {false, true}) {
            int lda = (transA ? m : k) + 3;
            int ldb = n + 2;
            int ldc = n + 5;
            int ao = 2;
            int bo = 1;
            int co = 3;
            float[] a = rand(rnd, ao + (transA ? k : m) * lda);
            float[] b = rand(rnd, bo + k * ldb);
            float[] c = rand(rnd, co + m * ldc);
            double[] expect = new double[c.length];
            for (int x = 0; x < c.length; x++) {
                expect[x] = c[x];
            }
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) {
                        double aip = transA ? a[ao + p * lda + i] : a[ao + i * lda + p];
                        s += aip * b[bo + p * ldb + j];
                    }
                    expect[co + i * ldc + j] += s;
                }
            }
            ops.gemm(transA, m, n, k, a, ao, lda, b, bo, ldb, c, co, ldc);
            for (int x = 0; x < c.length; x++) {
                double err = Math.abs(c[x] - expect[x]);
                assertTrue(err <= 1e-5 * (1 + Math.abs(expect[x]) + k),
                        ops.getClass().getSimpleName() + " transA=" + transA + " element " + x + ": " + c[x] + " vs "
                                + expect[x]);
            }
        }
    }

    private static float[] rand(Random rnd, int size) {
        float[] x = new float[size];
        for (int i = 0; i < size; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }
}
