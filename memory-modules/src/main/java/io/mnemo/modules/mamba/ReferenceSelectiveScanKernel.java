package io.mnemo.modules.mamba;

import io.mnemo.core.NdBuffers;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The {@code reference} backend: mamba_ssm's {@code selective_scan_ref}
 * (mamba_ssm/ops/selective_scan_interface.py; Gu and Dao 2023, "Mamba", Algorithm 2) as a per-token
 * loop in double precision, plus an initial state. For each batch element b and channel d:
 * <pre>
 *   Δ_t   = softplus(delta[b,d,t] + delta_bias[d])        (without softplus if delta_softplus is off)
 *   h_t   = exp(Δ_t A[d,:]) ⊙ h_{t−1} + Δ_t u[b,d,t] B_t        B_t = B[d,:] | B[b,:,t] | B[b,g(d),:,t]
 *   y_t   = ⟨C_t, h_t⟩ + D[d] u[b,d,t]
 *   out_t = y_t · silu(z[b,d,t])                          (if z is given)
 * </pre>
 * with {@code h_{−1}} the initial state (zeros by default) and {@code g(d) = d / (D / G)}. Backward is
 * the reverse recurrence (docs/ops/mamba.md §3), keeping every state of a channel (O(L·N) per channel).
 */
public final class ReferenceSelectiveScanKernel implements SelectiveScanKernel {

    /** The inputs as flat double arrays, c order (optional ones null). */
    record Data(double[] u, double[] delta, double[] a, double[] b, double[] c, double[] d, double[] z,
            double[] bias, double[] init) {
        static Data of(SelectiveScanInputs in) {
            return new Data(NdBuffers.toDoubles(in.u()), NdBuffers.toDoubles(in.delta()), NdBuffers.toDoubles(in.a()),
                    NdBuffers.toDoubles(in.b()), NdBuffers.toDoubles(in.c()), dbl(in.d()), dbl(in.z()),
                    dbl(in.deltaBias()), dbl(in.initialState()));
        }

        private static double[] dbl(INDArray a) {
            return a == null ? null : NdBuffers.toDoubles(a);
        }
    }

    /** Flat index of element n of B_t or C_t (in its own layout) for channel d of batch element b. */
    static int opIndex(ScanDims s, ScanDims.Operand o, int b, int d, int n, int t) {
        if (o.shared()) {
            return d * s.dstate() + n;
        }
        int g = s.group(o, d);
        return ((b * o.groups() + g) * s.dstate() + n) * s.len() + t;
    }

    static double softplus(double x) {
        return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
    }

    static double sigmoid(double x) {
        return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
    }

    /** Δ after bias and softplus. */
    static double dt(boolean softplus, Data x, int d, int i) {
        double raw = x.delta()[i] + (x.bias() == null ? 0 : x.bias()[d]);
        return softplus ? softplus(raw) : raw;
    }

    @Override
    public SelectiveScanForward forward(SelectiveScanConfig cfg, ScanDims s, SelectiveScanInputs in, boolean save) {
        Data x = Data.of(in);
        int n = s.dstate();
        int len = s.len();
        double[] out = new double[s.batch() * s.dim() * len];
        double[] last = new double[s.stateSize()];
        double[] h = new double[n];
        for (int b = 0; b < s.batch(); b++) {
            for (int d = 0; d < s.dim(); d++) {
                int ch = b * s.dim() + d;
                for (int k = 0; k < n; k++) {
                    h[k] = x.init() == null ? 0 : x.init()[ch * n + k];
                }
                for (int t = 0; t < len; t++) {
                    int i = ch * len + t;
                    double dt = dt(cfg.deltaSoftplus(), x, d, i);
                    double ut = x.u()[i];
                    double y = 0;
                    for (int k = 0; k < n; k++) {
                        double bk = x.b()[opIndex(s, s.bMode(), b, d, k, t)];
                        double ck = x.c()[opIndex(s, s.cMode(), b, d, k, t)];
                        h[k] = Math.exp(dt * x.a()[d * n + k]) * h[k] + dt * bk * ut;
                        y += ck * h[k];
                    }
                    if (x.d() != null) {
                        y += x.d()[d] * ut;
                    }
                    if (x.z() != null) {
                        double zt = x.z()[i];
                        y *= zt * sigmoid(zt);
                    }
                    out[i] = y;
                }
                System.arraycopy(h, 0, last, ch * n, n);
            }
        }
        DataType t = in.u().dataType();
        return new SelectiveScanForward(NdBuffers.of(t, out, s.batch(), s.dim(), len),
                NdBuffers.of(t, last, s.batch(), s.dim(), n), cfg, s, in, save ? x : null);
    }

    @Override
    public SelectiveScanGrads backward(SelectiveScanForward fwd, INDArray dOut, INDArray dLastState) {
        if (!(fwd.saved() instanceof Data x)) {
            throw new IllegalArgumentException("backward needs a forward run by the reference backend with save=true");
        }
        ScanDims s = fwd.dims();
        boolean sp = fwd.config().deltaSoftplus();
        int n = s.dstate();
        int len = s.len();
        double[] go = dOut == null ? null : NdBuffers.toDoubles(dOut);
        double[] gl = dLastState == null ? null : NdBuffers.toDoubles(dLastState);
        double[] du = new double[x.u().length];
        double[] dDelta = new double[x.delta().length];
        double[] dA = new double[x.a().length];
        double[] dB = new double[x.b().length];
        double[] dC = new double[x.c().length];
        double[] dD = x.d() == null ? null : new double[x.d().length];
        double[] dz = x.z() == null ? null : new double[x.z().length];
        double[] dBias = x.bias() == null ? null : new double[x.bias().length];
        double[] dInit = new double[s.stateSize()];
        // hs[t+1] = h_t, hs[0] = initial state
        double[][] hs = new double[len + 1][n];
        double[] dh = new double[n];
        for (int b = 0; b < s.batch(); b++) {
            for (int d = 0; d < s.dim(); d++) {
                int ch = b * s.dim() + d;
                for (int k = 0; k < n; k++) {
                    hs[0][k] = x.init() == null ? 0 : x.init()[ch * n + k];
                }
                for (int t = 0; t < len; t++) {
                    int i = ch * len + t;
                    double dt = dt(sp, x, d, i);
                    for (int k = 0; k < n; k++) {
                        hs[t + 1][k] = Math.exp(dt * x.a()[d * n + k]) * hs[t][k]
                                + dt * x.b()[opIndex(s, s.bMode(), b, d, k, t)] * x.u()[i];
                    }
                }
                for (int k = 0; k < n; k++) {
                    dh[k] = gl == null ? 0 : gl[ch * n + k];
                }
                for (int t = len - 1; t >= 0; t--) {
                    int i = ch * len + t;
                    double ut = x.u()[i];
                    double raw = x.delta()[i] + (x.bias() == null ? 0 : x.bias()[d]);
                    double dt = sp ? softplus(raw) : raw;
                    double g = go == null ? 0 : go[i];
                    // out = y' · silu(z), y' = ⟨C, h⟩ + D u
                    double gy = g;
                    if (x.z() != null) {
                        double zt = x.z()[i];
                        double sg = sigmoid(zt);
                        double y = 0;
                        for (int k = 0; k < n; k++) {
                            y += x.c()[opIndex(s, s.cMode(), b, d, k, t)] * hs[t + 1][k];
                        }
                        if (x.d() != null) {
                            y += x.d()[d] * ut;
                        }
                        dz[i] += g * y * sg * (1 + zt * (1 - sg));
                        gy = g * zt * sg;
                    }
                    if (x.d() != null) {
                        dD[d] += gy * ut;
                        du[i] += gy * x.d()[d];
                    }
                    double dDt = 0;
                    double duSum = 0;
                    for (int k = 0; k < n; k++) {
                        int ci = opIndex(s, s.cMode(), b, d, k, t);
                        int bi = opIndex(s, s.bMode(), b, d, k, t);
                        dC[ci] += gy * hs[t + 1][k];
                        dh[k] += gy * x.c()[ci];
                        double ak = x.a()[d * n + k];
                        double decay = Math.exp(dt * ak);
                        // h_t = decay ⊙ h_{t−1} + Δ u B
                        dDt += dh[k] * (ak * decay * hs[t][k] + x.b()[bi] * ut);
                        dA[d * n + k] += dh[k] * dt * decay * hs[t][k];
                        dB[bi] += dh[k] * dt * ut;
                        duSum += dh[k] * x.b()[bi];
                        dh[k] *= decay;
                    }
                    du[i] += dt * duSum;
                    double dRaw = sp ? dDt * sigmoid(raw) : dDt;
                    dDelta[i] = dRaw;
                    if (dBias != null) {
                        dBias[d] += dRaw;
                    }
                }
                System.arraycopy(dh, 0, dInit, ch * n, n);
            }
        }
        SelectiveScanInputs in = fwd.inputs();
        DataType t = in.u().dataType();
        return new SelectiveScanGrads(NdBuffers.of(t, du, in.u().shape()), NdBuffers.of(t, dDelta, in.delta().shape()),
                NdBuffers.of(t, dA, in.a().shape()), NdBuffers.of(t, dB, in.b().shape()),
                NdBuffers.of(t, dC, in.c().shape()), dD == null ? null : NdBuffers.of(t, dD, in.d().shape()),
                dz == null ? null : NdBuffers.of(t, dz, in.z().shape()),
                dBias == null ? null : NdBuffers.of(t, dBias, in.deltaBias().shape()),
                NdBuffers.of(t, dInit, s.batch(), s.dim(), n));
    }
}
