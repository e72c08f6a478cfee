package io.mnemo.core.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** {@link VecOps} on the JDK Vector API at the platform's preferred width; loaded reflectively. */
final class SimdOps implements VecOps {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /** Whether {@link #gemm} uses the 4 × 4 tile (true) or the 6 × 2 tile for 16-register machines. */
    private final boolean wideTiles;

    /** Tiles chosen for this machine's vector width. */
    SimdOps() {
        this(S.vectorBitSize() >= 512);
    }

    /** Tiles chosen by the caller, so tests cover both shapes on any machine. */
    SimdOps(boolean wideTiles) {
        this.wideTiles = wideTiles;
    }

    @Override
    public void axpy(int n, float a, float[] x, int xo, float[] y, int yo) {
        int i = 0;
        int bound = S.loopBound(n);
        FloatVector va = FloatVector.broadcast(S, a);
        for (; i < bound; i += S.length()) {
            FloatVector vx = FloatVector.fromArray(S, x, xo + i);
            FloatVector vy = FloatVector.fromArray(S, y, yo + i);
            vx.fma(va, vy).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] += a * x[xo + i];
        }
    }

    @Override
    public float dot(int n, float[] x, int xo, float[] y, int yo) {
        int i = 0;
        int bound = S.loopBound(n);
        FloatVector acc = FloatVector.zero(S);
        for (; i < bound; i += S.length()) {
            acc = FloatVector.fromArray(S, x, xo + i).fma(FloatVector.fromArray(S, y, yo + i), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += x[xo + i] * y[yo + i];
        }
        return s;
    }

    @Override
    public void scale(int n, float a, float[] x, int xo) {
        int i = 0;
        int bound = S.loopBound(n);
        for (; i < bound; i += S.length()) {
            FloatVector.fromArray(S, x, xo + i).mul(a).intoArray(x, xo + i);
        }
        for (; i < n; i++) {
            x[xo + i] *= a;
        }
    }

    @Override
    public void scaleTo(int n, float a, float[] x, int xo, float[] y, int yo) {
        int i = 0;
        int bound = S.loopBound(n);
        for (; i < bound; i += S.length()) {
            FloatVector.fromArray(S, x, xo + i).mul(a).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] = a * x[xo + i];
        }
    }

    @Override
    public void scaleAxpy(int n, float a, float[] x, int xo, float c, float[] y, int yo) {
        int i = 0;
        int bound = S.loopBound(n);
        FloatVector vc = FloatVector.broadcast(S, c);
        for (; i < bound; i += S.length()) {
            FloatVector vx = FloatVector.fromArray(S, x, xo + i).mul(a);
            vx.intoArray(x, xo + i);
            vx.fma(vc, FloatVector.fromArray(S, y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            x[xo + i] *= a;
            y[yo + i] += c * x[xo + i];
        }
    }

    @Override
    public void axpyAxpy(int n, float c1, float[] v, int vo, float[] x, int xo, float c2, float[] y, int yo) {
        int i = 0;
        int bound = S.loopBound(n);
        FloatVector v1 = FloatVector.broadcast(S, c1);
        FloatVector v2 = FloatVector.broadcast(S, c2);
        for (; i < bound; i += S.length()) {
            FloatVector vx = FloatVector.fromArray(S, v, vo + i).fma(v1, FloatVector.fromArray(S, x, xo + i));
            vx.intoArray(x, xo + i);
            vx.fma(v2, FloatVector.fromArray(S, y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            x[xo + i] += c1 * v[vo + i];
            y[yo + i] += c2 * x[xo + i];
        }
    }

    /**
     * Register-blocked {@code C += op(A) · B}. Tiles stream B's rows once per block of rows of C and broadcast
     * A's elements into accumulators that stay in registers for the whole {@code k} loop:
     * <ul>
     *   <li>512-bit vectors (32 registers): 4 rows × 4 vectors, 16 accumulators, 21 registers in all;</li>
     *   <li>narrower vectors (AVX2's 16 registers): 6 rows × 2 vectors, 12 accumulators, 15 registers, the
     *       shape of the classic Haswell 6×16 sgemm micro-kernel (BLIS, OpenBLAS). The 4 × 4 tile spills
     *       there: measured on a 2-vCPU AVX2 Zen 3 guest, 64×64×64 ran at 26–29 GFLOP/s with 4 × 4 and
     *       33–66 with 6 × 2, run to run (the wide range is the machine, not the kernel).</li>
     * </ul>
     * Rows and columns left over fall to 4 rows × 1 vector, single rows, and scalar columns.
     */
    @Override
    public void gemm(boolean transA, int m, int n, int k, float[] a, int ao, int lda, float[] b, int bo, int ldb,
            float[] c, int co, int ldc) {
        int len = S.length();
        int si = transA ? 1 : lda;
        int sp = transA ? lda : 1;
        int i = 0;
        if (!wideTiles) {
            for (; i + 6 <= m; i += 6) {
                int ai = ao + i * si;
                int ci = co + i * ldc;
                int j = 0;
                for (; j + 2 * len <= n; j += 2 * len) {
                    tile6x2(k, a, ai, si, sp, b, bo + j, ldb, c, ci + j, ldc);
                }
                for (; j + len <= n; j += len) {
                    tile4x1(k, a, ai, si, sp, b, bo + j, ldb, c, ci + j, ldc);
                    tile1x1(k, a, ai + 4 * si, sp, b, bo + j, ldb, c, ci + 4 * ldc + j);
                    tile1x1(k, a, ai + 5 * si, sp, b, bo + j, ldb, c, ci + 5 * ldc + j);
                }
                if (j < n) {
                    for (int r = 0; r < 6; r++) {
                        scalarRow(k, n, j, a, ai + r * si, sp, b, bo, ldb, c, ci + r * ldc);
                    }
                }
            }
        }
        for (; i + 4 <= m; i += 4) {
            int ai = ao + i * si;
            int ci = co + i * ldc;
            int j = 0;
            for (; j + 4 * len <= n; j += 4 * len) {
                tile4x4(k, a, ai, si, sp, b, bo + j, ldb, c, ci + j, ldc);
            }
            for (; j + len <= n; j += len) {
                tile4x1(k, a, ai, si, sp, b, bo + j, ldb, c, ci + j, ldc);
            }
            if (j < n) {
                for (int r = 0; r < 4; r++) {
                    scalarRow(k, n, j, a, ai + r * si, sp, b, bo, ldb, c, ci + r * ldc);
                }
            }
        }
        for (; i < m; i++) {
            int ai = ao + i * si;
            int ci = co + i * ldc;
            int j = 0;
            for (; j + len <= n; j += len) {
                tile1x1(k, a, ai, sp, b, bo + j, ldb, c, ci + j);
            }
            if (j < n) {
                scalarRow(k, n, j, a, ai, sp, b, bo, ldb, c, ci);
            }
        }
    }

    private static void scalarRow(int k, int n, int j0, float[] a, int ai, int sp, float[] b, int bo, int ldb,
            float[] c, int ci) {
        for (int p = 0; p < k; p++) {
            float x = a[ai + p * sp];
            int bp = bo + p * ldb;
            for (int j = j0; j < n; j++) {
                c[ci + j] += x * b[bp + j];
            }
        }
    }

    private static void tile4x4(int k, float[] a, int ai, int si, int sp, float[] b, int bj, int ldb, float[] c,
            int cij, int ldc) {
        int len = S.length();
        int r1 = cij + ldc;
        int r2 = r1 + ldc;
        int r3 = r2 + ldc;
        FloatVector c00 = FloatVector.fromArray(S, c, cij);
        FloatVector c01 = FloatVector.fromArray(S, c, cij + len);
        FloatVector c02 = FloatVector.fromArray(S, c, cij + 2 * len);
        FloatVector c03 = FloatVector.fromArray(S, c, cij + 3 * len);
        FloatVector c10 = FloatVector.fromArray(S, c, r1);
        FloatVector c11 = FloatVector.fromArray(S, c, r1 + len);
        FloatVector c12 = FloatVector.fromArray(S, c, r1 + 2 * len);
        FloatVector c13 = FloatVector.fromArray(S, c, r1 + 3 * len);
        FloatVector c20 = FloatVector.fromArray(S, c, r2);
        FloatVector c21 = FloatVector.fromArray(S, c, r2 + len);
        FloatVector c22 = FloatVector.fromArray(S, c, r2 + 2 * len);
        FloatVector c23 = FloatVector.fromArray(S, c, r2 + 3 * len);
        FloatVector c30 = FloatVector.fromArray(S, c, r3);
        FloatVector c31 = FloatVector.fromArray(S, c, r3 + len);
        FloatVector c32 = FloatVector.fromArray(S, c, r3 + 2 * len);
        FloatVector c33 = FloatVector.fromArray(S, c, r3 + 3 * len);
        int a1 = ai + si;
        int a2 = a1 + si;
        int a3 = a2 + si;
        for (int p = 0; p < k; p++) {
            int bp = bj + p * ldb;
            int ap = p * sp;
            FloatVector b0 = FloatVector.fromArray(S, b, bp);
            FloatVector b1 = FloatVector.fromArray(S, b, bp + len);
            FloatVector b2 = FloatVector.fromArray(S, b, bp + 2 * len);
            FloatVector b3 = FloatVector.fromArray(S, b, bp + 3 * len);
            FloatVector x = FloatVector.broadcast(S, a[ai + ap]);
            c00 = b0.fma(x, c00);
            c01 = b1.fma(x, c01);
            c02 = b2.fma(x, c02);
            c03 = b3.fma(x, c03);
            x = FloatVector.broadcast(S, a[a1 + ap]);
            c10 = b0.fma(x, c10);
            c11 = b1.fma(x, c11);
            c12 = b2.fma(x, c12);
            c13 = b3.fma(x, c13);
            x = FloatVector.broadcast(S, a[a2 + ap]);
            c20 = b0.fma(x, c20);
            c21 = b1.fma(x, c21);
            c22 = b2.fma(x, c22);
            c23 = b3.fma(x, c23);
            x = FloatVector.broadcast(S, a[a3 + ap]);
            c30 = b0.fma(x, c30);
            c31 = b1.fma(x, c31);
            c32 = b2.fma(x, c32);
            c33 = b3.fma(x, c33);
        }
        c00.intoArray(c, cij);
        c01.intoArray(c, cij + len);
        c02.intoArray(c, cij + 2 * len);
        c03.intoArray(c, cij + 3 * len);
        c10.intoArray(c, r1);
        c11.intoArray(c, r1 + len);
        c12.intoArray(c, r1 + 2 * len);
        c13.intoArray(c, r1 + 3 * len);
        c20.intoArray(c, r2);
        c21.intoArray(c, r2 + len);
        c22.intoArray(c, r2 + 2 * len);
        c23.intoArray(c, r2 + 3 * len);
        c30.intoArray(c, r3);
        c31.intoArray(c, r3 + len);
        c32.intoArray(c, r3 + 2 * len);
        c33.intoArray(c, r3 + 3 * len);
    }

    private static void tile6x2(int k, float[] a, int ai, int si, int sp, float[] b, int bj, int ldb, float[] c,
            int cij, int ldc) {
        int len = S.length();
        int r1 = cij + ldc;
        int r2 = r1 + ldc;
        int r3 = r2 + ldc;
        int r4 = r3 + ldc;
        int r5 = r4 + ldc;
        FloatVector c00 = FloatVector.fromArray(S, c, cij);
        FloatVector c01 = FloatVector.fromArray(S, c, cij + len);
        FloatVector c10 = FloatVector.fromArray(S, c, r1);
        FloatVector c11 = FloatVector.fromArray(S, c, r1 + len);
        FloatVector c20 = FloatVector.fromArray(S, c, r2);
        FloatVector c21 = FloatVector.fromArray(S, c, r2 + len);
        FloatVector c30 = FloatVector.fromArray(S, c, r3);
        FloatVector c31 = FloatVector.fromArray(S, c, r3 + len);
        FloatVector c40 = FloatVector.fromArray(S, c, r4);
        FloatVector c41 = FloatVector.fromArray(S, c, r4 + len);
        FloatVector c50 = FloatVector.fromArray(S, c, r5);
        FloatVector c51 = FloatVector.fromArray(S, c, r5 + len);
        int a1 = ai + si;
        int a2 = a1 + si;
        int a3 = a2 + si;
        int a4 = a3 + si;
        int a5 = a4 + si;
        for (int p = 0; p < k; p++) {
            int bp = bj + p * ldb;
            int ap = p * sp;
            FloatVector b0 = FloatVector.fromArray(S, b, bp);
            FloatVector b1 = FloatVector.fromArray(S, b, bp + len);
            FloatVector x = FloatVector.broadcast(S, a[ai + ap]);
            c00 = b0.fma(x, c00);
            c01 = b1.fma(x, c01);
            x = FloatVector.broadcast(S, a[a1 + ap]);
            c10 = b0.fma(x, c10);
            c11 = b1.fma(x, c11);
            x = FloatVector.broadcast(S, a[a2 + ap]);
            c20 = b0.fma(x, c20);
            c21 = b1.fma(x, c21);
            x = FloatVector.broadcast(S, a[a3 + ap]);
            c30 = b0.fma(x, c30);
            c31 = b1.fma(x, c31);
            x = FloatVector.broadcast(S, a[a4 + ap]);
            c40 = b0.fma(x, c40);
            c41 = b1.fma(x, c41);
            x = FloatVector.broadcast(S, a[a5 + ap]);
            c50 = b0.fma(x, c50);
            c51 = b1.fma(x, c51);
        }
        c00.intoArray(c, cij);
        c01.intoArray(c, cij + len);
        c10.intoArray(c, r1);
        c11.intoArray(c, r1 + len);
        c20.intoArray(c, r2);
        c21.intoArray(c, r2 + len);
        c30.intoArray(c, r3);
        c31.intoArray(c, r3 + len);
        c40.intoArray(c, r4);
        c41.intoArray(c, r4 + len);
        c50.intoArray(c, r5);
        c51.intoArray(c, r5 + len);
    }

    private static void tile1x1(int k, float[] a, int ai, int sp, float[] b, int bj, int ldb, float[] c, int cij) {
        FloatVector acc = FloatVector.fromArray(S, c, cij);
        for (int p = 0; p < k; p++) {
            acc = FloatVector.fromArray(S, b, bj + p * ldb).fma(FloatVector.broadcast(S, a[ai + p * sp]), acc);
        }
        acc.intoArray(c, cij);
    }

    private static void tile4x1(int k, float[] a, int ai, int si, int sp, float[] b, int bj, int ldb, float[] c,
            int cij, int ldc) {
        int r1 = cij + ldc;
        int r2 = r1 + ldc;
        int r3 = r2 + ldc;
        FloatVector c0 = FloatVector.fromArray(S, c, cij);
        FloatVector c1 = FloatVector.fromArray(S, c, r1);
        FloatVector c2 = FloatVector.fromArray(S, c, r2);
        FloatVector c3 = FloatVector.fromArray(S, c, r3);
        int a1 = ai + si;
        int a2 = a1 + si;
        int a3 = a2 + si;
        for (int p = 0; p < k; p++) {
            int ap = p * sp;
            FloatVector b0 = FloatVector.fromArray(S, b, bj + p * ldb);
            c0 = b0.fma(FloatVector.broadcast(S, a[ai + ap]), c0);
            c1 = b0.fma(FloatVector.broadcast(S, a[a1 + ap]), c1);
            c2 = b0.fma(FloatVector.broadcast(S, a[a2 + ap]), c2);
            c3 = b0.fma(FloatVector.broadcast(S, a[a3 + ap]), c3);
        }
        c0.intoArray(c, cij);
        c1.intoArray(c, r1);
        c2.intoArray(c, r2);
        c3.intoArray(c, r3);
    }
}
