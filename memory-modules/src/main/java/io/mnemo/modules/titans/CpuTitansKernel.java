package io.mnemo.modules.titans;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.kernel.VecOps;
import io.mnemo.core.kernel.VectorSupport;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The {@code cpu} backend of the Titans memory (Behrouz et al. 2024; definition in
 * {@link ReferenceTitansKernel} and docs/modules/titans.md): a fused float kernel, one task per
 * (batch, head), the memory weights of the head in small arrays whose rows go through the Vector API
 * ({@link VecOps}).
 *
 * <p>Forward per token: the inner forward and backward of {@code M_0} on {@code (k_t, v_t)} give, per
 * layer, the rank-one gradient {@code g_l = δ_l in_lᵀ} (never materialised); its norm is
 * {@code ‖g‖² = Σ_l ‖δ_l‖²‖in_l‖²}; then per weight row {@code S ← η S − θ f δ_l[i] in_l} and
 * {@code M ← (1 − α) M + S}, and the read {@code y_t = M(q_t)} at the running or the committed memory.
 *
 * <p>Backward: the forward keeps the memory and momentum at every chunk start (O(T/C · P) per head);
 * backward walks the chunks in reverse, recomputes the chunk's per-token memories from its checkpoint
 * (O(C · P) scratch per task) and runs the hand-derived reverse recurrence (docs/modules/titans.md §5):
 * <pre>
 *   read:      dM_t += ∂⟨dy_t, M_t(q_t)⟩/∂M_t,  dq_t
 *   forget:    dα_t = −⟨dM_t, M_{t−1}⟩;  dS_t += dM_t;  dM_{t−1} = (1 − α_t) dM_t
 *   momentum:  dη_t = ⟨dS_t, S_{t−1}⟩;  du_t = −⟨dS_t, g_t⟩;  dg_t = −u_t dS_t;  dS_{t−1} = η_t dS_t
 *   step:      u_t = θ_t f_t: dθ_t = f_t du_t;  clamp active: dg_t += −(θ_t du_t c / ‖g_t‖³) g_t
 *   inner:     dg_t through g_t = ∇ℓ(M_0; k_t, v_t) into dM_0 (second order, σ''), dk_t, dv_t
 * </pre>
 *
 * <p>Arithmetic is in float whatever the input type (use the {@code reference} backend for double).
 */
public final class CpuTitansKernel implements TitansKernel {

    /** Float copies of the problem and the chunk-start checkpoints {@code [B·H, chunks, P]}. */
    record Saved(TitansSeq seq, float[] q, float[] k, float[] v, float[] theta, float[] eta, float[] alpha,
            float[] ckM, float[] ckS, int chunks) {}

    @Override
    public TitansForward forward(TitansOpConfig cfg, TitansDims d, TitansInputs in, boolean save) {
        TitansSeq s = TitansSeq.of(cfg, d, in);
        int p = s.m.size();
        int bhs = d.b() * d.h();
        int chunks = (s.tv + cfg.chunkSize() - 1) / cfg.chunkSize();
        Saved sv = new Saved(s, floats(s.q), floats(s.k), floats(s.v), floats(s.theta), floats(s.eta),
                floats(s.alpha), save ? new float[bhs * chunks * p] : null,
                save && cfg.momentum() ? new float[bhs * chunks * p] : null, chunks);
        float[] y = new float[d.b() * d.t() * d.h() * d.d()];
        double[] mem = new double[bhs * p];
        double[] mom = cfg.momentum() ? new double[bhs * p] : null;
        IntStream.range(0, bhs).parallel().forEach(bh -> new Head(sv, bh).forward(y, mem, mom));
        DataType type = in.q().dataType();
        return new TitansForward(NdBuffers.of(type, y, d.b(), d.t(), d.h(), d.d()), s.finalState(type, mem, mom), cfg,
                d, in, save ? sv : null);
    }

    @Override
    public TitansGrads backward(TitansForward fwd, INDArray dY, TitansState dFinalState) {
        if (!(fwd.saved() instanceof Saved sv)) {
            throw new IllegalArgumentException("backward needs a forward run by the cpu backend with save=true");
        }
        TitansSeq s = sv.seq();
        TitansSeq.Adjoints a = s.new Adjoints(dFinalState);
        float[] dy = dY == null || dY.length() == 0 ? null : NdBuffers.toFloats(dY);
        IntStream.range(0, s.d.b() * s.d.h()).parallel().forEach(bh -> new Head(sv, bh).backward(dy, a));
        return a.toGrads(fwd.inputs().q().dataType());
    }

    private static float[] floats(double[] x) {
        if (x == null) {
            return null;
        }
        float[] f = new float[x.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) x[i];
        }
        return f;
    }

    /** The work of one (batch, head): the forward loop and the backward, on {@link CpuTitansMath}. */
    private static final class Head extends CpuTitansMath {
        final Saved sv;
        final TitansSeq s;
        final int b;
        final int h;
        final int bh;
        // backward scratch
        final float[][] dIn;
        final float[][] dZ;
        final float[][] dDelta;
        final float[][] dE;
        final float[] dkT;
        final float[] dvT;
        final float[] dqT;

        Head(Saved sv, int bh) {
            super(sv.seq().cfg, sv.seq().m, VectorSupport.ops());
            this.sv = sv;
            this.s = sv.seq();
            this.bh = bh;
            this.b = bh / s.d.h();
            this.h = bh % s.d.h();
            dIn = new float[depth][];
            dZ = new float[depth][];
            dDelta = new float[depth][];
            dE = new float[depth][];
            for (int l = 0; l < depth; l++) {
                dIn[l] = new float[m.cols(l)];
                dZ[l] = new float[m.rows(l)];
                dDelta[l] = new float[m.rows(l)];
                dE[l] = new float[m.rows(l)];
            }
            dkT = new float[dd];
            dvT = new float[dd];
            dqT = new float[dd];
        }

        /** Chunk gates of token t: its own, or the chunk means for CHUNK granularity. */
        private float[] gates(int t, int cs, int ce) {
            float[] g = new float[3];
            if (cfg.gates() == TitansGateGranularity.CHUNK) {
                chunkMeans(sv.theta(), sv.eta(), sv.alpha(), s.gate(b, cs, h), s.d.h(), ce - cs, g);
            } else {
                int i = s.gate(b, t, h);
                g[0] = sv.theta()[i];
                g[1] = sv.eta() == null ? 0f : sv.eta()[i];
                g[2] = sv.alpha()[i];
            }
            return g;
        }

        private void innerGradient(float[] w, int wo, int t) {
            innerGradient(w, wo, sv.k(), sv.v(), s.vec(b, t, h));
        }

        private void write(float[] w0, int wo, int t, float[] gate, float[] mr, int mo, float[] sr, int so) {
            write(w0, wo, sv.k(), sv.v(), s.vec(b, t, h), gate, mr, mo, sr, so);
        }

        private void read(float[] w, int wo, int t, float[] y, int yo) {
            read(w, wo, sv.q(), s.out(b, t, h), y, yo);
        }

        void forward(float[] y, double[] memOut, double[] momOut) {
            int c = cfg.chunkSize();
            float[] mem = new float[p];
            float[] mom = new float[p];
            float[] mr = new float[p];
            float[] sr = new float[p];
            for (int i = 0; i < p; i++) {
                mem[i] = (float) s.mem0[bh * p + i];
                mom[i] = s.mom0 == null ? 0f : (float) s.mom0[bh * p + i];
            }
            for (int ci = 0, cs = 0; cs < s.tv; ci++, cs += c) {
                int ce = Math.min(cs + c, s.tv);
                boolean complete = ce - cs == c;
                if (sv.ckM() != null) {
                    System.arraycopy(mem, 0, sv.ckM(), (bh * sv.chunks() + ci) * p, p);
                    if (sv.ckS() != null) {
                        System.arraycopy(mom, 0, sv.ckS(), (bh * sv.chunks() + ci) * p, p);
                    }
                }
                if (!complete && cfg.readMode() == TitansReadMode.COMMITTED) {
                    for (int t = Math.max(cs, s.n0); t < ce; t++) {
                        read(mem, 0, t, y, s.out(b, t, h));
                    }
                    break;
                }
                System.arraycopy(mem, 0, mr, 0, p);
                System.arraycopy(mom, 0, sr, 0, p);
                for (int t = cs; t < ce; t++) {
                    write(mem, 0, t, gates(t, cs, ce), mr, 0, sr, 0);
                    if (t >= s.n0) {
                        read(cfg.readMode() == TitansReadMode.PER_TOKEN ? mr : mem, 0, t, y, s.out(b, t, h));
                    }
                }
                if (complete) {
                    float[] tmp = mem;
                    mem = mr;
                    mr = tmp;
                    tmp = mom;
                    mom = sr;
                    sr = tmp;
                }
            }
            for (int i = 0; i < p; i++) {
                memOut[bh * p + i] = mem[i];
                if (momOut != null) {
                    momOut[bh * p + i] = mom[i];
                }
            }
        }

        // ---------------------------------------------------------------- backward pieces

        /** Backward of the read of token t (call {@link #read} first); dq goes to the adjoints. */
        private void readBackward(float[] w, int wo, int t, float[] dy, float[] dw, int dwo, TitansSeq.Adjoints a) {
            int qo = s.out(b, t, h);
            Arrays.fill(dqT, 0f);
            readBackward(w, wo, dy, qo, dw, dwo, dqT, 0);
            for (int i = 0; i < dd; i++) {
                a.dq[qo + i] += dqT[i];
            }
        }

        /**
         * Backward of the inner gradient of token t at {@code w[wo ..]} (call {@link #innerGradient} first),
         * given the adjoints dδ_l (in dDelta) and d in_l (in dIn) of the rank-one factors; adds into
         * {@code dw[dwo ..]} (second-order terms), dk_t and dv_t.
         */
        void innerBackward(float[] w, int wo, int t, float[] dw, int dwo, TitansSeq.Adjoints a) {
            for (int l = 0; l < depth; l++) {
                Arrays.fill(dZ[l], 0f);
            }
            // backward chain: δ_l = e_l ⊙ σ'(z_l), e_l = W_{l+1}ᵀ δ_{l+1}, for l = 0 .. L−2
            for (int l = 0; l < depth - 1; l++) {
                int rows = m.rows(l);
                for (int j = 0; j < rows; j++) {
                    dE[l][j] = dDelta[l][j] * a1(z[l][j]);
                    dZ[l][j] += dDelta[l][j] * e[l][j] * a2(z[l][j]);
                }
                int r1 = m.rows(l + 1);
                int c1 = m.cols(l + 1);
                int off = m.offset(l + 1);
                for (int i = 0; i < r1; i++) {
                    ops.axpy(c1, delta[l + 1][i], dE[l], 0, dw, dwo + off + i * c1);
                    dDelta[l + 1][i] += ops.dot(c1, w, wo + off + i * c1, dE[l], 0);
                }
            }
            // δ_{L−1} = M(k) − v
            float[] dr = dDelta[depth - 1];
            for (int i = 0; i < dd; i++) {
                dvT[i] = -dr[i];
                dkT[i] = res ? dr[i] : 0f;
                dZ[depth - 1][i] += dr[i];
            }
            // inner forward: z_l = W_l in_l, in_{l+1} = σ(z_l)
            for (int l = depth - 1; l >= 0; l--) {
                int rows = m.rows(l);
                int cols = m.cols(l);
                int off = m.offset(l);
                for (int i = 0; i < rows; i++) {
                    float g = dZ[l][i];
                    ops.axpy(cols, g, in[l], 0, dw, dwo + off + i * cols);
                    ops.axpy(cols, g, w, wo + off + i * cols, dIn[l], 0);
                }
                if (l >= 1) {
                    for (int j = 0; j < cols; j++) {
                        dZ[l - 1][j] += dIn[l][j] * a1(z[l - 1][j]);
                    }
                }
            }
            int ko = s.vec(b, t, h);
            for (int i = 0; i < dd; i++) {
                a.dk[ko + i] += dkT[i] + dIn[0][i];
                a.dv[ko + i] += dvT[i];
            }
        }

        void backward(float[] dy, TitansSeq.Adjoints a) {
            int c = cfg.chunkSize();
            boolean mom = cfg.momentum();
            int p = this.p;
            float[] dM = new float[p];
            float[] dS = new float[p];
            for (int i = 0; i < p; i++) {
                dM[i] = (float) a.dMem[bh * p + i];
                dS[i] = a.dMom == null ? 0f : (float) a.dMom[bh * p + i];
            }
            float[] ms = new float[(c + 1) * p];
            float[] ss = new float[(c + 1) * p];
            float[] dMr = new float[p];
            float[] dSr = new float[p];
            float[] dG0 = new float[p];
            for (int ci = sv.chunks() - 1; ci >= 0; ci--) {
                int cs = ci * c;
                int ce = Math.min(cs + c, s.tv);
                int n = ce - cs;
                boolean complete = n == c;
                int ck = (bh * sv.chunks() + ci) * p;
                System.arraycopy(sv.ckM(), ck, ms, 0, p);
                if (!complete && cfg.readMode() == TitansReadMode.COMMITTED) {
                    // the open chunk only reads the committed memory
                    if (dy != null) {
                        for (int t = Math.max(cs, s.n0); t < ce; t++) {
                            read(ms, 0, t, null, 0);
                            readBackward(ms, 0, t, dy, dM, 0, a);
                        }
                    }
                    continue;
                }
                if (mom) {
                    System.arraycopy(sv.ckS(), ck, ss, 0, p);
                } else {
                    Arrays.fill(ss, 0, p, 0f);
                }
                // recompute the running memories of the chunk: ms/ss slot j+1 = after token cs+j
                for (int j = 0; j < n; j++) {
                    System.arraycopy(ms, j * p, ms, (j + 1) * p, p);
                    System.arraycopy(ss, j * p, ss, (j + 1) * p, p);
                    write(ms, 0, cs + j, gates(cs + j, cs, ce), ms, (j + 1) * p, ss, (j + 1) * p);
                }
                // end-of-chunk adjoints: a complete chunk's end is the next committed memory; an open
                // chunk's end is never used, and its start is the final committed memory
                if (complete) {
                    System.arraycopy(dM, 0, dMr, 0, p);
                    System.arraycopy(dS, 0, dSr, 0, p);
                    Arrays.fill(dG0, 0f);
                } else {
                    Arrays.fill(dMr, 0f);
                    Arrays.fill(dSr, 0f);
                    System.arraycopy(dM, 0, dG0, 0, p);
                }
                float dThetaC = 0f;
                float dEtaC = 0f;
                float dAlphaC = 0f;
                for (int j = n - 1; j >= 0; j--) {
                    int t = cs + j;
                    if (dy != null && t >= s.n0) {
                        if (cfg.readMode() == TitansReadMode.PER_TOKEN) {
                            read(ms, (j + 1) * p, t, null, 0);
                            readBackward(ms, (j + 1) * p, t, dy, dMr, 0, a);
                        } else {
                            read(ms, 0, t, null, 0);
                            readBackward(ms, 0, t, dy, dG0, 0, a);
                        }
                    }
                    float[] gate = gates(t, cs, ce);
                    // M_t = (1 − α) M_{t−1} + S_t
                    float dAlpha = -ops.dot(p, dMr, 0, ms, j * p);
                    ops.axpy(p, 1f, dMr, 0, dSr, 0);
                    ops.scale(p, 1f - gate[2], dMr, 0);
                    // S_t = η S_{t−1} − u g_t, with u = θ f and g_t = Σ_l δ_l in_lᵀ at M_0
                    float dEta = mom ? ops.dot(p, dSr, 0, ss, j * p) : 0f;
                    innerGradient(ms, 0, t);
                    float f = clampFactor();
                    float u = gate[0] * f;
                    float du = 0f;
                    for (int l = 0; l < depth; l++) {
                        int cols = m.cols(l);
                        for (int i = 0; i < m.rows(l); i++) {
                            float rd = ops.dot(cols, dSr, m.offset(l) + i * cols, in[l], 0);
                            du -= delta[l][i] * rd;
                            dDelta[l][i] = -u * rd;
                        }
                    }
                    for (int l = 0; l < depth; l++) {
                        int cols = m.cols(l);
                        Arrays.fill(dIn[l], 0f);
                        for (int i = 0; i < m.rows(l); i++) {
                            ops.axpy(cols, -u * delta[l][i], dSr, m.offset(l) + i * cols, dIn[l], 0);
                        }
                    }
                    float dTheta = du * f;
                    if (clampActive) {
                        // f = c/‖g‖:  dg += −(θ du c / ‖g‖³) g, on the rank-one factors
                        double norm = Math.sqrt(n2);
                        float beta = (float) (-(gate[0] * du) * cfg.maxGradNorm() / (norm * norm * norm));
                        for (int l = 0; l < depth; l++) {
                            float inSq = ops.dot(m.cols(l), in[l], 0, in[l], 0);
                            float deltaSq = ops.dot(m.rows(l), delta[l], 0, delta[l], 0);
                            ops.axpy(m.rows(l), beta * inSq, delta[l], 0, dDelta[l], 0);
                            ops.axpy(m.cols(l), beta * deltaSq, in[l], 0, dIn[l], 0);
                        }
                    }
                    if (mom) {
                        ops.scale(p, gate[1], dSr, 0);
                    } else {
                        Arrays.fill(dSr, 0f);
                    }
                    innerBackward(ms, 0, t, dG0, 0, a);
                    if (cfg.gates() == TitansGateGranularity.CHUNK) {
                        dThetaC += dTheta;
                        dEtaC += dEta;
                        dAlphaC += dAlpha;
                    } else {
                        int g = s.gate(b, t, h);
                        a.dTheta[g] += dTheta;
                        a.dAlpha[g] += dAlpha;
                        if (a.dEta != null) {
                            a.dEta[g] += dEta;
                        }
                    }
                }
                if (cfg.gates() == TitansGateGranularity.CHUNK) {
                    for (int t = cs; t < ce; t++) {
                        int g = s.gate(b, t, h);
                        a.dTheta[g] += dThetaC / n;
                        a.dAlpha[g] += dAlphaC / n;
                        if (a.dEta != null) {
                            a.dEta[g] += dEtaC / n;
                        }
                    }
                }
                for (int i = 0; i < p; i++) {
                    dM[i] = dMr[i] + dG0[i];
                    dS[i] = complete ? dSr[i] : dSr[i] + dS[i];
                }
            }
            for (int i = 0; i < p; i++) {
                a.dMem[bh * p + i] = dM[i];
                if (a.dMom != null) {
                    a.dMom[bh * p + i] = dS[i];
                }
            }
        }
    }
}
