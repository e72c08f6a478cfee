package io.mnemo.core.kernel;

/**
 * Dense loops over contiguous runs of floats, the building blocks of the per-token kernels. Arrays
 * are addressed as {@code (array, offset)} with a length {@code n}.
 */
public interface VecOps {
    /** {@code y[yo+i] += a * x[xo+i]} for i in [0, n). */
    void axpy(int n, float a, float[] x, int xo, float[] y, int yo);

    /** Returns {@code Σ x[xo+i] * y[yo+i]}. */
    float dot(int n, float[] x, int xo, float[] y, int yo);

    /** {@code x[xo+i] *= a}. */
    void scale(int n, float a, float[] x, int xo);

    /** {@code y[yo+i] = a * x[xo+i]}. */
    void scaleTo(int n, float a, float[] x, int xo, float[] y, int yo);

    /** Fused decay and accumulate: {@code x[xo+i] *= a; y[yo+i] += c * x[xo+i]}. */
    default void scaleAxpy(int n, float a, float[] x, int xo, float c, float[] y, int yo) {
        scale(n, a, x, xo);
        axpy(n, c, x, xo, y, yo);
    }

    /** Fused write and read: {@code x[xo+i] += c1 * v[vo+i]; y[yo+i] += c2 * x[xo+i]}. */
    default void axpyAxpy(int n, float c1, float[] v, int vo, float[] x, int xo, float c2, float[] y, int yo) {
        axpy(n, c1, v, vo, x, xo);
        axpy(n, c2, x, xo, y, yo);
    }

    /**
     * Small dense matrix product, accumulating: {@code C[m×n] += op(A)[m×k] · B[k×n]}, all row-major.
     * {@code op(A)(i, p)} is {@code a[ao + i·lda + p]}, or with {@code transA} {@code a[ao + p·lda + i]} (A
     * stored as its {@code k×m} transpose); {@code B(p, j) = b[bo + p·ldb + j]}; {@code C(i, j) = c[co + i·ldc + j]}.
     * The building block of the chunked kernels (64×64 operands that stay in L1/L2). This default is the
     * plain-Java loop order i, p, j; the Vector API implementation register-blocks 4 rows × 4 vectors
     * (512-bit) or 6 rows × 2 vectors (narrower).
     */
    default void gemm(boolean transA, int m, int n, int k, float[] a, int ao, int lda, float[] b, int bo, int ldb,
            float[] c, int co, int ldc) {
        int si = transA ? 1 : lda;
        int sp = transA ? lda : 1;
        for (int i = 0; i < m; i++) {
            int ci = co + i * ldc;
            for (int p = 0; p < k; p++) {
                float aip = a[ao + i * si + p * sp];
                int bp = bo + p * ldb;
                for (int j = 0; j < n; j++) {
                    c[ci + j] += aip * b[bp + j];
                }
            }
        }
    }
}
