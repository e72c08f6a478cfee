package io.mnemo.modules.titans;

import io.mnemo.core.kernel.VecOps;
import java.util.Arrays;

/**
 * The float per-token primitives of one head's memory, used by {@link TitansStepper} and
 * {@link TitansRead} (the chunked {@link CpuTitansKernel} computes the same quantities as matrix products
 * over a chunk, equal within float rounding): the inner gradient at
 * the chunk-start memory, one write (momentum and forgetting), one read. Weights are flat
 * ({@link MemoryLayout}), addressed as {@code (array, offset)}; holds scratch, so one instance per
 * thread.
 */
class CpuTitansMath {
    final TitansOpConfig cfg;
    final MemoryLayout m;
    final VecOps ops;
    final int depth;
    final int dd;
    final int p;
    final boolean res;
    final TitansActivation act;
    // inner forward/backward of M_0 on (k, v): in_l = input of layer l, z_l, e_l = W_{l+1}ᵀ δ_{l+1}, δ_l
    final float[][] in;
    final float[][] z;
    final float[][] e;
    final float[][] delta;
    /** ‖g‖² of the last inner gradient. */
    float n2;
    /** Whether the clamp changed the last inner gradient. */
    boolean clampActive;
    // activations of the last read, and the read's backward scratch
    final float[][] inR;
    final float[][] zR;
    final float[][] dInR;
    final float[][] dZR;

    CpuTitansMath(TitansOpConfig cfg, MemoryLayout m, VecOps ops) {
        this.cfg = cfg;
        this.m = m;
        this.ops = ops;
        this.depth = m.depth();
        this.dd = m.d();
        this.p = m.size();
        this.res = m.residual();
        this.act = cfg.activation();
        in = new float[depth][];
        z = new float[depth][];
        e = new float[depth][];
        delta = new float[depth][];
        inR = new float[depth][];
        zR = new float[depth][];
        dInR = new float[depth][];
        dZR = new float[depth][];
        for (int l = 0; l < depth; l++) {
            in[l] = new float[m.cols(l)];
            inR[l] = new float[m.cols(l)];
            dInR[l] = new float[m.cols(l)];
            dZR[l] = new float[m.rows(l)];
            z[l] = new float[m.rows(l)];
            zR[l] = new float[m.rows(l)];
            e[l] = new float[m.rows(l)];
            delta[l] = new float[m.rows(l)];
        }
    }

    final float a(float x) {
        return (float) act.value(x);
    }

    final float a1(float x) {
        return (float) act.d1(x);
    }

    final float a2(float x) {
        return (float) act.d2(x);
    }

    /**
     * Chunk means of the gates over n tokens starting at index {@code g0} with stride {@code stride} in
     * {@code [.., T, H]} gate arrays, into {@code out = {θ, η, α}} (η = 0 without momentum).
     */
    static void chunkMeans(float[] theta, float[] eta, float[] alpha, int g0, int stride, int n, float[] out) {
        float th = 0;
        float et = 0;
        float al = 0;
        for (int i = 0; i < n; i++) {
            int g = g0 + i * stride;
            th += theta[g];
            al += alpha[g];
            if (eta != null) {
                et += eta[g];
            }
        }
        out[0] = th / n;
        out[1] = et / n;
        out[2] = al / n;
    }

    /**
     * Inner forward and backward of the memory at {@code w[wo ..]} on the key {@code k[ko ..]} and value
     * {@code v[ko ..]}; fills in, z, e, δ and n2. The gradient is {@code g_l = δ_l in_lᵀ} per layer.
     */
    final void innerGradient(float[] w, int wo, float[] k, float[] v, int ko) {
        System.arraycopy(k, ko, in[0], 0, dd);
        for (int l = 0; l < depth; l++) {
            int rows = m.rows(l);
            int cols = m.cols(l);
            int off = wo + m.offset(l);
            for (int i = 0; i < rows; i++) {
                z[l][i] = ops.dot(cols, w, off + i * cols, in[l], 0);
                if (l < depth - 1) {
                    in[l + 1][i] = a(z[l][i]);
                }
            }
        }
        float[] dl = delta[depth - 1];
        for (int i = 0; i < dd; i++) {
            dl[i] = z[depth - 1][i] + (res ? in[0][i] : 0f) - v[ko + i];
        }
        for (int l = depth - 2; l >= 0; l--) {
            // e_l = W_{l+1}ᵀ δ_{l+1};  δ_l = e_l ⊙ σ'(z_l)
            int rows = m.rows(l + 1);
            int cols = m.cols(l + 1);
            int off = wo + m.offset(l + 1);
            Arrays.fill(e[l], 0f);
            for (int i = 0; i < rows; i++) {
                ops.axpy(cols, delta[l + 1][i], w, off + i * cols, e[l], 0);
            }
            for (int j = 0; j < cols; j++) {
                delta[l][j] = e[l][j] * a1(z[l][j]);
            }
        }
        // ‖g‖² = Σ_l ‖δ_l‖² ‖in_l‖² (each layer's gradient is rank one)
        float n = 0f;
        for (int l = 0; l < depth; l++) {
            n += ops.dot(m.rows(l), delta[l], 0, delta[l], 0) * ops.dot(m.cols(l), in[l], 0, in[l], 0);
        }
        n2 = n;
    }

    /** Clamp factor {@code f = min(1, c/‖g‖)} of the last inner gradient (1 without clamp). */
    final float clampFactor() {
        clampActive = cfg.clamp() && Math.sqrt(n2) > cfg.maxGradNorm();
        return clampActive ? (float) (cfg.maxGradNorm() / Math.sqrt(n2)) : 1f;
    }

    /**
     * One write into the running memory {@code mr[mo ..]} and momentum {@code sr[so ..]} with the inner
     * gradient of the chunk-start memory {@code w0[wo ..]} on token (k, v) at {@code ko}:
     * {@code S ← η S − θ f g;  M ← (1 − α) M + S}, row by row.
     *
     * @param gate {θ, η, α}
     */
    final void write(float[] w0, int wo, float[] k, float[] v, int ko, float[] gate, float[] mr, int mo, float[] sr,
            int so) {
        innerGradient(w0, wo, k, v, ko);
        float u = gate[0] * clampFactor();
        float keep = 1f - gate[2];
        for (int l = 0; l < depth; l++) {
            int cols = m.cols(l);
            for (int i = 0; i < m.rows(l); i++) {
                int off = m.offset(l) + i * cols;
                float c = -u * delta[l][i];
                ops.scale(cols, keep, mr, mo + off);
                if (cfg.momentum()) {
                    // S = η S;  then fused: S += c·in, M += S
                    ops.scale(cols, gate[1], sr, so + off);
                    ops.axpyAxpy(cols, c, in[l], 0, sr, so + off, 1f, mr, mo + off);
                } else {
                    ops.scaleTo(cols, c, in[l], 0, sr, so + off);
                    ops.axpy(cols, 1f, sr, so + off, mr, mo + off);
                }
            }
        }
    }

    /**
     * {@code y[yo ..] = M(q[qo ..])} for the memory at {@code w[wo ..]} (y may be null to only compute the
     * activations, which stay in inR and zR for the backward of the read).
     */
    final void read(float[] w, int wo, float[] q, int qo, float[] y, int yo) {
        System.arraycopy(q, qo, inR[0], 0, dd);
        for (int l = 0; l < depth; l++) {
            int rows = m.rows(l);
            int cols = m.cols(l);
            int off = wo + m.offset(l);
            for (int i = 0; i < rows; i++) {
                zR[l][i] = ops.dot(cols, w, off + i * cols, inR[l], 0);
                if (l < depth - 1) {
                    inR[l + 1][i] = a(zR[l][i]);
                }
            }
        }
        if (y != null) {
            for (int i = 0; i < dd; i++) {
                y[yo + i] = zR[depth - 1][i] + (res ? inR[0][i] : 0f);
            }
        }
    }

    /**
     * Backward of {@link #read} (call it first for the same memory and query): adds
     * {@code ∂⟨dy, M(q)⟩/∂W} into {@code dw[dwo ..]} and {@code ∂⟨dy, M(q)⟩/∂q} into {@code dq[dqo ..]}.
     */
    final void readBackward(float[] w, int wo, float[] dy, int dyo, float[] dw, int dwo, float[] dq, int dqo) {
        System.arraycopy(dy, dyo, dZR[depth - 1], 0, dd);
        for (int l = depth - 1; l >= 0; l--) {
            int rows = m.rows(l);
            int cols = m.cols(l);
            int off = m.offset(l);
            Arrays.fill(dInR[l], 0f);
            for (int i = 0; i < rows; i++) {
                float g = dZR[l][i];
                ops.axpy(cols, g, inR[l], 0, dw, dwo + off + i * cols);
                ops.axpy(cols, g, w, wo + off + i * cols, dInR[l], 0);
            }
            if (l >= 1) {
                for (int j = 0; j < cols; j++) {
                    dZR[l - 1][j] = dInR[l][j] * a1(zR[l - 1][j]);
                }
            }
        }
        for (int i = 0; i < dd; i++) {
            dq[dqo + i] += dInR[0][i] + (res ? dy[dyo + i] : 0f);
        }
    }
}
