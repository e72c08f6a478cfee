package io.mnemo.modules.linear;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.kernel.VecOps;
import io.mnemo.core.kernel.VectorSupport;
import io.mnemo.core.memory.SeqDims;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The chunked (parallel) forward of {@code delta_rule} and {@code gated_delta_rule} on the {@code cpu} backend,
 * for inference ({@code save = false}): per chunk of {@code C = chunkSize} tokens, a few small float matrix
 * products ({@link VecOps#gemm}) and one triangular solve instead of C rank-1 reads and writes of the
 * {@code Dk × Dv} state. Training still runs the recurrence of {@link CpuLinearKernel}, whose checkpointed backward
 * is exact. One task per (batch, head); inputs q/k {@code [B, T, H, Dk]}, v {@code [B, T, H, Dv]}, β and g
 * {@code [B, T, H]}, states {@code [B, H, Dk, Dv]}.
 *
 * <p>Per chunk with rows {@code Q̂ = scale·Q, K} ({@code n × Dk}), {@code V} ({@code n × Dv}), chunk-start state
 * {@code S0}, {@code b_r = Σ_{s≤r} g_s} the cumulative log decay inside the chunk (b ≡ 0 for delta_rule) and
 * {@code γ = e^b}:
 * <pre>
 *   A[r,s] = β_r ⟨k_r, k_s⟩ e^{b_r − b_s}   for s &lt; r, else 0
 *   R      = diag(β) V − diag(β γ) K S0
 *   U      = (I + A)⁻¹ R                     forward substitution, row by row
 *   O      = diag(γ) Q̂ S0 + P U,             P[r,s] = ⟨q̂_r, k_s⟩ e^{b_r − b_s} for s ≤ r
 *   S1     = γ_L S0 + (diag(e^{b_L − b}) K)ᵀ U
 * </pre>
 * U is the chunk's corrected values {@code Ũ − W S0} of the WY/UT representation (the nd4j kernel forms
 * {@code W = T diag(βγ) K} and {@code Ũ = T diag(β) V} with {@code T = (I + A)⁻¹}); solving for {@code R} directly
 * needs one substitution instead of two. The decays {@code e^{b_r − b_s}} are formed as
 * {@code e^{b_r − m} · e^{m − b_s}} when the chunk's range of b is at most
 * {@link CpuChunkedLinearKernel#FACTOR_RANGE}, else element by element, as in {@link CpuChunkedLinearKernel}.
 *
 * <p>Follows: DeltaNet, Yang et al. 2024, "Parallelizing Linear Transformers with the Delta Rule over Sequence
 * Length" (the WY/UT representation, §3); Gated DeltaNet, Yang, Kautz and Hatamizadeh 2024, "Gated Delta Networks:
 * Improving Mamba2 with Delta Rule" (the decay inside the UT transform). The math is in docs/ops/linear.md §3.
 * Arithmetic is in float whatever the input type, as in {@link CpuLinearKernel}.
 */
final class CpuChunkedDeltaKernel {
    private final VecOps ops = VectorSupport.ops();

    /** True for the ops this kernel implements. */
    static boolean supports(LinearOp op) {
        return op == LinearOp.DELTA_RULE || op == LinearOp.GATED_DELTA_RULE;
    }

    /** Per-task buffers for one chunk of one (batch, head) sequence; {@code c} = chunk capacity. */
    private static final class Work {
        final float[] kt;   // Kᵀ            [Dk, c]
        final float[] kk;   // K Kᵀ, then A  [c, c]
        final float[] p;    // Q̂ Kᵀ, then P  [c, c]
        final float[] kbg;  // diag(βγ) K    [c, Dk]
        final float[] qg;   // diag(γ) Q̂     [c, Dk]
        final float[] kd;   // diag(e^{b_L − b}) K  [c, Dk]
        final float[] u;    // R, then U     [c, Dv]
        final float[] o;    // chunk output  [c, Dv]
        final double[] cum; // b             [c]
        final double[] ef;  // e^{b_r − m}   [c]
        final double[] eb;  // e^{m − b_s}   [c]

        Work(int c, int dk, int dv) {
            kt = new float[dk * c];
            kk = new float[c * c];
            p = new float[c * c];
            kbg = new float[c * dk];
            qg = new float[c * dk];
            kd = new float[c * dk];
            u = new float[c * dv];
            o = new float[c * dv];
            cum = new double[c];
            ef = new double[c];
            eb = new double[c];
        }
    }

    /** The forward without saving anything for backward: outputs {@code [B, T, H, Dv]} and the final state. */
    LinearForward forward(LinearOpConfig cfg, SeqDims d, LinearInputs in) {
        LinearOp op = cfg.op();
        if (!supports(op)) {
            throw new IllegalArgumentException("the chunked cpu delta kernel implements delta_rule and "
                    + "gated_delta_rule, not " + op.opName());
        }
        int bs = d.b();
        int t = d.t();
        int hs = d.h();
        int dk = d.dk();
        int dv = d.dv();
        int ss = dk * dv;
        float scale = (float) cfg.scaleFor(dk);
        float[] q = CpuChunkedLinearKernel.headMajor(NdBuffers.toFloats(in.q()), bs, t, hs, dk, scale);
        float[] k = CpuChunkedLinearKernel.headMajor(NdBuffers.toFloats(in.k()), bs, t, hs, dk, 1f);
        float[] v = CpuChunkedLinearKernel.headMajor(NdBuffers.toFloats(in.v()), bs, t, hs, dv, 1f);
        float[] beta = CpuChunkedLinearKernel.headMajor(NdBuffers.toFloats(in.beta()), bs, t, hs, 1, 1f);
        float[] g = op.scalarGate() ? CpuChunkedLinearKernel.headMajor(NdBuffers.toFloats(in.g()), bs, t, hs, 1, 1f)
                : null;
        float[] init = in.initialState() == null ? null : NdBuffers.toFloats(in.initialState());
        int c = Math.max(1, Math.min(cfg.chunkSize(), t));
        float[] o = new float[bs * hs * t * dv];
        float[] fin = new float[bs * hs * ss];
        IntStream.range(0, bs * hs).parallel().forEach(bh -> {
            float[] st = new float[ss];
            if (init != null) {
                System.arraycopy(init, bh * ss, st, 0, ss);
            }
            Work w = new Work(c, dk, dv);
            for (int t0 = 0; t0 < t; t0 += c) {
                int n = Math.min(c, t - t0);
                chunk(bh * t + t0, n, dk, dv, q, k, v, beta, g, st, w, o);
            }
            System.arraycopy(st, 0, fin, bh * ss, ss);
        });
        DataType dt = in.q().dataType();
        return new LinearForward(NdBuffers.of(dt, CpuChunkedLinearKernel.tokenMajor(o, bs, t, hs, dv, 1f), bs, t, hs,
                dv), NdBuffers.of(dt, fin, bs, hs, dk, dv), cfg, d, in, null);
    }

    /** One chunk: rows [r0, r0 + n) of the head-major arrays; updates the state {@code st} in place. */
    private void chunk(int r0, int n, int dk, int dv, float[] q, float[] k, float[] v, float[] beta, float[] g,
            float[] st, Work w, float[] out) {
        int c = n; // row stride of the n × n buffers for this chunk
        // cumulative log decays and the two exponential factors of e^{b_r − b_s}
        double lo = 0;
        double hi = 0;
        double acc = 0;
        for (int r = 0; r < n; r++) {
            acc += g == null ? 0 : g[r0 + r];
            w.cum[r] = acc;
            lo = r == 0 ? acc : Math.min(lo, acc);
            hi = r == 0 ? acc : Math.max(hi, acc);
        }
        double bl = w.cum[n - 1];
        boolean factored = hi - lo <= CpuChunkedLinearKernel.FACTOR_RANGE;
        double mid = 0.5 * (lo + hi);
        if (g != null && factored) {
            for (int r = 0; r < n; r++) {
                w.ef[r] = Math.exp(w.cum[r] - mid);
                w.eb[r] = Math.exp(mid - w.cum[r]);
            }
        }
        // Kᵀ, and the rows scaled by βγ, γ and e^{b_L − b}
        for (int r = 0; r < n; r++) {
            int kr = (r0 + r) * dk;
            float gam = (float) Math.exp(w.cum[r]);
            float bg = beta[r0 + r] * gam;
            float kdec = (float) Math.exp(bl - w.cum[r]);
            for (int i = 0; i < dk; i++) {
                float ki = k[kr + i];
                w.kt[i * c + r] = ki;
                w.kbg[r * dk + i] = bg * ki;
                w.qg[r * dk + i] = gam * q[kr + i];
                w.kd[r * dk + i] = kdec * ki;
            }
        }
        // K Kᵀ and Q̂ Kᵀ
        Arrays.fill(w.kk, 0, n * c, 0f);
        Arrays.fill(w.p, 0, n * c, 0f);
        ops.gemm(false, n, n, dk, k, r0 * dk, dk, w.kt, 0, c, w.kk, 0, c);
        ops.gemm(false, n, n, dk, q, r0 * dk, dk, w.kt, 0, c, w.p, 0, c);
        // A (strictly lower, with β_r) and P (lower with the diagonal), decayed
        for (int r = 0; r < n; r++) {
            for (int s = 0; s <= r; s++) {
                float dec = g == null ? 1f : factored ? (float) (w.ef[r] * w.eb[s])
                        : (float) Math.exp(w.cum[r] - w.cum[s]);
                w.p[r * c + s] *= dec;
                w.kk[r * c + s] = s < r ? beta[r0 + r] * w.kk[r * c + s] * dec : 0f;
            }
            for (int s = r + 1; s < n; s++) {
                w.p[r * c + s] = 0f;
                w.kk[r * c + s] = 0f;
            }
        }
        // R = diag(β) V − diag(βγ) K S0
        for (int r = 0; r < n; r++) {
            float br = beta[r0 + r];
            int vr = (r0 + r) * dv;
            for (int j = 0; j < dv; j++) {
                w.u[r * dv + j] = br * v[vr + j];
            }
        }
        negGemm(n, dv, dk, w.kbg, st, w.u, w.o);
        // U = (I + A)⁻¹ R: u_r −= Σ_{s<r} A[r,s] u_s
        for (int r = 1; r < n; r++) {
            for (int s = 0; s < r; s++) {
                float a = w.kk[r * c + s];
                if (a != 0f) {
                    ops.axpy(dv, -a, w.u, s * dv, w.u, r * dv);
                }
            }
        }
        // O = diag(γ) Q̂ S0 + P U
        Arrays.fill(w.o, 0, n * dv, 0f);
        ops.gemm(false, n, dv, dk, w.qg, 0, dk, st, 0, dv, w.o, 0, dv);
        ops.gemm(false, n, dv, n, w.p, 0, c, w.u, 0, dv, w.o, 0, dv);
        System.arraycopy(w.o, 0, out, r0 * dv, n * dv);
        // S1 = γ_L S0 + (diag(e^{b_L − b}) K)ᵀ U
        if (g != null) {
            float gl = (float) Math.exp(bl);
            for (int i = 0; i < dk * dv; i++) {
                st[i] *= gl;
            }
        }
        ops.gemm(true, dk, dv, n, w.kd, 0, dk, w.u, 0, dv, st, 0, dv);
    }

    /** {@code u −= a · s} for {@code a [m × k]} and {@code s [k × n]}, using {@code tmp [m × n]} as scratch. */
    private void negGemm(int m, int n, int k, float[] a, float[] s, float[] u, float[] tmp) {
        Arrays.fill(tmp, 0, m * n, 0f);
        ops.gemm(false, m, n, k, a, 0, k, s, 0, n, tmp, 0, n);
        for (int i = 0; i < m * n; i++) {
            u[i] -= tmp[i];
        }
    }
}
