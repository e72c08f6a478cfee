package io.mnemo.modules.linear;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.Shapes;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * O(1)-per-token generation with a linear-family op on the {@code cpu} path: the state of every
 * (batch, head) lives in one float array owned by the stepper and is updated in place, so a step
 * costs {@code O(B·H·Dk·Dv)} and no allocation beyond the optional output array.
 *
 * <p>Equals {@link LinearOps#forward} token by token (tested). Not thread-safe.
 *
 * <pre>{@code
 * LinearStepper s = new LinearStepper(LinearOpConfig.of(LinearOp.GATED_DELTA_RULE), 4, 4, 64, 64, null);
 * INDArray o = Nd4j.create(DataType.FLOAT, 4, 4, 64);
 * s.step(q, k, v, g, null, beta, o);   // q, k [B, H, Dk]; v [B, H, Dv]; g, beta [B, H]; o [B, H, Dv]
 * }</pre>
 */
public final class LinearStepper {
    private final CpuLinearKernel kernel = new CpuLinearKernel();
    private final LinearOp op;
    private final int b;
    private final int h;
    private final int dk;
    private final int dv;
    private final float scale;
    private final float[] state;
    private final float[] q;
    private final float[] k;
    private final float[] v;
    private final float[] gate;
    private final float[] beta;
    private final float[] o;
    private final float[][] pred;
    private final float[][] vp;

    /**
     * @param cfg the op and its scale (backend and chunk size are not used)
     * @param initialState {@code [B, H, Dk, Dv]} or null for zeros
     */
    public LinearStepper(LinearOpConfig cfg, int batch, int heads, int dk, int dv, INDArray initialState) {
        this.op = Objects.requireNonNull(cfg, "cfg").op();
        this.b = Shapes.requirePositive("batch", batch);
        this.h = Shapes.requirePositive("heads", heads);
        this.dk = Shapes.requirePositive("dk", dk);
        this.dv = Shapes.requirePositive("dv", dv);
        this.scale = (float) cfg.scaleFor(dk);
        this.state = new float[b * h * dk * dv];
        if (initialState != null) {
            Shapes.require("initial_state", initialState, "[B, H, Dk, Dv]", b, h, dk, dv);
            NdBuffers.copyFrom(initialState, state);
        }
        this.q = new float[b * h * dk];
        this.k = new float[b * h * dk];
        this.v = new float[b * h * dv];
        this.gate = op.vectorGate() ? new float[b * h * dk] : op.scalarGate() ? new float[b * h] : null;
        this.beta = op.delta() ? new float[b * h] : null;
        this.o = new float[b * h * dv];
        // scratch per (batch, head)
        this.pred = new float[b * h][dv];
        this.vp = new float[b * h][dv];
    }

    /**
     * Feeds one token to every sequence of the batch.
     *
     * @param qIn {@code [B, H, Dk]}
     * @param kIn {@code [B, H, Dk]}
     * @param vIn {@code [B, H, Dv]}
     * @param g {@code [B, H]} for simple_gla / gated_delta_rule, else null
     * @param gk {@code [B, H, Dk]} for gla, else null
     * @param betaIn {@code [B, H]} for the delta rules, else null
     * @param out {@code [B, H, Dv]} contiguous FLOAT array receiving the outputs, or null to allocate one
     * @return the outputs {@code [B, H, Dv]}
     */
    public INDArray step(INDArray qIn, INDArray kIn, INDArray vIn, INDArray g, INDArray gk, INDArray betaIn,
            INDArray out) {
        Shapes.require("q", qIn, "[B, H, Dk]", b, h, dk);
        Shapes.require("k", kIn, "[B, H, Dk]", b, h, dk);
        Shapes.require("v", vIn, "[B, H, Dv]", b, h, dv);
        NdBuffers.copyFrom(qIn, q);
        NdBuffers.copyFrom(kIn, k);
        NdBuffers.copyFrom(vIn, v);
        if (op.scalarGate()) {
            NdBuffers.copyFrom(Shapes.require("g", g, "[B, H]", b, h), gate);
        } else if (g != null) {
            throw new IllegalArgumentException(op.opName() + " takes no g, but one was given");
        }
        if (op.vectorGate()) {
            NdBuffers.copyFrom(Shapes.require("gk", gk, "[B, H, Dk]", b, h, dk), gate);
        } else if (gk != null) {
            throw new IllegalArgumentException(op.opName() + " takes no gk, but one was given");
        }
        if (op.delta()) {
            NdBuffers.copyFrom(Shapes.require("beta", betaIn, "[B, H]", b, h), beta);
        } else if (betaIn != null) {
            throw new IllegalArgumentException(op.opName() + " takes no beta, but one was given");
        }
        stepArrays();
        INDArray dst = out != null ? Shapes.require("out", out, "[B, H, Dv]", b, h, dv)
                : org.nd4j.linalg.factory.Nd4j.create(DataType.FLOAT, b, h, dv);
        NdBuffers.copyInto(o, dst);
        return dst;
    }

    /**
     * The kernel step on the stepper's own buffers ({@link #inputs()} filled by the caller, outputs in
     * {@link #outputs()}): what {@link #step} costs without the INDArray copies. For benchmarks.
     */
    public void stepArrays() {
        // sequential on purpose: a 2-thread fork/join costs more than the 16 heads' work at D=64 (measured)
        for (int bh = 0; bh < b * h; bh++) {
            int go = op.vectorGate() ? bh * dk : bh;
            kernel.token(op, dk, dv, state, bh * dk * dv, q, k, bh * dk, v, bh * dv, gate, go,
                    op.delta() ? beta[bh] : 1f, scale, pred[bh], vp[bh], o, bh * dv);
        }
    }

    /** The input buffers {q, k, v, gate (or null), beta (or null)} in the layouts of {@link #step}. */
    public float[][] inputs() {
        return new float[][] {q, k, v, gate, beta};
    }

    /** The output buffer {@code [B, H, Dv]} of the last step. */
    public float[] outputs() {
        return o;
    }

    /** A copy of the current state {@code [B, H, Dk, Dv]} as a FLOAT array. */
    public INDArray state() {
        return NdBuffers.ofFloats(state.clone(), b, h, dk, dv);
    }
}
