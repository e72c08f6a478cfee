package io.mnemo.modules.linear;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.kernel.TriangularGemm;
import io.mnemo.core.kernel.VecOps;
import io.mnemo.core.kernel.VectorSupport;
import io.mnemo.core.memory.SeqDims;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The chunked (parallel) form of {@code delta_rule} and {@code gated_delta_rule} on the {@code cpu} backend,
 * forward and hand-written backward: per chunk of {@code C = chunkSize} tokens, a few small float matrix
 * products ({@link VecOps#gemm}) and one triangular solve instead of C rank-1 reads and writes of the
 * {@code Dk × Dv} state. One task per (batch, head); inputs q/k {@code [B, T, H, Dk]}, v {@code [B, T, H, Dv]},
 * β and g {@code [B, T, H]}, states {@code [B, H, Dk, Dv]}.
 *
 * <p>Per chunk with rows {@code Q̂ = scale·Q, K} ({@code n × Dk}), {@code V} ({@code n × Dv}), chunk-start state
 * {@code S0}, {@code b_r = Σ_{s≤r} g_s} the cumulative log decay inside the chunk (b ≡ 0 for delta_rule) and
 * {@code γ = e^b}:
 * <pre>
 *   A[r,s] = β_r ⟨k_r, k_s⟩ e^{b_r − b_s}   for s &lt; r, else 0
 *   R      = diag(β) V − diag(β γ) K S0
 *   U      = (I + A)⁻¹ R                     forward substitution, by blocks of 16 rows
 *   O      = diag(γ) Q̂ S0 + P U,             P[r,s] = ⟨q̂_r, k_s⟩ e^{b_r − b_s} for s ≤ r
 *   S1     = γ_L S0 + (diag(e^{b_L − b}) K)ᵀ U
 * </pre>
 * U is the chunk's corrected values {@code Ũ − W S0} of the WY/UT representation (the nd4j kernel forms
 * {@code W = T diag(βγ) K} and {@code Ũ = T diag(β) V} with {@code T = (I + A)⁻¹}); solving for {@code R} directly
 * needs one substitution instead of two. The decays {@code e^{b_r − b_s}} are formed as
 * {@code e^{b_r − m} · e^{m − b_s}} when the chunk's range of b is at most
 * {@link CpuChunkedLinearKernel#FACTOR_RANGE}, else element by element, as in {@link CpuChunkedLinearKernel}.
 *
 * <p>With {@code save = true} the forward keeps every chunk's start state {@code S0} and its corrected values
 * {@code U} ({@code T × Dv} per sequence, the size of v). The backward walks the chunks in reverse with
 * {@code dS1} (the gradient of the chunk's end state), recomputes {@code K Kᵀ}, {@code Q̂ Kᵀ} and the decays, and
 * differentiates the five lines above in reverse order (docs/ops/linear.md §3b):
 * <pre>
 *   dU  = diag(e^{b_L − b}) K dS1 + Pᵀ dO         dS0 = γ_L dS1 + (diag(γ) Q̂)ᵀ dO − (diag(βγ) K)ᵀ dR
 *   dP  = dO Uᵀ (lower),  dQ̂ = diag(γ) dO S0ᵀ + (dP ⊙ D) K,  dK ∋ (dP ⊙ D)ᵀ Q̂ + diag(e^{b_L − b}) U dS1ᵀ
 *   dR  = (I + A)⁻ᵀ dU                            back substitution, by blocks
 *   dA  = −dR Uᵀ (strictly lower);  G = dA ⊙ diag(β) D:  dK ∋ (G + Gᵀ) K − diag(βγ) dR S0ᵀ
 *   dV  = diag(β) dR;  dβ_r = ⟨dR_r, v_r − γ_r (K S0)_r⟩ + Σ_s dA[r,s] ⟨k_r, k_s⟩ D[r,s]
 * </pre>
 * and the log decays collect, per entry x of P, A, R, O and S1 depending on {@code b_r − b_s} or {@code b_r},
 * {@code x·dx} into {@code db_r} and {@code −x·dx} into {@code db_s}; {@code dg} is the reverse cumulative sum of
 * {@code db} inside the chunk. Products with the lower-triangular matrices ({@code K Kᵀ}, {@code Q̂ Kᵀ}, P, dP, dA
 * and G) skip the blocks above the diagonal ({@link TriangularGemm}); the decay and mask loops are plain row loops
 * that C2 vectorizes. Measured on a 2-vCPU AVX2 guest, B=1, T=4096, 1 thread, against the full products with
 * scalar substitutions: forward 14 %, forward+backward 11 % faster (medians of 27 interleaved runs).
 *
 * <p>Follows: DeltaNet, Yang et al. 2024, "Parallelizing Linear Transformers with the Delta Rule over Sequence
 * Length" (the WY/UT representation, §3); Gated DeltaNet, Yang, Kautz and Hatamizadeh 2024, "Gated Delta Networks:
 * Improving Mamba2 with Delta Rule" (the decay inside the UT transform). The math is in docs/ops/linear.md §3.
 * Arithmetic is in float whatever the input type, as in {@link CpuLinearKernel}.
 */
final class CpuChunkedDeltaKernel {
    /** Rows per block of the triangular solves: row by row inside a block, one GEMM across blocks. */
    private static final int ROW_BLOCK = TriangularGemm.ROW_BLOCK;

    private final VecOps ops = VectorSupport.ops();

    /** True for the ops this kernel implements. */
    static boolean supports(LinearOp op) {
        return op == LinearOp.DELTA_RULE || op == LinearOp.GATED_DELTA_RULE;
    }

    /**
     * What the forward keeps for backward: head-major float copies of the inputs ({@code q} already scaled;
     * {@code g} null for delta_rule), every chunk's start state {@code [B·H, chunks, Dk, Dv]} and every chunk's
     * corrected values {@code U} {@code [B·H, T, Dv]}.
     */
    record Saved(float[] q, float[] k, float[] v, float[] beta, float[] g, float[] ckpt, float[] u, int chunk,
            int chunks, float scale) {}

    /** Per-task buffers for one chunk of one (batch, head) sequence; {@code c} = chunk capacity. */
    private static final class Work {
        final float[] kt;   // Kᵀ            [Dk, c]
        final float[] kk;   // K Kᵀ, then K Kᵀ ⊙ D strictly lower (A = diag(β) times it)  [c, c]
        final float[] na;   // −A strictly lower (above the diagonal unread)  [c, c]
        final float[] p;    // Q̂ Kᵀ, then P  [c, c]
        final float[] kbg;  // −diag(βγ) K   [c, Dk]
        final float[] qg;   // diag(γ) Q̂     [c, Dk]
        final float[] kd;   // diag(e^{b_L − b}) K  [c, Dk]
        final float[] u;    // R, then U (backward: dU, then dR)  [c, Dv]
        final float[] o;    // chunk output (backward: K S0)  [c, Dv]
        final float[] gam;  // γ_r = e^{b_r}  [c]
        final float[] kdec; // e^{b_L − b_r}  [c]
        final double[] cum; // b             [c]
        final float[] ef;   // e^{b_r − m}   [c]
        final float[] eb;   // e^{m − b_s}   [c]
        // backward only
        final float[] dec;  // D[r,s] = e^{b_r − b_s}, s ≤ r  [c, c]
        final float[] dp;   // dP, then dA and G  [c, c]
        final float[] ut;   // Uᵀ  [Dv, c]
        final float[] s0t;  // S0ᵀ [Dv, Dk]
        final float[] ds1t; // dS1ᵀ [Dv, Dk]
        final float[] x;    // U dS1ᵀ, dO S0ᵀ, dR S0ᵀ in turn  [c, Dk]
        final double[] db;  // dL/db_r  [c]
        final float[] cs;   // column sums of the decays' gradient terms  [c]

        Work(int c, int dk, int dv, boolean backward) {
            kt = new float[dk * c];
            kk = new float[c * c];
            na = new float[c * c];
            p = new float[c * c];
            kbg = new float[c * dk];
            qg = new float[c * dk];
            kd = new float[c * dk];
            u = new float[c * dv];
            o = new float[c * dv];
            gam = new float[c];
            kdec = new float[c];
            cum = new double[c];
            ef = new float[c];
            eb = new float[c];
            int b = backward ? 1 : 0;
            dec = new float[b * c * c];
            dp = new float[b * c * c];
            ut = new float[b * dv * c];
            s0t = new float[b * dv * dk];
            ds1t = new float[b * dv * dk];
            x = new float[b * c * dk];
            db = new double[b * c];
            cs = new float[b * c];
        }
    }

    /**
     * The forward: outputs {@code [B, T, H, Dv]} and the final state; with {@code save} also what
     * {@link #backward} needs ({@link Saved}).
     */
    LinearForward forward(LinearOpConfig cfg, SeqDims d, LinearInputs in, boolean save) {
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
        int chunks = Math.max(1, (t + c - 1) / c);
        float[] o = new float[bs * hs * t * dv];
        float[] fin = new float[bs * hs * ss];
        float[] ckpt = save ? new float[bs * hs * chunks * ss] : null;
        float[] us = save ? new float[bs * hs * t * dv] : null;
        IntStream.range(0, bs * hs).parallel().forEach(bh -> {
            float[] st = new float[ss];
            if (init != null) {
                System.arraycopy(init, bh * ss, st, 0, ss);
            }
            Work w = new Work(c, dk, dv, false);
            for (int t0 = 0, ci = 0; t0 < t; t0 += c, ci++) {
                if (save) {
                    System.arraycopy(st, 0, ckpt, (bh * chunks + ci) * ss, ss);
                }
                chunk(bh * t + t0, Math.min(c, t - t0), dk, dv, q, k, v, beta, g, st, w, o, us);
            }
            System.arraycopy(st, 0, fin, bh * ss, ss);
        });
        DataType dt = in.q().dataType();
        return new LinearForward(NdBuffers.of(dt, CpuChunkedLinearKernel.tokenMajor(o, bs, t, hs, dv, 1f), bs, t, hs,
                dv), NdBuffers.of(dt, fin, bs, hs, dk, dv), cfg, d, in,
                save ? new Saved(q, k, v, beta, g, ckpt, us, c, chunks, scale) : null);
    }

    /**
     * The cumulative log decays {@code b} of rows [r0, r0 + n), their extremes, and the two factors of
     * {@code e^{b_r − b_s}} when the range allows; fills {@code cum}, {@code gam}, {@code kdec} (and {@code ef},
     * {@code eb}). Returns whether the factored form is used.
     */
    private static boolean decays(int r0, int n, float[] g, Work w) {
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
        for (int r = 0; r < n; r++) {
            w.gam[r] = (float) Math.exp(w.cum[r]);
            w.kdec[r] = (float) Math.exp(bl - w.cum[r]);
        }
        boolean factored = hi - lo <= CpuChunkedLinearKernel.FACTOR_RANGE;
        double mid = 0.5 * (lo + hi);
        if (g != null && factored) {
            for (int r = 0; r < n; r++) {
                w.ef[r] = (float) Math.exp(w.cum[r] - mid);
                w.eb[r] = (float) Math.exp(mid - w.cum[r]);
            }
        }
        return factored;
    }

    /**
     * What the forward and the backward of a chunk (rows [r0, r0 + n), row stride n) both need: the decays
     * ({@link #decays}), {@code Kᵀ}, the rows {@code −diag(βγ) K}, {@code diag(γ) Q̂} and
     * {@code diag(e^{b_L − b}) K}, {@code K Kᵀ ⊙ D} (strictly lower; A is β_r times it), {@code −A},
     * {@code P = Q̂ Kᵀ ⊙ D} (lower with the diagonal) and, when the work buffers have room (backward), D itself.
     * The row loops are plain array loops that C2 vectorizes.
     */
    private void prepare(int r0, int n, int dk, float[] q, float[] k, float[] beta, float[] g, Work w) {
        boolean factored = decays(r0, n, g, w);
        for (int r = 0; r < n; r++) {
            int kr = (r0 + r) * dk;
            float gam = w.gam[r];
            float bg = -beta[r0 + r] * gam;
            float kdec = w.kdec[r];
            for (int i = 0; i < dk; i++) {
                float ki = k[kr + i];
                w.kt[i * n + r] = ki;
                w.kbg[r * dk + i] = bg * ki;
                w.qg[r * dk + i] = gam * q[kr + i];
                w.kd[r * dk + i] = kdec * ki;
            }
        }
        Arrays.fill(w.kk, 0, n * n, 0f);
        Arrays.fill(w.p, 0, n * n, 0f);
        TriangularGemm.lowerProduct(ops, 0, n, dk, k, r0 * dk, dk, w.kt, 0, n, w.kk, 0, n);
        TriangularGemm.lowerProduct(ops, 0, n, dk, q, r0 * dk, dk, w.kt, 0, n, w.p, 0, n);
        boolean keepDec = w.dec.length > 0;
        for (int r = 0; r < n; r++) {
            int row = r * n;
            if (g == null) {
                if (keepDec) {
                    Arrays.fill(w.dec, row, row + r + 1, 1f);
                }
            } else if (factored) {
                float e = w.ef[r];
                for (int s = 0; s <= r; s++) {
                    float dec = e * w.eb[s];
                    if (keepDec) {
                        w.dec[row + s] = dec;
                    }
                    w.p[row + s] *= dec;
                    w.kk[row + s] *= dec;
                }
            } else {
                for (int s = 0; s <= r; s++) {
                    float dec = (float) Math.exp(w.cum[r] - w.cum[s]);
                    if (keepDec) {
                        w.dec[row + s] = dec;
                    }
                    w.p[row + s] *= dec;
                    w.kk[row + s] *= dec;
                }
            }
            float nb = -beta[r0 + r];
            for (int s = 0; s < r; s++) {
                w.na[row + s] = nb * w.kk[row + s];
            }
            w.kk[row + r] = 0f;
            Arrays.fill(w.p, row + r + 1, row + n, 0f);
            Arrays.fill(w.kk, row + r + 1, row + n, 0f);
            if (keepDec) {
                Arrays.fill(w.dec, row + r + 1, row + n, 0f);
            }
        }
    }

    /**
     * {@code U = (I + A)⁻¹ U} in place, rows [0, n) of width {@code dv}, with {@code −A} (strictly lower, row
     * stride n) in {@code na}: forward substitution by blocks of rows, {@code U_J −= A_{J,<J} U_{<J}} as one GEMM,
     * then row by row inside the block.
     */
    private void solveLower(int n, int dv, float[] na, float[] u) {
        for (int b0 = 0; b0 < n; b0 += ROW_BLOCK) {
            int b1 = Math.min(n, b0 + ROW_BLOCK);
            if (b0 > 0) {
                ops.gemm(false, b1 - b0, dv, b0, na, b0 * n, n, u, 0, dv, u, b0 * dv, dv);
            }
            for (int r = b0 + 1; r < b1; r++) {
                for (int s = b0; s < r; s++) {
                    ops.axpy(dv, na[r * n + s], u, s * dv, u, r * dv);
                }
            }
        }
    }

    /**
     * {@code X = (I + A)⁻ᵀ X} in place (the transpose of {@link #solveLower}): back substitution by blocks from
     * the last, {@code X_J −= (A_{>J,J})ᵀ X_{>J}} as one GEMM, then row by row inside the block.
     */
    private void solveUpper(int n, int dv, float[] na, float[] x) {
        int last = (n - 1) / ROW_BLOCK * ROW_BLOCK;
        for (int b0 = last; b0 >= 0; b0 -= ROW_BLOCK) {
            int b1 = Math.min(n, b0 + ROW_BLOCK);
            if (b1 < n) {
                ops.gemm(true, b1 - b0, dv, n - b1, na, b1 * n + b0, n, x, b1 * dv, dv, x, b0 * dv, dv);
            }
            for (int s = b1 - 1; s > b0; s--) {
                for (int r = b0; r < s; r++) {
                    ops.axpy(dv, na[s * n + r], x, s * dv, x, r * dv);
                }
            }
        }
    }

    /**
     * One chunk: rows [r0, r0 + n) of the head-major arrays; updates the state {@code st} in place and, when
     * {@code us} is not null, keeps the chunk's U there.
     */
    private void chunk(int r0, int n, int dk, int dv, float[] q, float[] k, float[] v, float[] beta, float[] g,
            float[] st, Work w, float[] out, float[] us) {
        prepare(r0, n, dk, q, k, beta, g, w);
        // R = diag(β) V − diag(βγ) K S0
        for (int r = 0; r < n; r++) {
            float br = beta[r0 + r];
            int vr = (r0 + r) * dv;
            for (int j = 0; j < dv; j++) {
                w.u[r * dv + j] = br * v[vr + j];
            }
        }
        ops.gemm(false, n, dv, dk, w.kbg, 0, dk, st, 0, dv, w.u, 0, dv);
        // U = (I + A)⁻¹ R: u_r −= Σ_{s<r} A[r,s] u_s
        solveLower(n, dv, w.na, w.u);
        if (us != null) {
            System.arraycopy(w.u, 0, us, r0 * dv, n * dv);
        }
        // O = diag(γ) Q̂ S0 + P U
        Arrays.fill(w.o, 0, n * dv, 0f);
        ops.gemm(false, n, dv, dk, w.qg, 0, dk, st, 0, dv, w.o, 0, dv);
        TriangularGemm.lowerTimes(ops, 0, n, dv, w.p, 0, n, w.u, 0, dv, w.o, 0, dv);
        System.arraycopy(w.o, 0, out, r0 * dv, n * dv);
        // S1 = γ_L S0 + (diag(e^{b_L − b}) K)ᵀ U
        if (g != null) {
            ops.scale(dk * dv, (float) Math.exp(w.cum[n - 1]), st, 0);
        }
        ops.gemm(true, dk, dv, n, w.kd, 0, dk, w.u, 0, dv, st, 0, dv);
    }

    /**
     * The backward of a forward run with {@code save = true}: every input gradient and that of the initial state.
     * {@code dO [B, T, H, Dv]} and {@code dFinalState [B, H, Dk, Dv]} may each be null (no gradient).
     */
    LinearGrads backward(LinearForward fwd, INDArray dO, INDArray dFinalState) {
        if (!(fwd.saved() instanceof Saved s)) {
            throw new IllegalArgumentException("backward needs a forward run by the chunked cpu delta kernel with "
                    + "save=true");
        }
        SeqDims d = fwd.dims();
        LinearOp op = fwd.config().op();
        int bs = d.b();
        int t = d.t();
        int hs = d.h();
        int dk = d.dk();
        int dv = d.dv();
        int ss = dk * dv;
        float[] dOut = CpuChunkedLinearKernel.headMajor(dO == null ? new float[bs * t * hs * dv]
                : NdBuffers.toFloats(dO), bs, t, hs, dv, 1f);
        float[] dFin = dFinalState == null ? null : NdBuffers.toFloats(dFinalState);
        float[] dq = new float[s.q().length];
        float[] dkk = new float[s.k().length];
        float[] dvv = new float[s.v().length];
        float[] dbeta = new float[s.beta().length];
        float[] dg = s.g() == null ? null : new float[s.g().length];
        float[] dInit = new float[bs * hs * ss];
        int c = s.chunk();
        IntStream.range(0, bs * hs).parallel().forEach(bh -> {
            float[] dS = new float[ss];
            float[] next = new float[ss];
            if (dFin != null) {
                System.arraycopy(dFin, bh * ss, dS, 0, ss);
            }
            Work w = new Work(c, dk, dv, true);
            for (int ci = s.chunks() - 1; ci >= 0; ci--) {
                int t0 = ci * c;
                if (t0 >= t) {
                    continue;
                }
                backwardChunk(bh * t + t0, Math.min(c, t - t0), dk, dv, s, (bh * s.chunks() + ci) * ss, w, dOut, dS,
                        next, dq, dkk, dvv, dbeta, dg);
                float[] tmp = dS;
                dS = next;
                next = tmp;
            }
            System.arraycopy(dS, 0, dInit, bh * ss, ss);
        });
        DataType dt = fwd.inputs().q().dataType();
        return new LinearGrads(
                NdBuffers.of(dt, CpuChunkedLinearKernel.tokenMajor(dq, bs, t, hs, dk, s.scale()), bs, t, hs, dk),
                NdBuffers.of(dt, CpuChunkedLinearKernel.tokenMajor(dkk, bs, t, hs, dk, 1f), bs, t, hs, dk),
                NdBuffers.of(dt, CpuChunkedLinearKernel.tokenMajor(dvv, bs, t, hs, dv, 1f), bs, t, hs, dv),
                op.scalarGate() ? NdBuffers.of(dt, CpuChunkedLinearKernel.tokenMajor(dg, bs, t, hs, 1, 1f), bs, t, hs)
                        : null,
                null,
                NdBuffers.of(dt, CpuChunkedLinearKernel.tokenMajor(dbeta, bs, t, hs, 1, 1f), bs, t, hs),
                NdBuffers.of(dt, dInit, bs, hs, dk, dv));
    }

    /**
     * The backward of one chunk, rows [r0, r0 + n): reads {@code dS1} (the gradient of the chunk's end state),
     * writes {@code dS0} (that of its start state) and accumulates the input gradients (head-major, dq with respect
     * to the scaled q). The equations are in the class comment.
     */
    private void backwardChunk(int r0, int n, int dk, int dv, Saved sv, int so, Work w, float[] dOut, float[] dS1,
            float[] dS0, float[] dq, float[] dkk, float[] dvv, float[] dbeta, float[] dg) {
        float[] q = sv.q();
        float[] k = sv.k();
        float[] v = sv.v();
        float[] beta = sv.beta();
        float[] g = sv.g();
        float[] s0 = sv.ckpt();
        float[] us = sv.u();
        int ss = dk * dv;
        prepare(r0, n, dk, q, k, beta, g, w);
        // transposes of S0, dS1 and U
        for (int i = 0; i < dk; i++) {
            for (int j = 0; j < dv; j++) {
                w.s0t[j * dk + i] = s0[so + i * dv + j];
                w.ds1t[j * dk + i] = dS1[i * dv + j];
            }
        }
        for (int r = 0; r < n; r++) {
            int ur = (r0 + r) * dv;
            for (int j = 0; j < dv; j++) {
                w.ut[j * n + r] = us[ur + j];
            }
        }
        Arrays.fill(w.db, 0, n, 0.0);
        // S1 = γ_L S0 + (diag(e^{b_L − b}) K)ᵀ U
        Arrays.fill(w.u, 0, n * dv, 0f);
        ops.gemm(false, n, dv, dk, w.kd, 0, dk, dS1, 0, dv, w.u, 0, dv);
        Arrays.fill(w.x, 0, n * dk, 0f);
        ops.gemm(false, n, dk, dv, us, r0 * dv, dv, w.ds1t, 0, dk, w.x, 0, dk);
        for (int r = 0; r < n; r++) {
            ops.axpy(dk, w.kdec[r], w.x, r * dk, dkk, (r0 + r) * dk);
            if (g != null) {
                double cr = ops.dot(dk, w.kd, r * dk, w.x, r * dk);
                w.db[n - 1] += cr;
                w.db[r] -= cr;
            }
        }
        float gl = 1f;
        if (g != null) {
            gl = (float) Math.exp(w.cum[n - 1]);
            w.db[n - 1] += gl * (double) ops.dot(ss, dS1, 0, s0, so);
        }
        ops.scaleTo(ss, gl, dS1, 0, dS0, 0);
        // O = diag(γ) Q̂ S0 + P U
        ops.gemm(true, dk, dv, n, w.qg, 0, dk, dOut, r0 * dv, dv, dS0, 0, dv);
        Arrays.fill(w.x, 0, n * dk, 0f);
        ops.gemm(false, n, dk, dv, dOut, r0 * dv, dv, w.s0t, 0, dk, w.x, 0, dk);
        for (int r = 0; r < n; r++) {
            ops.axpy(dk, w.gam[r], w.x, r * dk, dq, (r0 + r) * dk);
            if (g != null) {
                w.db[r] += ops.dot(dk, w.qg, r * dk, w.x, r * dk);
            }
        }
        Arrays.fill(w.dp, 0, n * n, 0f);
        TriangularGemm.lowerProduct(ops, 0, n, dv, dOut, r0 * dv, dv, w.ut, 0, n, w.dp, 0, n);
        TriangularGemm.lowerTransposedTimes(ops, 0, n, dv, w.p, 0, n, dOut, r0 * dv, dv, w.u, 0, dv);
        // the decays of P: dP ⊙ P into db by rows (+) and columns (−); then dP ⊙ D
        if (g != null) {
            Arrays.fill(w.cs, 0, n, 0f);
        }
        for (int r = 0; r < n; r++) {
            int row = r * n;
            if (g != null) {
                w.db[r] += ops.dot(r + 1, w.dp, row, w.p, row);
                for (int s = 0; s <= r; s++) {
                    float x = w.dp[row + s];
                    w.cs[s] += x * w.p[row + s];
                    w.dp[row + s] = x * w.dec[row + s];
                }
            } else {
                for (int s = 0; s <= r; s++) {
                    w.dp[row + s] *= w.dec[row + s];
                }
            }
            Arrays.fill(w.dp, row + r + 1, row + n, 0f);
        }
        if (g != null) {
            for (int s = 0; s < n; s++) {
                w.db[s] -= w.cs[s];
            }
        }
        TriangularGemm.lowerTimes(ops, 0, n, dk, w.dp, 0, n, k, r0 * dk, dk, dq, r0 * dk, dk);
        TriangularGemm.lowerTransposedTimes(ops, 0, n, dk, w.dp, 0, n, q, r0 * dk, dk, dkk, r0 * dk, dk);
        // U = (I + A)⁻¹ R  →  dR = (I + A)⁻ᵀ dU, in place
        solveUpper(n, dv, w.na, w.u);
        // dA = −dR Uᵀ (strictly lower); dβ and the decays of A; then G = dA ⊙ diag(β) D
        Arrays.fill(w.dp, 0, n * n, 0f);
        TriangularGemm.lowerProduct(ops, 0, n, dv, w.u, 0, dv, w.ut, 0, n, w.dp, 0, n);
        // dA[r,s] = −(dR Uᵀ)[r,s], s < r: dβ_r = Σ_s dA ⟨k_r, k_s⟩ D; the decays of A, β_r dA ⟨k_r, k_s⟩ D, into db
        // by rows (+) and columns (−); then G = dA ⊙ diag(β) D
        if (g != null) {
            Arrays.fill(w.cs, 0, n, 0f);
        }
        for (int r = 0; r < n; r++) {
            int row = r * n;
            float br = beta[r0 + r];
            float dbr = -ops.dot(r, w.dp, row, w.kk, row);
            float nb = -br;
            if (g != null) {
                w.db[r] += (double) br * dbr;
                for (int s = 0; s < r; s++) {
                    float x = w.dp[row + s];
                    w.cs[s] += nb * x * w.kk[row + s];
                    w.dp[row + s] = nb * x * w.dec[row + s];
                }
            } else {
                for (int s = 0; s < r; s++) {
                    w.dp[row + s] *= nb * w.dec[row + s];
                }
            }
            Arrays.fill(w.dp, row + r, row + n, 0f);
            dbeta[r0 + r] += dbr;
        }
        if (g != null) {
            for (int s = 0; s < n; s++) {
                w.db[s] -= w.cs[s];
            }
        }
        TriangularGemm.lowerTimes(ops, 0, n, dk, w.dp, 0, n, k, r0 * dk, dk, dkk, r0 * dk, dk);
        TriangularGemm.lowerTransposedTimes(ops, 0, n, dk, w.dp, 0, n, k, r0 * dk, dk, dkk, r0 * dk, dk);
        // R = diag(β) V − diag(βγ) K S0
        Arrays.fill(w.o, 0, n * dv, 0f);
        ops.gemm(false, n, dv, dk, k, r0 * dk, dk, s0, so, dv, w.o, 0, dv);
        Arrays.fill(w.x, 0, n * dk, 0f);
        ops.gemm(false, n, dk, dv, w.u, 0, dv, w.s0t, 0, dk, w.x, 0, dk);
        for (int r = 0; r < n; r++) {
            float br = beta[r0 + r];
            float bg = br * w.gam[r];
            int vr = (r0 + r) * dv;
            ops.axpy(dv, br, w.u, r * dv, dvv, vr);
            float dW = ops.dot(dv, w.u, r * dv, w.o, r * dv);
            dbeta[r0 + r] += ops.dot(dv, w.u, r * dv, v, vr) - w.gam[r] * dW;
            if (g != null) {
                w.db[r] -= (double) bg * dW;
            }
            ops.axpy(dk, -bg, w.x, r * dk, dkk, (r0 + r) * dk);
        }
        ops.gemm(true, dk, dv, n, w.kbg, 0, dk, w.u, 0, dv, dS0, 0, dv);
        // b_r = Σ_{s≤r} g_s: dg is the reverse cumulative sum of db
        if (g != null) {
            double acc = 0;
            for (int r = n - 1; r >= 0; r--) {
                acc += w.db[r];
                dg[r0 + r] += (float) acc;
            }
        }
    }
}
