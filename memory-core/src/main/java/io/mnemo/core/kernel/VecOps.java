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
}
