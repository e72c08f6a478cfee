package io.mnemo.core.kernel;

/**
 * Products with a lower-triangular {@code n × n} factor, by blocks of {@value #ROW_BLOCK} rows, so that the blocks
 * above the diagonal are neither computed nor read: about 5/8 of the full product's work at n = 64. The causal
 * (intra-chunk) products of the chunked kernels: scores {@code Q Kᵀ} masked to {@code s ≤ r}, then {@code P V} and
 * the backward's {@code Pᵀ dO}.
 *
 * <p>All matrices are row-major float arrays addressed by absolute row index: row {@code i} of a matrix with
 * offset {@code o} and leading dimension {@code ld} starts at {@code o + i·ld}. Only rows {@code [j0, n)} of the
 * triangular factor L exist (a chunk's tail re-read from row j0); row blocks start at j0. {@link #lowerTimes} reads
 * the entries of L above the diagonal inside a row's block, which must be zero, and never those further right;
 * {@link #lowerTransposedTimes} blocks L's columns instead and needs L zero everywhere above the diagonal.
 */
public final class TriangularGemm {
    /** Rows per block; the diagonal blocks are computed (and read) whole. */
    public static final int ROW_BLOCK = 16;

    private TriangularGemm() {}

    /**
     * {@code L += A · B} on rows {@code [j0, n)} of L, columns {@code [0, end of the row's block)}: A is rows of
     * width k ({@code a[ao + i·lda + p]}), B is {@code k × n} ({@code b[bo + p·ldb + j]}), e.g. Kᵀ for scores.
     * Entries of L right of the diagonal inside the block are written too (callers mask them); further right,
     * nothing is written.
     */
    public static void lowerProduct(VecOps ops, int j0, int n, int k, float[] a, int ao, int lda, float[] b, int bo,
            int ldb, float[] l, int lo, int ldl) {
        for (int r0 = j0; r0 < n; r0 += ROW_BLOCK) {
            int r1 = Math.min(n, r0 + ROW_BLOCK);
            ops.gemm(false, r1 - r0, r1, k, a, ao + r0 * lda, lda, b, bo, ldb, l, lo + r0 * ldl, ldl);
        }
    }

    /**
     * {@code C += L · B} on rows {@code [j0, n)}: row i of C gets {@code Σ_{p ≤ i} L[i][p] B[p]}; B and C are rows
     * of width w ({@code b[bo + p·ldb + j]}, {@code c[co + i·ldc + j]}).
     */
    public static void lowerTimes(VecOps ops, int j0, int n, int w, float[] l, int lo, int ldl, float[] b, int bo,
            int ldb, float[] c, int co, int ldc) {
        for (int r0 = j0; r0 < n; r0 += ROW_BLOCK) {
            int r1 = Math.min(n, r0 + ROW_BLOCK);
            ops.gemm(false, r1 - r0, w, r1, l, lo + r0 * ldl, ldl, b, bo, ldb, c, co + r0 * ldc, ldc);
        }
    }

    /**
     * {@code C += Lᵀ · B} over L's rows {@code [j0, n)}: row i of C ({@code 0 ≤ i < n}) gets
     * {@code Σ_{t ≥ max(i, j0)} L[t][i] B[t]}; B and C as in {@link #lowerTimes}. L must be zero above the
     * diagonal (blocks of C's rows from 0 read L's columns from their block's first row).
     */
    public static void lowerTransposedTimes(VecOps ops, int j0, int n, int w, float[] l, int lo, int ldl, float[] b,
            int bo, int ldb, float[] c, int co, int ldc) {
        for (int i0 = 0; i0 < n; i0 += ROW_BLOCK) {
            int i1 = Math.min(n, i0 + ROW_BLOCK);
            int t0 = Math.max(j0, i0);
            ops.gemm(true, i1 - i0, w, n - t0, l, lo + t0 * ldl + i0, ldl, b, bo + t0 * ldb, ldb, c, co + i0 * ldc,
                    ldc);
        }
    }
}
