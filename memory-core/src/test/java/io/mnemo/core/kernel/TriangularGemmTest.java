package io.mnemo.core.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link TriangularGemm} against double-precision loops over the whole lower triangle: sizes below, at and across
 * the row block (1, 5, 16, 17, 40, 64), first rows j0 at 0, inside the first block and in a later block, widths
 * that are and are not a multiple of the vector width, with offsets and padded leading dimensions. Entries right of
 * a row's block are NaN for {@code lowerTimes} (never read); {@code lowerProduct} must leave them, and every row
 * before j0, untouched.
 */
class TriangularGemmTest {
    private static final VecOps OPS = VectorSupport.ops();

    @ParameterizedTest(name = "n={0} j0={1} w={2}")
    @CsvSource({"1, 0, 1", "5, 0, 8", "5, 2, 19", "16, 0, 16", "17, 0, 7", "17, 16, 9", "40, 0, 64", "40, 3, 33",
            "40, 21, 16", "64, 0, 64", "64, 37, 20"})
    void matchesTheFullTriangle(int n, int j0, int w) {
        Random rnd = new Random(97L * n + 13L * j0 + w);
        int ldl = n + 3;
        int lo = 2;
        float[] l = new float[lo + n * ldl];
        for (int t = j0; t < n; t++) {
            for (int i = 0; i <= t; i++) {
                l[lo + t * ldl + i] = rnd.nextFloat() - 0.5f;
            }
            for (int i = t + 1; i < n; i++) {
                l[lo + t * ldl + i] = Float.NaN; // right of the diagonal: zero in its block, never read beyond
            }
            for (int i = t + 1; i < blockEnd(j0, n, t); i++) {
                l[lo + t * ldl + i] = 0f;
            }
        }
        int ldb = w + 2;
        int bo = 1;
        float[] b = rand(rnd, bo + n * ldb);
        int ldc = w + 5;
        int co = 3;
        float[] c0 = rand(rnd, co + n * ldc);

        float[] c = c0.clone();
        TriangularGemm.lowerTimes(OPS, j0, n, w, l, lo, ldl, b, bo, ldb, c, co, ldc);
        for (int t = 0; t < n; t++) {
            for (int j = 0; j < w; j++) {
                double s = c0[co + t * ldc + j];
                for (int p = 0; t >= j0 && p <= t; p++) {
                    s += (double) l[lo + t * ldl + p] * b[bo + p * ldb + j];
                }
                assertClose(s, c[co + t * ldc + j], n, "lowerTimes row " + t + " col " + j);
            }
        }

        // lowerTransposedTimes reads column blocks: L must be zero everywhere above the diagonal
        for (int x = 0; x < l.length; x++) {
            l[x] = Float.isNaN(l[x]) ? 0f : l[x];
        }
        c = c0.clone();
        TriangularGemm.lowerTransposedTimes(OPS, j0, n, w, l, lo, ldl, b, bo, ldb, c, co, ldc);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < w; j++) {
                double s = c0[co + i * ldc + j];
                for (int t = Math.max(i, j0); t < n; t++) {
                    s += (double) l[lo + t * ldl + i] * b[bo + t * ldb + j];
                }
                assertClose(s, c[co + i * ldc + j], n, "lowerTransposedTimes row " + i + " col " + j);
            }
        }

        // lowerProduct: L += A·B with A n rows of width w, B w × n
        int lda = w + 1;
        float[] a = rand(rnd, 4 + n * lda);
        int ldbt = n + 2;
        float[] bt = rand(rnd, 5 + w * ldbt);
        float sentinel = 12345f;
        float[] p = new float[lo + n * ldl];
        java.util.Arrays.fill(p, sentinel);
        TriangularGemm.lowerProduct(OPS, j0, n, w, a, 4, lda, bt, 5, ldbt, p, lo, ldl);
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < n; i++) {
                float got = p[lo + t * ldl + i];
                if (t < j0 || i >= blockEnd(j0, n, t)) {
                    assertEquals(sentinel, got, "lowerProduct wrote row " + t + " col " + i);
                    continue;
                }
                double s = sentinel;
                for (int q = 0; q < w; q++) {
                    s += (double) a[4 + t * lda + q] * bt[5 + q * ldbt + i];
                }
                assertClose(s, got, w, "lowerProduct row " + t + " col " + i);
            }
        }
    }

    private static int blockEnd(int j0, int n, int t) {
        return Math.min(n, j0 + ((t - j0) / TriangularGemm.ROW_BLOCK + 1) * TriangularGemm.ROW_BLOCK);
    }

    private static void assertClose(double expect, float got, int k, String what) {
        assertTrue(Math.abs(got - expect) <= 1e-5 * (1 + Math.abs(expect) + k), what + ": " + got + " vs " + expect);
    }

    private static float[] rand(Random rnd, int len) {
        float[] x = new float[len];
        for (int i = 0; i < len; i++) {
            x[i] = rnd.nextFloat() - 0.5f;
        }
        return x;
    }
}
