package io.mnemo.core.kernel;

/** Plain-Java {@link VecOps}; the fallback without the Vector API. */
final class ScalarOps implements VecOps {
    @Override
    public void axpy(int n, float a, float[] x, int xo, float[] y, int yo) {
        for (int i = 0; i < n; i++) {
            y[yo + i] += a * x[xo + i];
        }
    }

    @Override
    public float dot(int n, float[] x, int xo, float[] y, int yo) {
        float s = 0f;
        for (int i = 0; i < n; i++) {
            s += x[xo + i] * y[yo + i];
        }
        return s;
    }

    @Override
    public void scale(int n, float a, float[] x, int xo) {
        for (int i = 0; i < n; i++) {
            x[xo + i] *= a;
        }
    }

    @Override
    public void scaleTo(int n, float a, float[] x, int xo, float[] y, int yo) {
        for (int i = 0; i < n; i++) {
            y[yo + i] = a * x[xo + i];
        }
    }
}
