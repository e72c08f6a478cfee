package io.mnemo.modules.mamba;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.kernel.VecOps;
import io.mnemo.core.kernel.VectorSupport;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The {@code cpu} backend of the selective scan: the recurrence of {@code selective_scan_ref} (see
 * {@link ReferenceSelectiveScanKernel}) fused per channel in float, one task per channel (b, d), with
 * the state {@code h[N]} in a small array and the dot products and axpys over N through {@link VecOps}.
 * Input-dependent B and C are transposed once to {@code [B, G, L, N]} so that each token's vector is
 * contiguous.
 *
 * <p>Backward: the forward keeps the state at the start of every chunk of {@code chunkSize} tokens
 * ({@code O(L/chunk · B·D·N)} floats); backward walks the chunks in reverse, recomputes the chunk's
 * states and decays from its checkpoint, and runs the reverse recurrence (docs/ops/mamba.md §3). Work is
 * split into tasks of channel ranges within one batch element; gradients that sum over channels (B and
 * C when input-dependent) or over the batch (A, B/C shared, D, delta_bias) go to per-task or per-batch
 * partial buffers that are summed at the end, so the result does not depend on the thread schedule.
 *
 * <p>Arithmetic is in float whatever the input type (use the {@code reference} backend for
 * double-precision results).
 */
public final class CpuSelectiveScanKernel implements SelectiveScanKernel {
    private final VecOps ops = VectorSupport.ops();

    /** Flat float copies of the inputs (B, C transposed when input-dependent) and the checkpoints. */
    record Saved(float[] u, float[] delta, float[] a, float[] bt, float[] ct, float[] d, float[] z, float[] bias,
            float[] init, float[] ckpt, int chunk, int chunks, boolean softplus) {}

    /** Offset of B_t (or C_t) of channel d, batch b in the transposed layout ([D, N] or [B, G, L, N]). */
    private static int off(ScanDims s, ScanDims.Operand o, int b, int d, int t) {
        if (o.shared()) {
            return d * s.dstate();
        }
        return ((b * o.groups() + s.group(o, d)) * s.len() + t) * s.dstate();
    }

    /** [B, G, N, L] (or [B, N, L]) to [B, G, L, N]; shared [D, N] unchanged. */
    private static float[] toTokenMajor(float[] x, ScanDims s, ScanDims.Operand o) {
        if (o.shared()) {
            return x;
        }
        int n = s.dstate();
        int len = s.len();
        float[] y = new float[x.length];
        for (int bg = 0; bg < s.batch() * o.groups(); bg++) {
            int base = bg * n * len;
            for (int k = 0; k < n; k++) {
                for (int t = 0; t < len; t++) {
                    y[base + t * n + k] = x[base + k * len + t];
                }
            }
        }
        return y;
    }

    static float softplus(float x) {
        return x > 0 ? x + (float) Math.log1p(Math.exp(-x)) : (float) Math.log1p(Math.exp(x));
    }

    static float sigmoid(float x) {
        return x >= 0 ? 1f / (1f + (float) Math.exp(-x)) : (float) (Math.exp(x) / (1 + Math.exp(x)));
    }

    @Override
    public SelectiveScanForward forward(SelectiveScanConfig cfg, ScanDims s, SelectiveScanInputs in, boolean save) {
        int n = s.dstate();
        int len = s.len();
        int chunk = cfg.chunkSize();
        int chunks = Math.max(1, (len + chunk - 1) / chunk);
        float[] init = in.initialState() == null ? null : NdBuffers.toFloats(in.initialState());
        Saved sv = new Saved(NdBuffers.toFloats(in.u()), NdBuffers.toFloats(in.delta()), NdBuffers.toFloats(in.a()),
                toTokenMajor(NdBuffers.toFloats(in.b()), s, s.bMode()), toTokenMajor(NdBuffers.toFloats(in.c()), s,
                s.cMode()), flt(in.d()), flt(in.z()), flt(in.deltaBias()), init,
                save ? new float[s.stateSize() * chunks] : null, chunk, chunks, cfg.deltaSoftplus());
        float[] out = new float[s.batch() * s.dim() * len];
        float[] last = new float[s.stateSize()];
        IntStream.range(0, s.batch() * s.dim()).parallel().forEach(ch -> {
            int b = ch / s.dim();
            int d = ch % s.dim();
            float[] h = new float[n];
            if (init != null) {
                System.arraycopy(init, ch * n, h, 0, n);
            }
            for (int t = 0; t < len; t++) {
                if (save && t % chunk == 0) {
                    System.arraycopy(h, 0, sv.ckpt(), (ch * chunks + t / chunk) * n, n);
                }
                int i = ch * len + t;
                float dt = dt(sv, d, i);
                float ut = sv.u()[i];
                update(n, h, sv.a(), d * n, dt, dt * ut, sv.bt(), off(s, s.bMode(), b, d, t), null, 0);
                out[i] = output(sv, d, i, ops.dot(n, sv.ct(), off(s, s.cMode(), b, d, t), h, 0));
            }
            System.arraycopy(h, 0, last, ch * n, n);
        });
        DataType t = in.u().dataType();
        return new SelectiveScanForward(NdBuffers.of(t, out, s.batch(), s.dim(), len),
                NdBuffers.of(t, last, s.batch(), s.dim(), n), cfg, s, in, save ? sv : null);
    }

    private static float[] flt(INDArray a) {
        return a == null ? null : NdBuffers.toFloats(a);
    }

    private static float dt(Saved sv, int d, int i) {
        float raw = sv.delta()[i] + (sv.bias() == null ? 0f : sv.bias()[d]);
        return sv.softplus() ? softplus(raw) : raw;
    }

    /** {@code (⟨C, h⟩ + D u) · silu(z)} from {@code y = ⟨C, h⟩}. */
    private static float output(Saved sv, int d, int i, float y) {
        if (sv.d() != null) {
            y += sv.d()[d] * sv.u()[i];
        }
        if (sv.z() != null) {
            float zt = sv.z()[i];
            y *= zt * sigmoid(zt);
        }
        return y;
    }

    /**
     * {@code h ← exp(Δ A) ⊙ h + (Δ u) B}, optionally keeping the decays. The exponentials are scalar
     * (no exp in {@link VecOps}); the input term goes through {@code axpy}.
     */
    private void update(int n, float[] h, float[] a, int ao, float dt, float dtu, float[] bt, int bo, float[] decays,
            int dOff) {
        for (int k = 0; k < n; k++) {
            float e = (float) Math.exp(dt * a[ao + k]);
            h[k] *= e;
            if (decays != null) {
                decays[dOff + k] = e;
            }
        }
        ops.axpy(n, dtu, bt, bo, h, 0);
    }

    /** A range of channels [d0, d1) of batch element b, with partial buffers for input-dependent dB, dC. */
    private record Task(int b, int d0, int d1, int gb0, float[] dB, int gc0, float[] dC) {}

    @Override
    public SelectiveScanGrads backward(SelectiveScanForward fwd, INDArray dOut, INDArray dLastState) {
        if (!(fwd.saved() instanceof Saved sv)) {
            throw new IllegalArgumentException("backward needs a forward run by the cpu backend with save=true");
        }
        ScanDims s = fwd.dims();
        int n = s.dstate();
        int len = s.len();
        int dim = s.dim();
        float[] go = dOut == null ? null : NdBuffers.toFloats(dOut);
        float[] gl = dLastState == null ? null : NdBuffers.toFloats(dLastState);
        float[] du = new float[sv.u().length];
        float[] dDelta = new float[sv.delta().length];
        float[] dz = sv.z() == null ? null : new float[sv.z().length];
        float[] dInit = new float[s.stateSize()];
        // per batch element: dA, dD, dBias, and the shared dB / dC ([D, N]); summed over b at the end
        float[][] dA = new float[s.batch()][dim * n];
        float[][] dD = new float[s.batch()][sv.d() == null ? 0 : dim];
        float[][] dBias = new float[s.batch()][sv.bias() == null ? 0 : dim];
        float[][] dBs = new float[s.batch()][s.bMode().shared() ? dim * n : 0];
        float[][] dCs = new float[s.batch()][s.cMode().shared() ? dim * n : 0];
        List<Task> tasks = tasks(s);
        int chunk = sv.chunk();
        tasks.parallelStream().forEach(task -> {
            int b = task.b();
            float[] states = new float[(chunk + 1) * n];
            float[] decays = new float[chunk * n];
            float[] dts = new float[chunk];
            float[] dh = new float[n];
            float[] h = new float[n];
            for (int d = task.d0(); d < task.d1(); d++) {
                int ch = b * dim + d;
                java.util.Arrays.fill(dh, 0f);
                if (gl != null) {
                    System.arraycopy(gl, ch * n, dh, 0, n);
                }
                float[] dBt = s.bMode().shared() ? dBs[b] : task.dB();
                float[] dCt = s.cMode().shared() ? dCs[b] : task.dC();
                for (int c = (len + chunk - 1) / chunk - 1; c >= 0; c--) {
                    int t0 = c * chunk;
                    int t1 = Math.min(len, t0 + chunk);
                    System.arraycopy(sv.ckpt(), (ch * sv.chunks() + c) * n, states, 0, n);
                    System.arraycopy(states, 0, h, 0, n);
                    for (int t = t0; t < t1; t++) {
                        int j = t - t0;
                        int i = ch * len + t;
                        float dt = dt(sv, d, i);
                        dts[j] = dt;
                        update(n, h, sv.a(), d * n, dt, dt * sv.u()[i], sv.bt(), off(s, s.bMode(), b, d, t), decays,
                                j * n);
                        System.arraycopy(h, 0, states, (j + 1) * n, n);
                    }
                    for (int t = t1 - 1; t >= t0; t--) {
                        int j = t - t0;
                        int i = ch * len + t;
                        float ut = sv.u()[i];
                        float dt = dts[j];
                        int bo = off(s, s.bMode(), b, d, t);
                        int co = off(s, s.cMode(), b, d, t);
                        int bp = s.bMode().shared() ? bo : bo - (b * s.bMode().groups() + task.gb0()) * len * n;
                        int cp = s.cMode().shared() ? co : co - (b * s.cMode().groups() + task.gc0()) * len * n;
                        float g = go == null ? 0f : go[i];
                        float gy = g;
                        if (sv.z() != null) {
                            float zt = sv.z()[i];
                            float sg = sigmoid(zt);
                            float y = ops.dot(n, sv.ct(), co, states, (j + 1) * n);
                            if (sv.d() != null) {
                                y += sv.d()[d] * ut;
                            }
                            dz[i] = g * y * sg * (1 + zt * (1 - sg));
                            gy = g * zt * sg;
                        }
                        if (sv.d() != null) {
                            dD[b][d] += gy * ut;
                            du[i] += gy * sv.d()[d];
                        }
                        // out_t reads h_t through C_t
                        ops.axpy(n, gy, states, (j + 1) * n, dCt, cp);
                        ops.axpy(n, gy, sv.ct(), co, dh, 0);
                        // h_t = e ⊙ h_{t−1} + Δ u B_t: the input term's gradients first (they use dh_t) …
                        float dBu = ops.dot(n, dh, 0, sv.bt(), bo);
                        ops.axpy(n, dt * ut, dh, 0, dBt, bp);
                        // … then the decay's, and dh_{t−1} = e ⊙ dh_t
                        float dDt = 0f;
                        int ao = d * n;
                        int hp = j * n;
                        for (int k = 0; k < n; k++) {
                            float e = decays[j * n + k];
                            float q = dh[k] * e * states[hp + k];
                            dDt += sv.a()[ao + k] * q;
                            dA[b][ao + k] += dt * q;
                            dh[k] *= e;
                        }
                        dDt += ut * dBu;
                        du[i] += dt * dBu;
                        float raw = sv.delta()[i] + (sv.bias() == null ? 0f : sv.bias()[d]);
                        float dRaw = sv.softplus() ? dDt * sigmoid(raw) : dDt;
                        dDelta[i] = dRaw;
                        if (sv.bias() != null) {
                            dBias[b][d] += dRaw;
                        }
                    }
                }
                System.arraycopy(dh, 0, dInit, ch * n, n);
            }
        });
        SelectiveScanInputs in = fwd.inputs();
        DataType t = in.u().dataType();
        float[] dBout = s.bMode().shared() ? sumOver(dBs) : gather(s, s.bMode(), tasks, true);
        float[] dCout = s.cMode().shared() ? sumOver(dCs) : gather(s, s.cMode(), tasks, false);
        return new SelectiveScanGrads(NdBuffers.of(t, du, in.u().shape()), NdBuffers.of(t, dDelta, in.delta().shape()),
                NdBuffers.of(t, sumOver(dA), in.a().shape()), NdBuffers.of(t, dBout, in.b().shape()),
                NdBuffers.of(t, dCout, in.c().shape()),
                sv.d() == null ? null : NdBuffers.of(t, sumOver(dD), in.d().shape()),
                dz == null ? null : NdBuffers.of(t, dz, in.z().shape()),
                sv.bias() == null ? null : NdBuffers.of(t, sumOver(dBias), in.deltaBias().shape()),
                NdBuffers.of(t, dInit, s.batch(), dim, n));
    }

    /** Channel ranges per batch element: about four tasks per core overall. */
    private static List<Task> tasks(ScanDims s) {
        int workers = ForkJoinPool.getCommonPoolParallelism() + 1;
        int perBatch = Math.max(1, Math.min(s.dim(), (4 * workers + s.batch() - 1) / s.batch()));
        int width = (s.dim() + perBatch - 1) / perBatch;
        List<Task> tasks = new ArrayList<>();
        int ln = s.len() * s.dstate();
        for (int b = 0; b < s.batch(); b++) {
            for (int d0 = 0; d0 < s.dim(); d0 += width) {
                int d1 = Math.min(s.dim(), d0 + width);
                int gb0 = 0;
                float[] pb = null;
                if (!s.bMode().shared()) {
                    gb0 = s.group(s.bMode(), d0);
                    pb = new float[(s.group(s.bMode(), d1 - 1) - gb0 + 1) * ln];
                }
                int gc0 = 0;
                float[] pc = null;
                if (!s.cMode().shared()) {
                    gc0 = s.group(s.cMode(), d0);
                    pc = new float[(s.group(s.cMode(), d1 - 1) - gc0 + 1) * ln];
                }
                tasks.add(new Task(b, d0, d1, gb0, pb, gc0, pc));
            }
        }
        return tasks;
    }

    private static float[] sumOver(float[][] parts) {
        float[] r = new float[parts[0].length];
        for (float[] p : parts) {
            for (int i = 0; i < r.length; i++) {
                r[i] += p[i];
            }
        }
        return r;
    }

    /** Sums the tasks' partial [groups, L, N] buffers into the operand's own layout [B, G, N, L]. */
    private static float[] gather(ScanDims s, ScanDims.Operand o, List<Task> tasks, boolean isB) {
        int n = s.dstate();
        int len = s.len();
        float[] r = new float[s.batch() * o.groups() * n * len];
        if (len == 0) {
            return r;
        }
        for (Task task : tasks) {
            float[] p = isB ? task.dB() : task.dC();
            int g0 = isB ? task.gb0() : task.gc0();
            int groups = p.length / (len * n);
            for (int gi = 0; gi < groups; gi++) {
                int base = (task.b() * o.groups() + g0 + gi) * n * len;
                int pbase = gi * len * n;
                for (int t = 0; t < len; t++) {
                    for (int k = 0; k < n; k++) {
                        r[base + k * len + t] += p[pbase + t * n + k];
                    }
                }
            }
        }
        return r;
    }
}
