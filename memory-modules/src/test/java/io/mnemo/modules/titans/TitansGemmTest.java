package io.mnemo.modules.titans;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link TitansGemm} (the Vector API micro-kernel, or the plain loops under {@code -Dmnemo.simd=false})
 * against a double-precision triple loop: shapes around the register blocks (4 rows × 2 vectors) and
 * the vector width, column remainders, both orientations of the strided left operand, offsets and
 * leading dimensions larger than the block, accumulation into existing values; and the transpose.
 */
class TitansGemmTest {
    @Test
    void mulAddMatchesDoubleLoops() {
        Random r = new Random(5);
        TitansGemm g = TitansGemm.get();
        int[] sizes = {1, 3, 4, 5, 8, 15, 16, 17, 31, 32, 33, 48, 64, 80};
        int cases = 0;
        for (int m : sizes) {
            for (int n : sizes) {
                for (int k : new int[] {1, 7, 16, 33}) {
                    boolean transA = (m + n + k) % 2 == 0;
                    int ao = 3;
                    int lda = (transA ? m : k) + 2;
                    int ams = transA ? 1 : lda;
                    int aks = transA ? lda : 1;
                    int bo = 5;
                    int ldb = n + 3;
                    int co = 7;
                    int ldc = n + 1;
                    float[] a = rand(r, ao + lda * (transA ? k : m));
                    float[] b = rand(r, bo + ldb * k);
                    float[] c = rand(r, co + ldc * m);
                    float[] c0 = c.clone();
                    g.mulAdd(m, n, k, a, ao, ams, aks, b, bo, ldb, c, co, ldc);
                    for (int i = 0; i < m; i++) {
                        for (int j = 0; j < n; j++) {
                            double e = c0[co + i * ldc + j];
                            for (int q = 0; q < k; q++) {
                                e += (double) a[ao + i * ams + q * aks] * b[bo + q * ldb + j];
                            }
                            float got = c[co + i * ldc + j];
                            assertTrue(Math.abs(got - e) <= 1e-5 * (1 + Math.abs(e)), "m=" + m + " n=" + n + " k=" + k
                                    + " transA=" + transA + " at (" + i + ", " + j + "): " + got + " vs " + e);
                        }
                        // padding between rows is left alone
                        for (int j = n; j < ldc && co + i * ldc + j < c.length; j++) {
                            assertEquals(c0[co + i * ldc + j], c[co + i * ldc + j], "padding touched");
                        }
                    }
                    for (int i = 0; i < co; i++) {
                        assertEquals(c0[i], c[i], "offset region touched");
                    }
                    cases++;
                }
            }
        }
        assertTrue(cases > 500);
    }

    @Test
    void emptyProductsChangeNothing() {
        float[] c = {1, 2, 3};
        TitansGemm.get().mulAdd(1, 3, 0, new float[0], 0, 1, 1, new float[0], 0, 3, c, 0, 3);
        TitansGemm.get().mulAdd(0, 3, 2, new float[4], 0, 1, 1, new float[6], 0, 3, c, 0, 3);
        assertEquals(1f, c[0]);
        assertEquals(3f, c[2]);
    }

    @Test
    void transposeMovesEveryElement() {
        Random r = new Random(6);
        int rows = 5;
        int cols = 7;
        float[] x = rand(r, 2 + rows * 9);
        float[] y = new float[1 + cols * 6];
        TitansGemm.transpose(rows, cols, x, 2, 9, y, 1, 6);
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                assertEquals(x[2 + i * 9 + j], y[1 + j * 6 + i]);
            }
        }
    }

    private static float[] rand(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }
}
