package io.mnemo.bench;

import io.mnemo.modules.linear.CpuLinearKernel;
import io.mnemo.modules.linear.LinearOp;
import io.mnemo.modules.linear.LinearOpConfig;

/**
 * FLOP counts of the recurrent algorithm per token per head, used to put the measured times next to
 * the sgemm roofline. Terms of order Dk or Dv (gates, normalisation, scaling q) are left out.
 *
 * <ul>
 *   <li>write {@code S += k vᵀ}: 2·Dk·Dv (a multiply and an add per state entry);
 *   <li>read {@code o = Sᵀ q}: 2·Dk·Dv;
 *   <li>decay {@code S = exp(g) S} (simple_gla, gla, gated_delta_rule): Dk·Dv;
 *   <li>delta prediction {@code Sᵀ k} (delta_rule, gated_delta_rule): 2·Dk·Dv.
 * </ul>
 * Forward+backward counts 3× the forward (the usual rule: the backward pass costs two forwards);
 * work a kernel spends recomputing states from checkpoints is not counted as useful FLOPs.
 */
public final class FlopModel {
    private FlopModel() {}

    /** Forward FLOPs per token per head in units of Dk·Dv: 4, plus 1 for a decay, plus 2 for the delta rule. */
    public static int forwardUnits(LinearOp op) {
        int u = 4;
        if (op.scalarGate() || op.vectorGate()) {
            u += 1;
        }
        if (op.delta()) {
            u += 2;
        }
        return u;
    }

    /** Forward FLOPs per token per head. */
    public static double forward(LinearOp op, int dk, int dv) {
        return (double) forwardUnits(op) * dk * dv;
    }

    /** Forward+backward FLOPs per token per head: three forwards. */
    public static double forwardBackward(LinearOp op, int dk, int dv) {
        return 3 * forward(op, dk, dv);
    }

    /**
     * Forward FLOPs per token per head of the chunked form with chunk size {@code c} (the nd4j backend and
     * the PyTorch peer): the full C×C products are counted (their masked half is computed too).
     * <ul>
     *   <li>linear_attn, simple_gla, gla: {@code Q Kᵀ} 2·C·Dk, {@code (·) V} 2·C·Dv, chunk state {@code Kᵀ V}
     *       2·Dk·Dv, inter-chunk read {@code Q S} 2·Dk·Dv;
     *   <li>delta rules, in addition: {@code diag(β) K Kᵀ} 2·C·Dk, the unit-triangular inverse C²/3,
     *       {@code W = T K} 2·C·Dk, {@code U = T V} 2·C·Dv, {@code W S} 2·Dk·Dv.
     * </ul>
     * Decays and masks (order C or Dk per token) are left out, as in {@link #forward}.
     */
    public static double chunkedForward(LinearOp op, int dk, int dv, int c) {
        double f = 2.0 * c * (dk + dv) + 4.0 * dk * dv;
        if (op.delta()) {
            f += 4.0 * c * dk + 2.0 * c * dv + c * c / 3.0 + 2.0 * dk * dv;
        }
        return f;
    }

    /** Forward+backward FLOPs per token per head of the chunked form: three chunked forwards. */
    public static double chunkedForwardBackward(LinearOp op, int dk, int dv, int c) {
        return 3 * chunkedForward(op, dk, dv, c);
    }

    /**
     * Forward FLOPs per token per head of the algorithm the {@code cpu} backend runs for {@code op} over
     * {@code t} tokens with chunk size {@code c}: the chunked form where {@link CpuLinearKernel} hands the op
     * to its chunked kernel (linear_attn and simple_gla from {@link CpuLinearKernel#CHUNKED_MIN_T} tokens),
     * else the recurrence. The chunked kernel computes only the lower-triangular row blocks of the C×C
     * products (about 81 % of this count at C = Dk = Dv = 64), so its % roof by this count is an upper bound.
     */
    public static double cpuForward(LinearOp op, int dk, int dv, int c, int t) {
        boolean chunked = new CpuLinearKernel().usesChunked(LinearOpConfig.of(op).withChunkSize(c), t);
        return chunked ? chunkedForward(op, dk, dv, c) : forward(op, dk, dv);
    }

    /** Forward+backward counterpart of {@link #cpuForward}: three forwards. */
    public static double cpuForwardBackward(LinearOp op, int dk, int dv, int c, int t) {
        return 3 * cpuForward(op, dk, dv, c, t);
    }

    /** The formula in words, e.g. {@code "7·Dk·Dv (write 2 + read 2 + decay 1 + delta prediction 2)"}. */
    public static String describe(LinearOp op) {
        StringBuilder s = new StringBuilder().append(forwardUnits(op)).append("·Dk·Dv (write 2 + read 2");
        if (op.scalarGate() || op.vectorGate()) {
            s.append(" + decay 1");
        }
        if (op.delta()) {
            s.append(" + delta prediction 2");
        }
        return s.append(")").toString();
    }
}
