package io.mnemo.modules.titans;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link TitansGemm} on the JDK Vector API: blocks of 4 rows × 2 vectors of {@code C} stay in registers
 * while the {@code k} loop broadcasts {@code A(i, p)} and streams rows of {@code B}; remainders use
 * 1-row and 1-vector blocks and scalar columns. Loaded reflectively by {@link TitansGemm#get()}.
 */
final class TitansGemmSimd extends TitansGemm {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    @Override
    void mulAdd(int m, int n, int k, float[] a, int ao, int ams, int aks, float[] b, int bo, int ldb, float[] c,
            int co, int ldc) {
        if (m <= 0 || n <= 0 || k <= 0) {
            return;
        }
        int nv = n / L * L;
        int j = 0;
        for (; j + 2 * L <= nv; j += 2 * L) {
            int i = 0;
            for (; i + 4 <= m; i += 4) {
                block4x2(k, a, ao + i * ams, ams, aks, b, bo + j, ldb, c, co + i * ldc + j, ldc);
            }
            for (; i < m; i++) {
                block1x2(k, a, ao + i * ams, aks, b, bo + j, ldb, c, co + i * ldc + j);
            }
        }
        for (; j < nv; j += L) {
            int i = 0;
            for (; i + 4 <= m; i += 4) {
                block4x1(k, a, ao + i * ams, ams, aks, b, bo + j, ldb, c, co + i * ldc + j, ldc);
            }
            for (; i < m; i++) {
                block1x1(k, a, ao + i * ams, aks, b, bo + j, ldb, c, co + i * ldc + j);
            }
        }
        if (nv < n) {
            for (int i = 0; i < m; i++) {
                int ci = co + i * ldc;
                for (int q = 0; q < k; q++) {
                    float av = a[ao + i * ams + q * aks];
                    int bq = bo + q * ldb;
                    for (int jj = nv; jj < n; jj++) {
                        c[ci + jj] += av * b[bq + jj];
                    }
                }
            }
        }
    }

    @Override
    void silu(float[] z, int from, int to, float[] val, float[] d1, float[] aux) {
        int i = from;
        int bound = from + S.loopBound(to - from);
        FloatVector one = FloatVector.broadcast(S, 1f);
        for (; i < bound; i += L) {
            FloatVector xv = FloatVector.fromArray(S, z, i);
            FloatVector sg = one.div(xv.neg().lanewise(VectorOperators.EXP).add(one));
            xv.mul(sg).intoArray(val, i);
            sg.mul(xv.mul(one.sub(sg)).add(one)).intoArray(d1, i);
            if (aux != null) {
                sg.intoArray(aux, i);
            }
        }
        super.silu(z, i, to, val, d1, aux);
    }

    private static void block4x2(int k, float[] a, int ao, int ams, int aks, float[] b, int bo, int ldb, float[] c,
            int co, int ldc) {
        int c1 = co + ldc;
        int c2 = c1 + ldc;
        int c3 = c2 + ldc;
        FloatVector c00 = FloatVector.fromArray(S, c, co);
        FloatVector c01 = FloatVector.fromArray(S, c, co + L);
        FloatVector c10 = FloatVector.fromArray(S, c, c1);
        FloatVector c11 = FloatVector.fromArray(S, c, c1 + L);
        FloatVector c20 = FloatVector.fromArray(S, c, c2);
        FloatVector c21 = FloatVector.fromArray(S, c, c2 + L);
        FloatVector c30 = FloatVector.fromArray(S, c, c3);
        FloatVector c31 = FloatVector.fromArray(S, c, c3 + L);
        for (int q = 0; q < k; q++) {
            int bq = bo + q * ldb;
            FloatVector b0 = FloatVector.fromArray(S, b, bq);
            FloatVector b1 = FloatVector.fromArray(S, b, bq + L);
            int aq = ao + q * aks;
            FloatVector x = FloatVector.broadcast(S, a[aq]);
            c00 = b0.fma(x, c00);
            c01 = b1.fma(x, c01);
            x = FloatVector.broadcast(S, a[aq + ams]);
            c10 = b0.fma(x, c10);
            c11 = b1.fma(x, c11);
            x = FloatVector.broadcast(S, a[aq + 2 * ams]);
            c20 = b0.fma(x, c20);
            c21 = b1.fma(x, c21);
            x = FloatVector.broadcast(S, a[aq + 3 * ams]);
            c30 = b0.fma(x, c30);
            c31 = b1.fma(x, c31);
        }
        c00.intoArray(c, co);
        c01.intoArray(c, co + L);
        c10.intoArray(c, c1);
        c11.intoArray(c, c1 + L);
        c20.intoArray(c, c2);
        c21.intoArray(c, c2 + L);
        c30.intoArray(c, c3);
        c31.intoArray(c, c3 + L);
    }

    private static void block1x2(int k, float[] a, int ao, int aks, float[] b, int bo, int ldb, float[] c, int co) {
        FloatVector c00 = FloatVector.fromArray(S, c, co);
        FloatVector c01 = FloatVector.fromArray(S, c, co + L);
        for (int q = 0; q < k; q++) {
            int bq = bo + q * ldb;
            FloatVector x = FloatVector.broadcast(S, a[ao + q * aks]);
            c00 = FloatVector.fromArray(S, b, bq).fma(x, c00);
            c01 = FloatVector.fromArray(S, b, bq + L).fma(x, c01);
        }
        c00.intoArray(c, co);
        c01.intoArray(c, co + L);
    }

    private static void block4x1(int k, float[] a, int ao, int ams, int aks, float[] b, int bo, int ldb, float[] c,
            int co, int ldc) {
        int c1 = co + ldc;
        int c2 = c1 + ldc;
        int c3 = c2 + ldc;
        FloatVector c00 = FloatVector.fromArray(S, c, co);
        FloatVector c10 = FloatVector.fromArray(S, c, c1);
        FloatVector c20 = FloatVector.fromArray(S, c, c2);
        FloatVector c30 = FloatVector.fromArray(S, c, c3);
        for (int q = 0; q < k; q++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo + q * ldb);
            int aq = ao + q * aks;
            c00 = b0.fma(FloatVector.broadcast(S, a[aq]), c00);
            c10 = b0.fma(FloatVector.broadcast(S, a[aq + ams]), c10);
            c20 = b0.fma(FloatVector.broadcast(S, a[aq + 2 * ams]), c20);
            c30 = b0.fma(FloatVector.broadcast(S, a[aq + 3 * ams]), c30);
        }
        c00.intoArray(c, co);
        c10.intoArray(c, c1);
        c20.intoArray(c, c2);
        c30.intoArray(c, c3);
    }

    private static void block1x1(int k, float[] a, int ao, int aks, float[] b, int bo, int ldb, float[] c, int co) {
        FloatVector c00 = FloatVector.fromArray(S, c, co);
        for (int q = 0; q < k; q++) {
            c00 = FloatVector.fromArray(S, b, bo + q * ldb).fma(FloatVector.broadcast(S, a[ao + q * aks]), c00);
        }
        c00.intoArray(c, co);
    }
}
