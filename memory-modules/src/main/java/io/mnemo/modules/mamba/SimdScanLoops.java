package io.mnemo.modules.mamba;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link ScanLoops} on the JDK Vector API at the platform's preferred width (16 floats with AVX-512: one
 * register holds a whole Mamba state of N = 16); the exponentials use the vector {@code EXP} (SVML on
 * x86). Loaded reflectively by {@link ScanLoops#get()}.
 */
final class SimdScanLoops implements ScanLoops {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    @Override
    public float updateRead(int n, float[] h, int ho, float[] a, int ao, float dt, float dtu, float[] b, int bo,
            float[] c, int co, float[] decays, int dOff) {
        int i = 0;
        int bound = S.loopBound(n);
        FloatVector acc = FloatVector.zero(S);
        for (; i < bound; i += S.length()) {
            FloatVector e = FloatVector.fromArray(S, a, ao + i).mul(dt).lanewise(VectorOperators.EXP);
            if (decays != null) {
                e.intoArray(decays, dOff + i);
            }
            FloatVector hv = e.mul(FloatVector.fromArray(S, h, ho + i))
                    .add(FloatVector.fromArray(S, b, bo + i).mul(dtu));
            hv.intoArray(h, ho + i);
            if (c != null) {
                acc = FloatVector.fromArray(S, c, co + i).fma(hv, acc);
            }
        }
        float y = c == null ? 0f : acc.reduceLanes(VectorOperators.ADD);
        if (i < n) {
            y += tailUpdate(n, i, h, ho, a, ao, dt, dtu, b, bo, c, co, decays, dOff);
        }
        return y;
    }

    private static float tailUpdate(int n, int from, float[] h, int ho, float[] a, int ao, float dt, float dtu,
            float[] b,
            int bo, float[] c, int co, float[] decays, int dOff) {
        float y = 0f;
        for (int k = from; k < n; k++) {
            float e = (float) Math.exp(dt * a[ao + k]);
            if (decays != null) {
                decays[dOff + k] = e;
            }
            float hk = e * h[ho + k] + dtu * b[bo + k];
            h[ho + k] = hk;
            if (c != null) {
                y += c[co + k] * hk;
            }
        }
        return y;
    }

    @Override
    public void deltaRow(int len, float[] delta, int off, float bias, boolean softplus, float[] dst, float[] sig) {
        int i = 0;
        int bound = S.loopBound(len);
        for (; i < bound; i += S.length()) {
            FloatVector x = FloatVector.fromArray(S, delta, off + i).add(bias);
            if (softplus) {
                x.max(0f).add(x.abs().neg().lanewise(VectorOperators.EXP).lanewise(VectorOperators.LOG1P))
                        .intoArray(dst, i);
            } else {
                x.intoArray(dst, i);
            }
            if (sig != null) {
                sigmoid(x).intoArray(sig, i);
            }
        }
        for (; i < len; i++) {
            float x = delta[off + i] + bias;
            dst[i] = softplus ? Math.max(x, 0f) + (float) Math.log1p(Math.exp(-Math.abs(x))) : x;
            if (sig != null) {
                sig[i] = (float) (1 / (1 + Math.exp(-x)));
            }
        }
    }

    @Override
    public void sigmoidRow(int len, float[] z, int off, float[] sig) {
        int i = 0;
        int bound = S.loopBound(len);
        for (; i < bound; i += S.length()) {
            sigmoid(FloatVector.fromArray(S, z, off + i)).intoArray(sig, i);
        }
        for (; i < len; i++) {
            sig[i] = (float) (1 / (1 + Math.exp(-z[off + i])));
        }
    }

    /** σ(x) = 1 / (1 + e^{−x}); e^{−x} overflowing to +∞ gives 0, as it should. */
    private static FloatVector sigmoid(FloatVector x) {
        return FloatVector.broadcast(S, 1f).div(x.neg().lanewise(VectorOperators.EXP).add(1f));
    }

    @Override
    public void reverseStep(int n, float[] dh, float gy, float[] c, int co, float[] hNow, int hn, float[] dC, int dco,
            float[] b, int bo, float dtu, float[] dB, int dbo, float[] decays, int dOff, float[] hPrev, int hp,
            float[] a, int ao, float dt, float[] dA, int dao, float[] out2) {
        int i = 0;
        int bound = S.loopBound(n);
        FloatVector vgy = FloatVector.broadcast(S, gy);
        FloatVector vdtu = FloatVector.broadcast(S, dtu);
        FloatVector vdt = FloatVector.broadcast(S, dt);
        FloatVector accB = FloatVector.zero(S);
        FloatVector accA = FloatVector.zero(S);
        for (; i < bound; i += S.length()) {
            FloatVector.fromArray(S, hNow, hn + i).fma(vgy, FloatVector.fromArray(S, dC, dco + i))
                    .intoArray(dC, dco + i);
            FloatVector g = FloatVector.fromArray(S, c, co + i).fma(vgy, FloatVector.fromArray(S, dh, i));
            accB = g.fma(FloatVector.fromArray(S, b, bo + i), accB);
            g.fma(vdtu, FloatVector.fromArray(S, dB, dbo + i)).intoArray(dB, dbo + i);
            FloatVector e = FloatVector.fromArray(S, decays, dOff + i);
            FloatVector ge = g.mul(e);
            FloatVector q = ge.mul(FloatVector.fromArray(S, hPrev, hp + i));
            accA = q.fma(FloatVector.fromArray(S, a, ao + i), accA);
            q.fma(vdt, FloatVector.fromArray(S, dA, dao + i)).intoArray(dA, dao + i);
            ge.intoArray(dh, i);
        }
        float dBu = accB.reduceLanes(VectorOperators.ADD);
        float sA = accA.reduceLanes(VectorOperators.ADD);
        for (int k = i; k < n; k++) {
            dC[dco + k] += gy * hNow[hn + k];
            float g = dh[k] + gy * c[co + k];
            dBu += g * b[bo + k];
            dB[dbo + k] += dtu * g;
            float e = decays[dOff + k];
            float q = g * e * hPrev[hp + k];
            sA += a[ao + k] * q;
            dA[dao + k] += dt * q;
            dh[k] = g * e;
        }
        out2[0] = dBu;
        out2[1] = sA;
    }
}
