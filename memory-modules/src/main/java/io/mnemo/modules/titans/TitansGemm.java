package io.mnemo.modules.titans;

import io.mnemo.core.kernel.VecOps;
import io.mnemo.core.kernel.VectorSupport;

/**
 * The small float kernels of the chunked {@code cpu} Titans kernel ({@link CpuTitansKernel}): the
 * multiply-add {@code C += A·B} with {@code A} read in place or as its stored transpose (core's
 * {@link VecOps#gemm}), and SiLU with its derivative. The Vector API SiLU ({@code TitansGemmSimd}) is chosen
 * when {@link VectorSupport#simd()} is true, plain Java otherwise (loaded reflectively, like
 * {@code io.mnemo.core.kernel.SimdOps}, so that the class loads without {@code jdk.incubator.vector}).
 */
class TitansGemm {
    private static final TitansGemm INSTANCE = choose();
    private static final VecOps OPS = VectorSupport.ops();

    /** The implementation matching {@link VectorSupport#ops()}. */
    static TitansGemm get() {
        return INSTANCE;
    }

    private static TitansGemm choose() {
        if (!VectorSupport.simd()) {
            return new TitansGemm();
        }
        try {
            return (TitansGemm) Class.forName("io.mnemo.modules.titans.TitansGemmSimd").getDeclaredConstructor()
                    .newInstance();
        } catch (ReflectiveOperationException | LinkageError e) {
            return new TitansGemm();
        }
    }

    /**
     * {@code C[i][j] += Σ_{p<k} A(i, p) · B[p][j]} for {@code i < m, j < n}, with
     * {@code A(i, p) = a[ao + i·ams + p·aks]}, {@code B[p][j] = b[bo + p·ldb + j]},
     * {@code C[i][j] = c[co + i·ldc + j]}. A is read row-major ({@code aks = 1}) or as a stored transpose
     * ({@code ams = 1}); both go to core's {@link VecOps#gemm} (Vector API tiles when SIMD is on).
     */
    final void mulAdd(int m, int n, int k, float[] a, int ao, int ams, int aks, float[] b, int bo, int ldb, float[] c,
            int co, int ldc) {
        if (aks == 1) {
            OPS.gemm(false, m, n, k, a, ao, ams, b, bo, ldb, c, co, ldc);
        } else if (ams == 1) {
            OPS.gemm(true, m, n, k, a, ao, aks, b, bo, ldb, c, co, ldc);
        } else {
            throw new IllegalArgumentException("A must be row-major (aks = 1) or transposed (ams = 1), got ams=" + ams
                    + ", aks=" + aks);
        }
    }

    /**
     * SiLU on {@code z[from, to)} with one exponential per element: {@code val = z·s},
     * {@code d1 = s(1 + z(1 − s))} (the derivative) and, when {@code aux} is not null, {@code aux = s},
     * where {@code s = sigmoid(z)}.
     */
    void silu(float[] z, int from, int to, float[] val, float[] d1, float[] aux) {
        for (int i = from; i < to; i++) {
            float xv = z[i];
            float sg = 1f / (1f + (float) Math.exp(-xv));
            val[i] = xv * sg;
            d1[i] = sg * (1f + xv * (1f - sg));
            if (aux != null) {
                aux[i] = sg;
            }
        }
    }

    /** {@code y[yo + j·ldy + i] = x[xo + i·ldx + j]} for {@code i < rows, j < cols}. */
    static void transpose(int rows, int cols, float[] x, int xo, int ldx, float[] y, int yo, int ldy) {
        for (int i = 0; i < rows; i++) {
            int xi = xo + i * ldx;
            for (int j = 0; j < cols; j++) {
                y[yo + j * ldy + i] = x[xi + j];
            }
        }
    }
}
