package io.mnemo.core.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** {@link VecOps} on the JDK Vector API at the platform's preferred width; loaded reflectively. */
final class SimdOps implements VecOps {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

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
}
