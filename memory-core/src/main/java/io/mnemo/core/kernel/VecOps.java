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
}
