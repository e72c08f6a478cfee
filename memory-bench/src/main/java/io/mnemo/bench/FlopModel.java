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
     * to a chunked kernel (linear_attn, simple_gla and the delta rules from {@link CpuLinearKernel#CHUNKED_MIN_T}
     * tokens), else the recurrence (gla). The chunked kernel computes only the lower-triangular row blocks of the C×C
     * products (about 81 % of this count at C = Dk = Dv = 64), so its % roof by this count is an upper bound.
     */
    public static double cpuForward(LinearOp op, int dk, int dv, int c, int t) {
        CpuLinearKernel k = new CpuLinearKernel();
        LinearOpConfig cfg = LinearOpConfig.of(op).withChunkSize(c);
        boolean chunked = k.usesChunked(cfg, t) || k.usesChunkedDelta(cfg, t);
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
    // ------------------------------------------------------------------------------------------ selective scan

    /**
     * Forward FLOPs of the Mamba-1 selective scan (S6) per channel per token, state size {@code n}: {@code 7·N + 7}.
     * Per state entry: {@code Δ·A} 1, {@code exp} 1, {@code ·(Δu)·B} 1, {@code x = dA·x + dBu} 2, {@code y += x·C} 2;
     * per channel: delta_bias 1, softplus 1, {@code Δ·u} 1, D skip 2, silu gate 2 (a transcendental function
     * counts as one FLOP). The same count for every implementation: the cpu recurrence, the nd4j chunked form
     * and the PyTorch loop all perform these operations (the reference's {@code deltaA} is materialised,
     * not recomputed).
     */
    public static double selectiveScanForward(int n) {
        return 7.0 * n + 7;
    }

    /** Forward+backward FLOPs of the selective scan per channel per token: three forwards. */
    public static double selectiveScanForwardBackward(int n) {
        return 3 * selectiveScanForward(n);
    }

    // ------------------------------------------------------------------------------------------ Titans

    /**
     * Forward FLOPs of the Titans memory of depth 2 (MLP {@code D → E·D → D}, {@code P = 2·E·D²} weights) per
     * token per head, recurrent as Mnemo's cpu kernel runs it: {@code 20·E·D²}. Inner gradient at the
     * chunk-start memory: {@code W_1 k}, {@code W_2 a}, {@code W_2ᵀ δ_2}, 2·E·D² each; momentum write
     * {@code S = η S − θ δ inᵀ}, 3 per weight, and forgetting {@code M = (1 − α) M + S}, 2 per weight: 5·P;
     * read {@code q + W_2 silu(W_1 q)}: 4·E·D². Activations and their derivatives (order E·D) are left out.
     */
    public static double titansForward(int d, int e) {
        return 20.0 * e * d * d;
    }

    /** Forward+backward FLOPs of the recurrent Titans memory per token per head: three forwards. */
    public static double titansForwardBackward(int d, int e) {
        return 3 * titansForward(d, e);
    }

    /**
     * Forward FLOPs of the chunked Titans form (the PyTorch peer) per token per head with chunk {@code c}:
     * {@code 22·E·D² + 4·C·D + 4·C·E·D + 2·C²}. Inner gradient 6·E·D² (as recurrent); reads against the
     * chunk-start memory and momentum ({@code Q W_1ᵀ}, {@code Q S_1ᵀ}, {@code H W_2ᵀ}, {@code H S_2ᵀ}) 8·E·D²;
     * intra-chunk terms {@code Q Kᵀ} 2·C·D, {@code (·) Δ_1} 2·C·E·D, {@code H Aᵀ} 2·C·E·D, {@code (·) Δ_2}
     * 2·C·D; chunk-end memory and momentum (four products) 8·E·D²; the coefficient product
     * {@code Λ_a Λ_η} 2·C². Masks, exponentials and activations are left out.
     */
    public static double titansChunkedForward(int d, int e, int c) {
        return 22.0 * e * d * d + 4.0 * c * d + 4.0 * c * e * d + 2.0 * c * c;
    }

    /** Forward+backward FLOPs of the chunked Titans form per token per head: three forwards. */
    public static double titansChunkedForwardBackward(int d, int e, int c) {
        return 3 * titansChunkedForward(d, e, c);
    }
}
