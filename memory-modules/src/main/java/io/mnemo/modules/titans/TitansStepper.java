package io.mnemo.modules.titans;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.Shapes;
import io.mnemo.core.kernel.VectorSupport;
import java.util.List;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Token-by-token generation with the Titans memory on the {@code cpu} path, in float, with the state of
 * every (batch, head) held by the stepper: the committed memory and momentum, the open chunk's buffered
 * inputs, and — for {@link TitansReadMode#PER_TOKEN} reads — the running memory after the open chunk's
 * writes, so a step costs one inner gradient, one write and one read ({@code O(P)} per head). With
 * {@link TitansReadMode#COMMITTED} reads the chunk's writes run when it fills (amortised {@code O(P)}
 * per token). Runs the per-token recurrence in float ({@link CpuTitansMath}); it equals
 * {@link TitansOps#forward} on the cpu backend (chunked matrix form) token by token within float rounding
 * (tested at 1e-6). Not thread-safe; not
 * differentiable (use {@link TitansOps} for training).
 *
 * <pre>{@code
 * TitansStepper s = new TitansStepper(cfg, B, H, D, initialState);
 * INDArray y = s.step(q, k, v, theta, eta, alpha, null);   // [B, H, D] each, gates [B, H]
 * TitansState carried = s.state();
 * }</pre>
 */
public final class TitansStepper {
    private final TitansOpConfig cfg;
    private final MemoryLayout m;
    private final int b;
    private final int h;
    private final int d;
    private final int p;
    private final int c;
    private final float[] mem;
    private final float[] mom;
    private final float[] memRun;
    private final float[] momRun;
    private final float[] bufK;
    private final float[] bufV;
    private final float[] bufTheta;
    private final float[] bufEta;
    private final float[] bufAlpha;
    private final CpuTitansMath[] math;
    private final float[] q;
    private final float[] y;
    private final float[] gate = new float[3];
    private int n;

    /**
     * @param cfg the op configuration (its backend is not used: the stepper is the cpu path)
     * @param initialState the state to continue from (as returned by {@link TitansOps#forward} or
     *     {@link #state()}), or null for zero memory and momentum and an empty buffer
     */
    public TitansStepper(TitansOpConfig cfg, int batch, int heads, int d, TitansState initialState) {
        this.cfg = Objects.requireNonNull(cfg, "cfg");
        this.b = Shapes.requirePositive("batch", batch);
        this.h = Shapes.requirePositive("heads", heads);
        this.d = Shapes.requirePositive("d", d);
        this.m = cfg.layout(d);
        this.p = m.size();
        this.c = cfg.chunkSize();
        int bh = b * h;
        mem = new float[bh * p];
        mom = new float[bh * p];
        memRun = new float[bh * p];
        momRun = new float[bh * p];
        bufK = new float[bh * c * d];
        bufV = new float[bh * c * d];
        bufTheta = new float[bh * c];
        bufEta = new float[bh * c];
        bufAlpha = new float[bh * c];
        math = new CpuTitansMath[bh];
        for (int i = 0; i < bh; i++) {
            math[i] = new CpuTitansMath(cfg, m, VectorSupport.ops());
        }
        q = new float[bh * d];
        y = new float[bh * d];
        if (initialState != null) {
            DataType type = initialState.memory().get(0).dataType();
            n = initialState.validate("initial_state", cfg, b, h, d, type, cfg.checkInputs());
            copy(TitansSeq.flatten(initialState.memory(), m, bh), mem);
            if (initialState.momentum() != null) {
                copy(TitansSeq.flatten(initialState.momentum(), m, bh), mom);
            }
            if (n > 0) {
                unpackBuffer(initialState.bufK(), bufK, d);
                unpackBuffer(initialState.bufV(), bufV, d);
                unpackBuffer(initialState.bufTheta(), bufTheta, 1);
                unpackBuffer(initialState.bufAlpha(), bufAlpha, 1);
                if (initialState.bufEta() != null) {
                    unpackBuffer(initialState.bufEta(), bufEta, 1);
                }
            }
        }
        System.arraycopy(mem, 0, memRun, 0, mem.length);
        System.arraycopy(mom, 0, momRun, 0, mom.length);
        if (cfg.readMode() == TitansReadMode.PER_TOKEN) {
            // replay the open chunk's writes into the running memory
            for (int i = 0; i < bh; i++) {
                for (int j = 0; j < n; j++) {
                    tokenGate(i, j);
                    math[i].write(mem, i * p, bufK, bufV, (i * c + j) * d, gate, memRun, i * p, momRun, i * p);
                }
            }
        }
    }

    /** Number of tokens in the open chunk. */
    public int buffered() {
        return n;
    }

    /**
     * Feeds one token to every sequence of the batch.
     *
     * @param qIn {@code [B, H, D]}; kIn, vIn {@code [B, H, D]}
     * @param theta {@code [B, H]}; eta {@code [B, H]} (null without momentum); alpha {@code [B, H]}
     * @param out {@code [B, H, D]} contiguous FLOAT array receiving y, or null to allocate one
     * @return y {@code [B, H, D]}
     */
    public INDArray step(INDArray qIn, INDArray kIn, INDArray vIn, INDArray theta, INDArray eta, INDArray alpha,
            INDArray out) {
        Shapes.require("q", qIn, "[B, H, D]", b, h, d);
        Shapes.require("k", kIn, "[B, H, D]", b, h, d);
        Shapes.require("v", vIn, "[B, H, D]", b, h, d);
        Shapes.require("theta", theta, "[B, H]", b, h);
        Shapes.require("alpha", alpha, "[B, H]", b, h);
        if (cfg.momentum()) {
            Shapes.require("eta", eta, "[B, H]", b, h);
        } else if (eta != null) {
            throw new IllegalArgumentException("eta was given but the op runs without momentum (momentum=false)");
        }
        if (cfg.checkInputs()) {
            Shapes.requireFinite("q", qIn);
            Shapes.requireFinite("k", kIn);
            Shapes.requireFinite("v", vIn);
            TitansInputs.checkGateRange("theta", theta, 0, Double.POSITIVE_INFINITY);
            TitansInputs.checkGateRange("eta", eta, 0, 1);
            TitansInputs.checkGateRange("alpha", alpha, 0, 1);
        }
        if (out != null) {
            Shapes.require("out", out, "[B, H, D]", b, h, d);
        }
        int bh = b * h;
        NdBuffers.copyFrom(qIn, q);
        float[] k = NdBuffers.toFloats(kIn);
        float[] v = NdBuffers.toFloats(vIn);
        float[] th = NdBuffers.toFloats(theta);
        float[] al = NdBuffers.toFloats(alpha);
        float[] et = eta == null ? null : NdBuffers.toFloats(eta);
        for (int i = 0; i < bh; i++) {
            System.arraycopy(k, i * d, bufK, (i * c + n) * d, d);
            System.arraycopy(v, i * d, bufV, (i * c + n) * d, d);
            bufTheta[i * c + n] = th[i];
            bufAlpha[i * c + n] = al[i];
            bufEta[i * c + n] = et == null ? 0f : et[i];
            if (cfg.readMode() == TitansReadMode.PER_TOKEN) {
                tokenGate(i, n);
                math[i].write(mem, i * p, bufK, bufV, (i * c + n) * d, gate, memRun, i * p, momRun, i * p);
                math[i].read(memRun, i * p, q, i * d, y, i * d);
            } else {
                math[i].read(mem, i * p, q, i * d, y, i * d);
            }
        }
        n++;
        if (n == c) {
            commit();
        }
        if (out == null) {
            return NdBuffers.ofFloats(y, b, h, d);
        }
        NdBuffers.copyInto(y, out);
        return out;
    }

    /** The full chunk's writes become the committed memory; the buffer empties. */
    private void commit() {
        for (int i = 0; i < b * h; i++) {
            if (cfg.readMode() == TitansReadMode.COMMITTED) {
                // the writes were deferred (chunk-mean gates need the whole chunk)
                for (int j = 0; j < c; j++) {
                    if (cfg.gates() == TitansGateGranularity.CHUNK) {
                        CpuTitansMath.chunkMeans(bufTheta, cfg.momentum() ? bufEta : null, bufAlpha, i * c, 1, c, gate);
                    } else {
                        tokenGate(i, j);
                    }
                    math[i].write(mem, i * p, bufK, bufV, (i * c + j) * d, gate, memRun, i * p, momRun, i * p);
                }
            }
        }
        System.arraycopy(memRun, 0, mem, 0, mem.length);
        System.arraycopy(momRun, 0, mom, 0, mom.length);
        n = 0;
    }

    private void tokenGate(int i, int j) {
        gate[0] = bufTheta[i * c + j];
        gate[1] = bufEta[i * c + j];
        gate[2] = bufAlpha[i * c + j];
    }

    /** The carried state (FLOAT): committed memory and momentum and the open chunk's inputs. */
    public TitansState state() {
        DataType f = DataType.FLOAT;
        List<INDArray> memL = TitansSeq.unflatten(f, doubles(mem), m, b, h);
        List<INDArray> momL = cfg.momentum() ? TitansSeq.unflatten(f, doubles(mom), m, b, h) : null;
        if (n == 0) {
            return new TitansState(memL, momL, null, null, null, null, null);
        }
        return new TitansState(memL, momL, packBuffer(bufK, d), packBuffer(bufV, d), packBuffer(bufTheta, 1),
                cfg.momentum() ? packBuffer(bufEta, 1) : null, packBuffer(bufAlpha, 1));
    }

    /** {@code [B, n, H, (D)]} into the per-(b, h) buffer {@code [B·H, C, (D)]}. */
    private void unpackBuffer(INDArray a, float[] dst, int inner) {
        float[] x = NdBuffers.toFloats(a);
        for (int bi = 0; bi < b; bi++) {
            for (int j = 0; j < n; j++) {
                for (int hi = 0; hi < h; hi++) {
                    System.arraycopy(x, ((bi * n + j) * h + hi) * inner, dst, ((bi * h + hi) * c + j) * inner, inner);
                }
            }
        }
    }

    private INDArray packBuffer(float[] src, int inner) {
        float[] x = new float[b * n * h * inner];
        for (int bi = 0; bi < b; bi++) {
            for (int j = 0; j < n; j++) {
                for (int hi = 0; hi < h; hi++) {
                    System.arraycopy(src, ((bi * h + hi) * c + j) * inner, x, ((bi * n + j) * h + hi) * inner, inner);
                }
            }
        }
        return inner == 1 ? NdBuffers.ofFloats(x, b, n, h) : NdBuffers.ofFloats(x, b, n, h, inner);
    }

    private static void copy(double[] src, float[] dst) {
        for (int i = 0; i < src.length; i++) {
            dst[i] = (float) src[i];
        }
    }

    private static double[] doubles(float[] x) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i];
        }
        return out;
    }

    @Override
    public String toString() {
        return "TitansStepper[B=" + b + ", H=" + h + ", D=" + d + ", buffered=" + n + ", " + cfg + "]";
    }
}
