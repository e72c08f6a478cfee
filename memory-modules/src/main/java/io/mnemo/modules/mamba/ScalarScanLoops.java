package io.mnemo.modules.mamba;

/** {@link ScanLoops} in plain Java (the fallback without the Vector API). */
final class ScalarScanLoops implements ScanLoops {
    @Override
    public float updateRead(int n, float[] h, int ho, float[] a, int ao, float dt, float dtu, float[] b, int bo,
            float[] c, int co, float[] decays, int dOff) {
        float y = 0f;
        for (int k = 0; k < n; k++) {
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
        for (int i = 0; i < len; i++) {
            float x = delta[off + i] + bias;
            // softplus(x) = max(x, 0) + log(1 + e^{−|x|}), finite for any finite x
            dst[i] = softplus ? Math.max(x, 0f) + (float) Math.log1p(Math.exp(-Math.abs(x))) : x;
            if (sig != null) {
                sig[i] = (float) (1 / (1 + Math.exp(-x)));
            }
        }
    }

    @Override
    public void sigmoidRow(int len, float[] z, int off, float[] sig) {
        for (int i = 0; i < len; i++) {
            sig[i] = (float) (1 / (1 + Math.exp(-z[off + i])));
        }
    }

    @Override
    public void reverseStep(int n, float[] dh, float gy, float[] c, int co, float[] hNow, int hn, float[] dC, int dco,
            float[] b, int bo, float dtu, float[] dB, int dbo, float[] decays, int dOff, float[] hPrev, int hp,
            float[] a, int ao, float dt, float[] dA, int dao, float[] out2) {
        float dBu = 0f;
        float sA = 0f;
        for (int k = 0; k < n; k++) {
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
