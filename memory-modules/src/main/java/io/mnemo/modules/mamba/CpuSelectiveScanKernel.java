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
 * the state {@code h[N]} in a small array; the fused write-and-read and the decay's backward run through
 * {@link ScanLoops} (Vector API with a vector {@code exp}, or plain Java), the other dot products and
 * axpys over N through {@link VecOps}.
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
    /** Smallest B·D·L·N for which forward runs its channels in parallel. */
    static final long PARALLEL_MIN_WORK = 1 << 16;

    private final VecOps ops = VectorSupport.ops();
    private final ScanLoops loops = ScanLoops.get();

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
        IntStream channels = IntStream.range(0, s.batch() * s.dim());
        // a fork/join round costs tens of µs: not worth it for a step or a short sequence
        if ((long) s.batch() * s.dim() * len * n >= PARALLEL_MIN_WORK) {
            channels = channels.parallel();
        }
        channels.forEach(ch -> {
            int b = ch / s.dim();
            int d = ch % s.dim();
            float[] h = new float[n];
            if (init != null) {
                System.arraycopy(init, ch * n, h, 0, n);
            }
            // Δ and σ(z) of the whole channel first: their exponentials vectorise over time
            float[] dtRow = new float[len];
            loops.deltaRow(len, sv.delta(), ch * len, bias(sv, d), sv.softplus(), dtRow, null);
            float[] sz = null;
            if (sv.z() != null) {
                sz = new float[len];
                loops.sigmoidRow(len, sv.z(), ch * len, sz);
            }
            float dSkip = sv.d() == null ? 0f : sv.d()[d];
            // B_t and C_t offsets: base + t · stride (stride 0 when shared)
            int bo0 = off(s, s.bMode(), b, d, 0);
            int bst = s.bMode().shared() ? 0 : n;
            int co0 = off(s, s.cMode(), b, d, 0);
            int cst = s.cMode().shared() ? 0 : n;
            int nextCkpt = 0;
            for (int t = 0; t < len; t++) {
                if (save && t == nextCkpt) {
                    System.arraycopy(h, 0, sv.ckpt(), (ch * chunks + t / chunk) * n, n);
                    nextCkpt += chunk;
                }
                int i = ch * len + t;
                float dt = dtRow[t];
                float ut = sv.u()[i];
                float y = loops.updateRead(n, h, 0, sv.a(), d * n, dt, dt * ut, sv.bt(), bo0 + t * bst, sv.ct(),
                        co0 + t * cst, null, 0);
                y += dSkip * ut;
                out[i] = sz == null ? y : y * sv.z()[i] * sz[t];
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

    private static float bias(Saved sv, int d) {
        return sv.bias() == null ? 0f : sv.bias()[d];
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
            float[] dtRow = new float[len];
            float[] spRow = sv.softplus() ? new float[len] : null;
            float[] sz = sv.z() == null ? null : new float[len];
            float[] dh = new float[n];
            float[] h = new float[n];
            float[] two = new float[2];
            for (int d = task.d0(); d < task.d1(); d++) {
                int ch = b * dim + d;
                java.util.Arrays.fill(dh, 0f);
                if (gl != null) {
                    System.arraycopy(gl, ch * n, dh, 0, n);
                }
                loops.deltaRow(len, sv.delta(), ch * len, bias(sv, d), sv.softplus(), dtRow, spRow);
                if (sz != null) {
                    loops.sigmoidRow(len, sv.z(), ch * len, sz);
                }
                int bo0 = off(s, s.bMode(), b, d, 0);
                int bst = s.bMode().shared() ? 0 : n;
                int co0 = off(s, s.cMode(), b, d, 0);
                int cst = s.cMode().shared() ? 0 : n;
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
                        float dt = dtRow[t];
                        loops.updateRead(n, h, 0, sv.a(), d * n, dt, dt * sv.u()[i], sv.bt(), bo0 + t * bst, null, 0,
                                decays, j * n);
                        System.arraycopy(h, 0, states, (j + 1) * n, n);
                    }
                    for (int t = t1 - 1; t >= t0; t--) {
                        int j = t - t0;
                        int i = ch * len + t;
                        float ut = sv.u()[i];
                        float dt = dtRow[t];
                        int bo = bo0 + t * bst;
                        int co = co0 + t * cst;
                        int bp = s.bMode().shared() ? bo : bo - (b * s.bMode().groups() + task.gb0()) * len * n;
                        int cp = s.cMode().shared() ? co : co - (b * s.cMode().groups() + task.gc0()) * len * n;
                        float g = go == null ? 0f : go[i];
                        float gy = g;
                        if (sv.z() != null) {
                            float zt = sv.z()[i];
                            float sg = sz[t];
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
                        // read through C_t, write Δ u B_t, decay: one fused pass over N
                        loops.reverseStep(n, dh, gy, sv.ct(), co, states, (j + 1) * n, dCt, cp, sv.bt(), bo, dt * ut,
                                dBt, bp, decays, j * n, states, j * n, sv.a(), d * n, dt, dA[b], d * n, two);
                        float dBu = two[0];
                        float dDt = two[1];
                        dDt += ut * dBu;
                        du[i] += dt * dBu;
                        float dRaw = spRow != null ? dDt * spRow[t] : dDt;
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
