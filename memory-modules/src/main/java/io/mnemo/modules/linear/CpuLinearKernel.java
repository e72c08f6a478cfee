package io.mnemo.modules.linear;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.kernel.VecOps;
import io.mnemo.core.kernel.VectorSupport;
import io.mnemo.core.memory.SeqDims;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The {@code cpu} backend: a fused per-token recurrence in float, one task per (batch, head), with the
 * state {@code S[Dk, Dv]} in a small array that stays in L1 and its rows processed with the Vector API
 * ({@link VecOps}). Follows the naive recurrences of flash-linear-attention ({@code naive_recurrent_*}):
 * decay before the write, read after it.
 *
 * <p>Per token two passes over the rows of S: (1) decay each row and, for the delta rules, accumulate
 * {@code pred = S̃ᵀk}; (2) write {@code S[i,:] += k_i v'} and read {@code o += (scale q_i) S[i,:]}.
 *
 * <p>Backward: the forward keeps the state at the start of every chunk of {@code chunkSize} tokens;
 * backward walks the chunks in reverse, recomputes the chunk's states from its checkpoint, and runs the
 * hand-derived reverse recurrence (docs/ops/linear.md):
 * <pre>
 *   dS += scale q ⊗ dO;   dq = scale S_t dO;   dk = dS v';   dv' = dSᵀ k
 *   delta:  dv = β dv';  dβ = ⟨dv', v − pred⟩;  du = −β dv';  dS += k ⊗ du;  dk += S̃ du
 *   else:   dv = dv'
 *   d log a_i = a_i ⟨dS[i,:], S_{t−1}[i,:]⟩;   dS[i,:] ← a_i dS[i,:]
 * </pre>
 *
 * <p>Arithmetic is in float whatever the input type: DOUBLE inputs give DOUBLE outputs with float
 * precision (use the {@code reference} backend for double-precision results).
 *
 * <p>For {@code linear_attn} and {@code simple_gla} over sequences of at least {@link #CHUNKED_MIN_T} tokens,
 * with {@code chunkSize} in [{@link #CHUNKED_MIN_CHUNK}, {@link #CHUNKED_MAX_CHUNK}], {@link #forward} hands the
 * work to {@link CpuChunkedLinearKernel} (the chunked form as small matrix products); under the same conditions
 * {@code delta_rule} and {@code gated_delta_rule} go to {@link CpuChunkedDeltaKernel} (the WY/UT chunked form,
 * forward and backward). {@link #backward} follows whichever kernel ran the forward. Shorter sequences, stepping,
 * and the other ops ({@code gla}) run the recurrence.
 */
public final class CpuLinearKernel implements LinearKernel {
    /**
     * Shortest sequence given to the chunked kernel. Measured at B=1, H=4, Dk=Dv=64, chunk 64, 1 thread
     * (docs/ops/linear.md §3a, on a shared machine): forward+backward was faster with the chunked kernel at every
     * T from 16 to 256 (1.3–5× at T = 16–64), the forward alone from T = 16 on within the noise of a shared machine.
     */
    public static final int CHUNKED_MIN_T = 16;
    /** Smallest chunk size for which the chunked kernel is used (smaller chunks make its products too thin). */
    public static final int CHUNKED_MIN_CHUNK = 16;
    /** Largest chunk size for which the chunked kernel is used (its intra-chunk work grows as chunk²). */
    public static final int CHUNKED_MAX_CHUNK = 256;

    private final VecOps ops = VectorSupport.ops();
    private final CpuChunkedLinearKernel chunked;
    private final CpuChunkedDeltaKernel chunkedDelta;

    /** The cpu backend: the chunked kernel where it pays, else the recurrence. */
    public CpuLinearKernel() {
        this(true);
    }

    private CpuLinearKernel(boolean useChunked) {
        this.chunked = useChunked ? new CpuChunkedLinearKernel() : null;
        this.chunkedDelta = useChunked ? new CpuChunkedDeltaKernel() : null;
    }

    /** The recurrence for every op and length (tests and benchmarks compare it with the chunked kernel). */
    public static CpuLinearKernel recurrentOnly() {
        return new CpuLinearKernel(false);
    }

    /** True when {@link #forward} would run {@code cfg} over {@code t} tokens with the chunked kernel. */
    public boolean usesChunked(LinearOpConfig cfg, int t) {
        return chunked != null && CpuChunkedLinearKernel.supports(cfg.op()) && t >= CHUNKED_MIN_T
                && cfg.chunkSize() >= CHUNKED_MIN_CHUNK && cfg.chunkSize() <= CHUNKED_MAX_CHUNK;
    }

    /**
     * True when {@link #forward} would run the delta rules over {@code t} tokens with the chunked delta kernel
     * ({@link CpuChunkedDeltaKernel}).
     */
    public boolean usesChunkedDelta(LinearOpConfig cfg, int t) {
        return chunkedDelta != null && CpuChunkedDeltaKernel.supports(cfg.op()) && t >= CHUNKED_MIN_T
                && cfg.chunkSize() >= CHUNKED_MIN_CHUNK && cfg.chunkSize() <= CHUNKED_MAX_CHUNK;
    }

    /** Flat float copies of the inputs plus the chunk checkpoints. */
    record Saved(float[] q, float[] k, float[] v, float[] gate, float[] beta, float[] init, float[] ckpt, int chunk,
            int chunks, float scale) {}

    @Override
    public LinearForward forward(LinearOpConfig cfg, SeqDims d, LinearInputs in, boolean save) {
        if (usesChunked(cfg, d.t())) {
            return chunked.forward(cfg, d, in, save);
        }
        if (usesChunkedDelta(cfg, d.t())) {
            return chunkedDelta.forward(cfg, d, in, save);
        }
        LinearOp op = cfg.op();
        float[] q = NdBuffers.toFloats(in.q());
        float[] k = NdBuffers.toFloats(in.k());
        float[] v = NdBuffers.toFloats(in.v());
        float[] gate = op.scalarGate() ? NdBuffers.toFloats(in.g()) : op.vectorGate() ? NdBuffers.toFloats(in.gk()) : null;
        float[] beta = op.delta() ? NdBuffers.toFloats(in.beta()) : null;
        float[] init = in.initialState() == null ? null : NdBuffers.toFloats(in.initialState());
        int chunk = cfg.chunkSize();
        int chunks = Math.max(1, (d.t() + chunk - 1) / chunk);
        int ss = d.stateSize();
        float[] ckpt = save ? new float[d.b() * d.h() * chunks * ss] : null;
        float[] o = new float[d.b() * d.t() * d.h() * d.dv()];
        float[] fin = new float[d.b() * d.h() * ss];
        float scale = (float) cfg.scaleFor(d.dk());
        Saved s = new Saved(q, k, v, gate, beta, init, ckpt, chunk, chunks, scale);
        IntStream.range(0, d.b() * d.h()).parallel().forEach(bh -> {
            float[] st = new float[ss];
            if (init != null) {
                System.arraycopy(init, bh * ss, st, 0, ss);
            }
            float[] pred = new float[d.dv()];
            float[] vp = new float[d.dv()];
            int b = bh / d.h();
            int h = bh % d.h();
            for (int t = 0; t < d.t(); t++) {
                if (save && t % chunk == 0) {
                    System.arraycopy(st, 0, ckpt, (bh * chunks + t / chunk) * ss, ss);
                }
                stepToken(op, d, s, b, h, t, st, pred, vp, o);
            }
            System.arraycopy(st, 0, fin, bh * ss, ss);
        });
        DataType dt = in.q().dataType();
        return new LinearForward(NdBuffers.of(dt, o, d.b(), d.t(), d.h(), d.dv()),
                NdBuffers.of(dt, fin, d.b(), d.h(), d.dk(), d.dv()), cfg, d, in, save ? s : null);
    }

    /** One token of sequence (b, h) from the saved inputs; see {@link #token}. */
    private void stepToken(LinearOp op, SeqDims d, Saved s, int b, int h, int t, float[] st, float[] pred,
            float[] vp, float[] o) {
        int tok = d.tok(b, t, h);
        token(op, d.dk(), d.dv(), st, 0, s.q(), s.k(), tok * d.dk(), s.v(), tok * d.dv(),
                s.gate(), op.vectorGate() ? tok * d.dk() : tok, op.delta() ? s.beta()[tok] : 1f, s.scale(),
                pred, vp, o, tok * d.dv());
    }

    /**
     * One token of the recurrence for one head, in place on the state {@code st[so .. so + dk·dv)}.
     *
     * @param q query and key arrays, both read at {@code qo} ({@code dk} elements)
     * @param v value array, read at {@code vo} ({@code dv} elements)
     * @param gate log decays: the scalar at {@code go} (simple_gla, gated_delta_rule) or {@code dk}
     *     values from {@code go} (gla); ignored by the other ops
     * @param beta the step size (delta rules)
     * @param pred scratch [dv]; holds {@code S̃ᵀk} afterwards (delta rules)
     * @param vp scratch [dv]; holds the value written ({@code v} or {@code β(v − pred)}) afterwards
     * @param o output array written at {@code oo} ({@code dv} elements), or null to skip the read
     */
    void token(LinearOp op, int dk, int dv, float[] st, int so, float[] q, float[] k, int qo, float[] v, int vo,
            float[] gate, int go, float beta, float scale, float[] pred, float[] vp, float[] o, int oo) {
        boolean delta = op.delta();
        // pass 1: decay each row (before the write) and, for the delta rules, pred = S̃ᵀk, fused per row
        if (delta) {
            Arrays.fill(pred, 0f);
            float aS = op.scalarGate() ? (float) Math.exp(gate[go]) : 1f;
            for (int i = 0; i < dk; i++) {
                int row = so + i * dv;
                float a = op.vectorGate() ? (float) Math.exp(gate[go + i]) : aS;
                if (a != 1f) {
                    ops.scaleAxpy(dv, a, st, row, k[qo + i], pred, 0);
                } else {
                    ops.axpy(dv, k[qo + i], st, row, pred, 0);
                }
            }
            for (int j = 0; j < dv; j++) {
                vp[j] = beta * (v[vo + j] - pred[j]);
            }
        } else {
            if (op.scalarGate()) {
                ops.scale(dk * dv, (float) Math.exp(gate[go]), st, so);
            } else if (op.vectorGate()) {
                for (int i = 0; i < dk; i++) {
                    ops.scale(dv, (float) Math.exp(gate[go + i]), st, so + i * dv);
                }
            }
            System.arraycopy(v, vo, vp, 0, dv);
        }
        // pass 2: write S[i,:] += k_i v' and read o += (scale q_i) S[i,:], fused per row
        if (o != null) {
            Arrays.fill(o, oo, oo + dv, 0f);
            for (int i = 0; i < dk; i++) {
                ops.axpyAxpy(dv, k[qo + i], vp, 0, st, so + i * dv, scale * q[qo + i], o, oo);
            }
        } else {
            for (int i = 0; i < dk; i++) {
                ops.axpy(dv, k[qo + i], vp, 0, st, so + i * dv);
            }
        }
    }

    @Override
    public LinearGrads backward(LinearForward fwd, INDArray dO, INDArray dFinalState) {
        if (fwd.saved() instanceof CpuChunkedLinearKernel.Saved) {
            return new CpuChunkedLinearKernel().backward(fwd, dO, dFinalState);
        }
        if (fwd.saved() instanceof CpuChunkedDeltaKernel.Saved) {
            return new CpuChunkedDeltaKernel().backward(fwd, dO, dFinalState);
        }
        if (!(fwd.saved() instanceof Saved s)) {
            throw new IllegalArgumentException("backward needs a forward run by the cpu backend with save=true");
        }
        SeqDims d = fwd.dims();
        LinearOp op = fwd.config().op();
        float[] dOut = dO == null ? null : NdBuffers.toFloats(dO);
        float[] dFin = dFinalState == null ? null : NdBuffers.toFloats(dFinalState);
        int dk = d.dk();
        int dv = d.dv();
        int ss = d.stateSize();
        float[] dq = new float[s.q().length];
        float[] dkk = new float[s.k().length];
        float[] dvv = new float[s.v().length];
        float[] dGate = s.gate() == null ? null : new float[s.gate().length];
        float[] dBeta = s.beta() == null ? null : new float[s.beta().length];
        float[] dInit = new float[d.b() * d.h() * ss];
        int chunk = s.chunk();
        IntStream.range(0, d.b() * d.h()).parallel().forEach(bh -> {
            int b = bh / d.h();
            int h = bh % d.h();
            float[] dS = new float[ss];
            if (dFin != null) {
                System.arraycopy(dFin, bh * ss, dS, 0, ss);
            }
            // states[j] = S after token t0+j-1 (states[0] = chunk checkpoint)
            float[] states = new float[(chunk + 1) * ss];
            float[] preds = new float[chunk * dv];
            float[] vps = new float[chunk * dv];
            float[] st = new float[ss];
            float[] pred = new float[dv];
            float[] vp = new float[dv];
            float[] dvp = new float[dv];
            float[] du = new float[dv];
            for (int c = (d.t() + chunk - 1) / chunk - 1; c >= 0; c--) {
                int t0 = c * chunk;
                int t1 = Math.min(d.t(), t0 + chunk);
                System.arraycopy(s.ckpt(), (bh * s.chunks() + c) * ss, st, 0, ss);
                System.arraycopy(st, 0, states, 0, ss);
                for (int t = t0; t < t1; t++) {
                    int j = t - t0;
                    stepToken(op, d, s, b, h, t, st, pred, vp, null);
                    System.arraycopy(st, 0, states, (j + 1) * ss, ss);
                    System.arraycopy(pred, 0, preds, j * dv, dv);
                    System.arraycopy(vp, 0, vps, j * dv, dv);
                }
                for (int t = t1 - 1; t >= t0; t--) {
                    int j = t - t0;
                    int tok = d.tok(b, t, h);
                    int qo = tok * dk;
                    int vo = tok * dv;
                    int prev = j * ss;
                    int now = (j + 1) * ss;
                    // pass A: read and write terms
                    Arrays.fill(dvp, 0f);
                    for (int i = 0; i < dk; i++) {
                        int row = i * dv;
                        if (dOut != null) {
                            float sq = s.scale() * s.q()[qo + i];
                            ops.axpy(dv, sq, dOut, vo, dS, row);
                            dq[qo + i] += s.scale() * ops.dot(dv, states, now + row, dOut, vo);
                        }
                        dkk[qo + i] += ops.dot(dv, dS, row, vps, j * dv);
                        ops.axpy(dv, s.k()[qo + i], dS, row, dvp, 0);
                    }
                    if (op.delta()) {
                        float bt = s.beta()[tok];
                        float db = 0f;
                        for (int jj = 0; jj < dv; jj++) {
                            dvv[vo + jj] += bt * dvp[jj];
                            db += dvp[jj] * (s.v()[vo + jj] - preds[j * dv + jj]);
                            du[jj] = -bt * dvp[jj];
                        }
                        dBeta[tok] += db;
                    } else {
                        for (int jj = 0; jj < dv; jj++) {
                            dvv[vo + jj] += dvp[jj];
                        }
                    }
                    // pass B: prediction (delta) and decay terms
                    if (!op.delta() && !op.scalarGate() && !op.vectorGate()) {
                        continue;
                    }
                    float aScalar = op.scalarGate() ? (float) Math.exp(s.gate()[tok]) : 1f;
                    float dgScalar = 0f;
                    for (int i = 0; i < dk; i++) {
                        int row = i * dv;
                        float a = op.vectorGate() ? (float) Math.exp(s.gate()[qo + i]) : aScalar;
                        if (op.delta()) {
                            ops.axpy(dv, s.k()[qo + i], du, 0, dS, row);
                            dkk[qo + i] += a * ops.dot(dv, states, prev + row, du, 0);
                        }
                        if (op.scalarGate() || op.vectorGate()) {
                            float dl = a * ops.dot(dv, dS, row, states, prev + row);
                            if (op.vectorGate()) {
                                dGate[qo + i] += dl;
                            } else {
                                dgScalar += dl;
                            }
                            ops.scale(dv, a, dS, row);
                        }
                    }
                    if (op.scalarGate()) {
                        dGate[tok] += dgScalar;
                    }
                }
            }
            System.arraycopy(dS, 0, dInit, bh * ss, ss);
        });
        DataType dt = fwd.inputs().q().dataType();
        return new LinearGrads(
                NdBuffers.of(dt, dq, d.b(), d.t(), d.h(), dk),
                NdBuffers.of(dt, dkk, d.b(), d.t(), d.h(), dk),
                NdBuffers.of(dt, dvv, d.b(), d.t(), d.h(), dv),
                op.scalarGate() ? NdBuffers.of(dt, dGate, d.b(), d.t(), d.h()) : null,
                op.vectorGate() ? NdBuffers.of(dt, dGate, d.b(), d.t(), d.h(), dk) : null,
                op.delta() ? NdBuffers.of(dt, dBeta, d.b(), d.t(), d.h()) : null,
                NdBuffers.of(dt, dInit, d.b(), d.h(), dk, dv));
    }
}
