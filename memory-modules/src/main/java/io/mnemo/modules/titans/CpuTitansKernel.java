package io.mnemo.modules.titans;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.kernel.TriangularGemm;
import io.mnemo.core.kernel.VecOps;
import io.mnemo.core.kernel.VectorSupport;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The {@code cpu} backend of the Titans memory (Behrouz et al. 2024, §3.2 parallel chunked training;
 * definition in {@link ReferenceTitansKernel} and docs/modules/titans.md): a float kernel, one task per
 * (batch, head), in chunked matrix form. Because every gradient of a chunk is taken at the chunk-start
 * memory {@code M_0}, the chunk's inner forward/backward on its C keys is a few {@code C × width} GEMMs,
 * each running memory is {@code M_0}, {@code S_0} plus a scalar-weighted sum of the chunk's rank-one
 * gradients (coefficients from the momentum/forgetting recurrence, O(C²)), a per-token read is the
 * {@code M_0}/{@code S_0} read plus a causal C×C combination per layer (like chunked linear attention),
 * and the committed memory is one rank-C update per layer (the nested worker class states the equations). The
 * products go through {@link TitansGemm} (register-blocked Vector API micro-kernel).
 *
 * <p>Backward: the forward keeps the memory and momentum at every chunk start (O(T/C · P) per head);
 * backward walks the chunks in reverse, recomputes the chunk's products from its checkpoint and runs
 * their hand-derived transposes, the reverse of the scalar coefficient recurrence (the per-token
 * reverse recurrence of docs/modules/titans.md §5 on coordinates, which gives dθ, dη, dα) and the
 * batched backward of the inner gradient (second-order terms, σ''). Results equal the per-token
 * recurrence within float rounding (tested against the double reference).
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
        IntStream.range(0, bhs).parallel().forEach(bh -> Head.of(sv, bh).forward(y, mem, mom));
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
        IntStream.range(0, s.d.b() * s.d.h()).parallel().forEach(bh -> Head.of(sv, bh).backward(dy, a));
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

    /**
     * The work of one (batch, head), chunk by chunk. Per chunk of n tokens the problem is written in
     * matrix form (all gradients are taken at the chunk-start memory {@code W = M_0}, {@code S = S_0}):
     * <pre>
     *   inner forward/backward of W on the n keys:   Z_l = In_l W_lᵀ, In_{l+1} = σ(Z_l), Δ_L = M_0(K) − V,
     *                                                 E_l = Δ_{l+1} W_{l+1}, Δ_l = E_l ⊙ σ'(Z_l)  (n × width GEMMs)
     *   every running memory in the basis {W, S, g_0 … g_{n−1}} (g_i = Σ_l Δ_l[i] In_l[i]ᵀ, rank one per layer):
     *     M_t = mA_t W + mB_t S + Σ_{i≤t} Γ[t][i] g_i,   S_t = sE_t S + Σ_{i≤t} Σ[t][i] g_i
     *   with the scalar recurrences s_t = η_t s_{t−1} − u_t e_t,  m_t = (1 − α_t) m_{t−1} + s_t (u = θ f)
     *   PER_TOKEN reads, layer by layer (X_0 = Q):
     *     ZR_l = diag(mA) X_l W_lᵀ + diag(mB) X_l S_lᵀ + (Γ ⊙ X_l In_lᵀ) Δ_l,  X_{l+1} = σ(ZR_l)
     *     (chunked linear attention with the causal C×C matrix Γ ⊙ G, per layer)
     *   the chunk's end:  M_C = mA W + mB S + Δᵀ diag(Γ[C−1]) In  (per layer, an n-term GEMM)
     * </pre>
     * The backward runs the same products transposed, then the scalar recurrence in reverse (gate
     * gradients) and the batched inner backward (second-order terms into {@code dW}).
     */
    private static final class Head {
        /** The last worker of this thread: its scratch is reused while the configuration and layout match. */
        private static final ThreadLocal<Head> CACHE = new ThreadLocal<>();

        final TitansOpConfig cfg;
        final MemoryLayout m;
        final VecOps ops;
        final TitansGemm gemm;
        final TitansActivation act;
        final int depth;
        final int dd;
        final int p;
        final int c;
        final boolean res;
        final boolean mom;
        final boolean perToken;
        final int cap;
        // the problem and the (batch, head) this worker is bound to
        Saved sv;
        TitansSeq s;
        int b;
        int h;
        int bh;
        final int[] rows;
        final int[] cols;
        final int[] offs;
        // chunk-start weights, their transposes (layer l: [cols × rows] at offs[l])
        float[] w;
        float[] sm;
        final float[] wT;
        final float[] sT;
        // chunk inputs: In_0 = K, V, gates, Q (= X_0)
        final float[] vv;
        final float[] th;
        final float[] et;
        final float[] ak;
        // inner forward/backward at W: In_l [n × cols], Z_l, E_l, Δ_l [n × rows], In_lᵀ [cols × n]
        final float[][] in;
        final float[][] z;
        final float[][] e;
        final float[][] dl;
        final float[][] inT;
        final float[] n2;
        final float[] f;
        final float[] u;
        final boolean[] clamped;
        // coefficients in the basis {W, S, g_i}: M_t (mA, mB, Γ), S_t (sE, Σ); n × n row-major, row t
        final float[] mA;
        final float[] mB;
        final float[] sE;
        final float[] gam;
        final float[] sig;
        // reads: X_l [n × cols], ZR_l, X W_lᵀ, X S_lᵀ [n × rows], G_l = X In_lᵀ, H_l = Γ ⊙ G_l [n × n]
        final float[][] x;
        final float[][] zr;
        final float[][] pw;
        final float[][] ps;
        final float[][] g;
        final float[][] hh;
        // activation caches: σ'(Z_l), σ'(ZR_l) and the auxiliary value (sigmoid or tanh) of Z_l for σ''
        final float[][] d1z;
        final float[][] auxz;
        final float[][] d1r;
        // scratch
        final float[] tmp;
        final float[] tmp2;
        final float[] scr1;
        final float[] scr2;
        final float[] scrN1;
        final float[] scrN2;
        final float[] scrP;
        final float[][] scrZ;
        final boolean silu;
        // forward: the next chunk's start; backward: adjoints of the chunk end/start and per-chunk factors
        float[] wNext;
        float[] sNext;
        final float[] dM;
        final float[] dS;
        final float[] dW;
        final float[] dS0;
        final float[][] dDl;
        final float[][] dIn;
        final float[] dmA;
        final float[] dmB;
        final float[] dGam;
        final float[] dSig;
        final float[] du;
        final float[] dAlpha;
        final float[] dEta;
        final float[] cm;
        final float[] cs;

        /** A worker for (batch, head) bh of the problem, reusing this thread's scratch when it fits. */
        static Head of(Saved sv, int bh) {
            TitansSeq s = sv.seq();
            int cap = Math.min(s.cfg.chunkSize(), Math.max(s.tv, 1));
            Head hd = CACHE.get();
            if (hd == null || !hd.cfg.equals(s.cfg) || !hd.m.equals(s.m) || hd.cap < cap) {
                hd = new Head(s.cfg, s.m, cap);
                CACHE.set(hd);
            }
            hd.sv = sv;
            hd.s = s;
            hd.bh = bh;
            hd.b = bh / s.d.h();
            hd.h = bh % s.d.h();
            return hd;
        }

        private Head(TitansOpConfig cfg, MemoryLayout m, int cap) {
            this.cfg = cfg;
            this.m = m;
            this.cap = cap;
            this.ops = VectorSupport.ops();
            this.gemm = TitansGemm.get();
            this.act = cfg.activation();
            this.depth = m.depth();
            this.dd = m.d();
            this.p = m.size();
            this.c = cfg.chunkSize();
            this.res = m.residual();
            this.mom = cfg.momentum();
            this.perToken = cfg.readMode() == TitansReadMode.PER_TOKEN;
            rows = new int[depth];
            cols = new int[depth];
            offs = new int[depth];
            in = new float[depth][];
            z = new float[depth][];
            e = new float[depth][];
            dl = new float[depth][];
            inT = new float[depth][];
            x = new float[depth][];
            zr = new float[depth][];
            pw = new float[depth][];
            ps = new float[depth][];
            g = new float[depth][];
            hh = new float[depth][];
            d1z = new float[depth][];
            auxz = new float[depth][];
            d1r = new float[depth][];
            scrZ = new float[depth][];
            for (int l = 0; l < depth; l++) {
                rows[l] = m.rows(l);
                cols[l] = m.cols(l);
                offs[l] = m.offset(l);
                in[l] = new float[cap * cols[l]];
                z[l] = new float[cap * rows[l]];
                e[l] = l < depth - 1 ? new float[cap * rows[l]] : null;
                dl[l] = new float[cap * rows[l]];
                inT[l] = new float[cap * cols[l]];
                x[l] = new float[cap * cols[l]];
                zr[l] = new float[cap * rows[l]];
                pw[l] = perToken ? new float[cap * rows[l]] : null;
                ps[l] = perToken && mom ? new float[cap * rows[l]] : null;
                g[l] = perToken ? new float[cap * cap] : null;
                hh[l] = perToken ? new float[cap * cap] : null;
                d1z[l] = new float[cap * rows[l]];
                auxz[l] = new float[cap * rows[l]];
                d1r[l] = new float[cap * rows[l]];
                scrZ[l] = new float[cap * rows[l]];
            }
            w = new float[p];
            sm = new float[p];
            wT = new float[p];
            sT = mom && perToken ? new float[p] : null;
            vv = new float[cap * dd];
            th = new float[cap];
            et = new float[cap];
            ak = new float[cap];
            n2 = new float[cap];
            f = new float[cap];
            u = new float[cap];
            clamped = new boolean[cap];
            mA = new float[cap];
            mB = new float[cap];
            sE = new float[cap];
            gam = new float[cap * cap];
            sig = new float[cap * cap];
            int wide = cap * Math.max(m.maxWidth(), cap);
            tmp = new float[wide];
            tmp2 = new float[wide];
            scr1 = new float[cap * m.maxWidth()];
            scr2 = new float[cap * m.maxWidth()];
            scrN1 = new float[cap * cap];
            scrN2 = new float[cap * cap];
            scrP = new float[p];
            silu = act == TitansActivation.SILU;
            wNext = new float[p];
            sNext = mom ? new float[p] : null;
            dM = new float[p];
            dS = new float[p];
            dW = new float[p];
            dS0 = new float[p];
            dDl = new float[depth][];
            dIn = new float[depth][];
            for (int l = 0; l < depth; l++) {
                dDl[l] = new float[cap * rows[l]];
                dIn[l] = new float[cap * cols[l]];
            }
            dmA = new float[cap];
            dmB = new float[cap];
            dGam = new float[cap * cap];
            dSig = new float[cap];
            du = new float[cap];
            dAlpha = new float[cap];
            dEta = new float[cap];
            cm = new float[cap + 2];
            cs = new float[cap + 2];
        }

        private static final float GK = (float) Math.sqrt(2.0 / Math.PI);
        private static final float GA = 0.044715f;

        /**
         * {@code val = σ(z)}, {@code d1 = σ'(z)} and {@code aux} (sigmoid(z) for SiLU, the tanh for GELU_TANH,
         * from which {@link #a2} gets σ'') on [from, to), with one exponential per element.
         */
        private void activate(float[] zz, int from, int to, float[] val, float[] d1, float[] aux) {
            if (silu) {
                gemm.silu(zz, from, to, val, d1, aux);
                return;
            }
            for (int i = from; i < to; i++) {
                float xv = zz[i];
                if (silu) {
                    float sg = 1f / (1f + (float) Math.exp(-xv));
                    val[i] = xv * sg;
                    d1[i] = sg * (1f + xv * (1f - sg));
                    if (aux != null) {
                        aux[i] = sg;
                    }
                } else {
                    float y = GK * (xv + GA * xv * xv * xv);
                    float th = 1f - 2f / ((float) Math.exp(2f * y) + 1f);
                    float du = GK * (1f + 3f * GA * xv * xv);
                    val[i] = 0.5f * xv * (1f + th);
                    d1[i] = 0.5f * (1f + th) + 0.5f * xv * (1f - th * th) * du;
                    if (aux != null) {
                        aux[i] = th;
                    }
                }
            }
        }

        /** σ''(x) from x and its auxiliary value (see {@link #activate}). */
        private float a2(float xv, float aux) {
            if (silu) {
                float ds = aux * (1f - aux);
                return 2f * ds + xv * ds * (1f - 2f * aux);
            }
            float sech2 = 1f - aux * aux;
            float du = GK * (1f + 3f * GA * xv * xv);
            float ddu = GK * 6f * GA * xv;
            return sech2 * du + 0.5f * xv * sech2 * (ddu - 2f * aux * du * du);
        }

        /** First row of chunk [cs, cs + n) that is read (the incoming buffer's tokens are not). */
        private int firstRead(int cs) {
            return Math.max(0, s.n0 - cs);
        }

        /** Gathers the chunk's keys, values, gates and (read rows) queries. */
        private void load(int cs, int n, boolean keys) {
            if (keys) {
                for (int j = 0; j < n; j++) {
                    int ko = s.vec(b, cs + j, h);
                    System.arraycopy(sv.k(), ko, in[0], j * dd, dd);
                    System.arraycopy(sv.v(), ko, vv, j * dd, dd);
                }
                if (cfg.gates() == TitansGateGranularity.CHUNK) {
                    float[] gm = new float[3];
                    CpuTitansMath.chunkMeans(sv.theta(), sv.eta(), sv.alpha(), s.gate(b, cs, h), s.d.h(), n, gm);
                    Arrays.fill(th, 0, n, gm[0]);
                    Arrays.fill(et, 0, n, gm[1]);
                    Arrays.fill(ak, 0, n, 1f - gm[2]);
                } else {
                    for (int j = 0; j < n; j++) {
                        int gi = s.gate(b, cs + j, h);
                        th[j] = sv.theta()[gi];
                        et[j] = sv.eta() == null ? 0f : sv.eta()[gi];
                        ak[j] = 1f - sv.alpha()[gi];
                    }
                }
            }
            for (int j = firstRead(cs); j < n; j++) {
                System.arraycopy(sv.q(), s.out(b, cs + j, h), x[0], j * dd, dd);
            }
        }

        private void transposeWeights(boolean withS) {
            for (int l = 0; l < depth; l++) {
                TitansGemm.transpose(rows[l], cols[l], w, offs[l], cols[l], wT, offs[l], rows[l]);
                if (withS) {
                    TitansGemm.transpose(rows[l], cols[l], sm, offs[l], cols[l], sT, offs[l], rows[l]);
                }
            }
        }

        /** Inner forward and backward of W on the chunk's n keys: Z, In, E, Δ, ‖g‖², clamp factors, u = θ f. */
        private void innerForward(int n) {
            for (int l = 0; l < depth; l++) {
                int r = rows[l];
                int cl = cols[l];
                Arrays.fill(z[l], 0, n * r, 0f);
                gemm.mulAdd(n, r, cl, in[l], 0, cl, 1, wT, offs[l], r, z[l], 0, r);
                if (l < depth - 1) {
                    activate(z[l], 0, n * r, in[l + 1], d1z[l], auxz[l]);
                }
            }
            float[] dLast = dl[depth - 1];
            float[] zLast = z[depth - 1];
            for (int i = 0; i < n * dd; i++) {
                dLast[i] = zLast[i] + (res ? in[0][i] : 0f) - vv[i];
            }
            for (int l = depth - 2; l >= 0; l--) {
                int r = rows[l];
                int r1 = rows[l + 1];
                Arrays.fill(e[l], 0, n * r, 0f);
                gemm.mulAdd(n, r, r1, dl[l + 1], 0, r1, 1, w, offs[l + 1], cols[l + 1], e[l], 0, r);
                float[] d1l = d1z[l];
                for (int i = 0; i < n * r; i++) {
                    dl[l][i] = e[l][i] * d1l[i];
                }
            }
            for (int j = 0; j < n; j++) {
                float nn = 0f;
                for (int l = 0; l < depth; l++) {
                    nn += ops.dot(rows[l], dl[l], j * rows[l], dl[l], j * rows[l])
                            * ops.dot(cols[l], in[l], j * cols[l], in[l], j * cols[l]);
                }
                n2[j] = nn;
                clamped[j] = cfg.clamp() && Math.sqrt(nn) > cfg.maxGradNorm();
                f[j] = clamped[j] ? (float) (cfg.maxGradNorm() / Math.sqrt(nn)) : 1f;
                u[j] = th[j] * f[j];
            }
        }

        /** The scalar recurrences of the running memory and momentum in the basis {W, S, g_i}. */
        private void coefficients(int n) {
            float pa = 1f;
            float pb = 0f;
            float pe = 1f;
            for (int t = 0; t < n; t++) {
                float at = ak[t];
                float eta = mom ? et[t] : 0f;
                int rt = t * n;
                int rp = rt - n;
                for (int i = 0; i < t; i++) {
                    sig[rt + i] = eta * sig[rp + i];
                }
                sig[rt + t] = -u[t];
                for (int i = t + 1; i < n; i++) {
                    sig[rt + i] = 0f;
                    gam[rt + i] = 0f;
                }
                pe = eta * pe;
                sE[t] = pe;
                pa = at * pa;
                pb = at * pb + pe;
                mA[t] = pa;
                mB[t] = pb;
                for (int i = 0; i < t; i++) {
                    gam[rt + i] = at * gam[rp + i] + sig[rt + i];
                }
                gam[rt + t] = sig[rt + t];
            }
        }

        /** Transposes In_l into In_lᵀ [cols × n] (for the C×C Gram products). */
        private void transposeInputs(int n) {
            for (int l = 0; l < depth; l++) {
                TitansGemm.transpose(n, cols[l], in[l], 0, cols[l], inT[l], 0, n);
            }
        }

        /** Reads of rows [j0, n): at the running memories (PER_TOKEN) or at W (COMMITTED); leaves ZR, X. */
        private void reads(int n, int j0, boolean running) {
            int nr = n - j0;
            for (int l = 0; l < depth; l++) {
                int r = rows[l];
                int cl = cols[l];
                float[] zl = zr[l];
                if (!running) {
                    Arrays.fill(zl, j0 * r, n * r, 0f);
                    gemm.mulAdd(nr, r, cl, x[l], j0 * cl, cl, 1, wT, offs[l], r, zl, j0 * r, r);
                } else {
                    Arrays.fill(pw[l], j0 * r, n * r, 0f);
                    gemm.mulAdd(nr, r, cl, x[l], j0 * cl, cl, 1, wT, offs[l], r, pw[l], j0 * r, r);
                    if (mom) {
                        Arrays.fill(ps[l], j0 * r, n * r, 0f);
                        gemm.mulAdd(nr, r, cl, x[l], j0 * cl, cl, 1, sT, offs[l], r, ps[l], j0 * r, r);
                    }
                    float[] gl = g[l];
                    float[] hl = hh[l];
                    Arrays.fill(gl, j0 * n, n * n, 0f);
                    TriangularGemm.lowerProduct(ops, j0, n, cl, x[l], 0, cl, inT[l], 0, n, gl, 0, n);
                    for (int t = j0; t < n; t++) {
                        int rt = t * n;
                        for (int i = 0; i <= t; i++) {
                            hl[rt + i] = gam[rt + i] * gl[rt + i];
                        }
                        for (int i = t + 1; i < n; i++) {
                            hl[rt + i] = 0f;
                        }
                        ops.scaleTo(r, mA[t], pw[l], t * r, zl, t * r);
                        if (mom) {
                            ops.axpy(r, mB[t], ps[l], t * r, zl, t * r);
                        }
                    }
                    TriangularGemm.lowerTimes(ops, j0, n, r, hl, 0, n, dl[l], 0, r, zl, 0, r);
                }
                if (l < depth - 1) {
                    activate(zl, j0 * r, n * r, x[l + 1], d1r[l], null);
                }
            }
        }

        /** The committed memory and momentum at the end of a complete chunk of n tokens. */
        private void commit(int n, float[] wNew, float[] sNew) {
            int last = (n - 1) * n;
            for (int l = 0; l < depth; l++) {
                int r = rows[l];
                int cl = cols[l];
                int off = offs[l];
                ops.scaleTo(r * cl, mA[n - 1], w, off, wNew, off);
                if (mom) {
                    ops.axpy(r * cl, mB[n - 1], sm, off, wNew, off);
                }
                scaleRows(n, r, gam, last, dl[l], tmp);
                gemm.mulAdd(r, cl, n, tmp, 0, 1, r, in[l], 0, cl, wNew, off, cl);
                if (mom) {
                    ops.scaleTo(r * cl, sE[n - 1], sm, off, sNew, off);
                    scaleRows(n, r, sig, last, dl[l], tmp);
                    gemm.mulAdd(r, cl, n, tmp, 0, 1, r, in[l], 0, cl, sNew, off, cl);
                }
            }
        }

        /** {@code out[j][:] = coef[co + j] · src[j][:]} for n rows of width r. */
        private void scaleRows(int n, int r, float[] coef, int co, float[] src, float[] out) {
            for (int j = 0; j < n; j++) {
                ops.scaleTo(r, coef[co + j], src, j * r, out, j * r);
            }
        }

        private void writeY(float[] y, int cs, int n, int j0) {
            float[] zl = zr[depth - 1];
            for (int j = j0; j < n; j++) {
                int yo = s.out(b, cs + j, h);
                for (int i = 0; i < dd; i++) {
                    y[yo + i] = zl[j * dd + i] + (res ? x[0][j * dd + i] : 0f);
                }
            }
        }

        void forward(float[] y, double[] memOut, double[] momOut) {
            float[] wNew = wNext;
            float[] sNew = sNext;
            for (int i = 0; i < p; i++) {
                w[i] = (float) s.mem0[bh * p + i];
                sm[i] = s.mom0 == null ? 0f : (float) s.mom0[bh * p + i];
            }
            for (int ci = 0, cs = 0; cs < s.tv; ci++, cs += c) {
                int ce = Math.min(cs + c, s.tv);
                int n = ce - cs;
                boolean complete = n == c;
                if (sv.ckM() != null) {
                    System.arraycopy(w, 0, sv.ckM(), (bh * sv.chunks() + ci) * p, p);
                    if (sv.ckS() != null) {
                        System.arraycopy(sm, 0, sv.ckS(), (bh * sv.chunks() + ci) * p, p);
                    }
                }
                int j0 = firstRead(cs);
                boolean anyRead = j0 < n;
                if (!complete && !perToken) {
                    // the open chunk only reads the committed memory
                    if (anyRead) {
                        load(cs, n, false);
                        transposeWeights(false);
                        reads(n, j0, false);
                        writeY(y, cs, n, j0);
                    }
                    break;
                }
                load(cs, n, true);
                transposeWeights(mom && perToken && anyRead);
                innerForward(n);
                coefficients(n);
                if (anyRead) {
                    if (perToken) {
                        transposeInputs(n);
                    }
                    reads(n, j0, perToken);
                    writeY(y, cs, n, j0);
                }
                if (complete) {
                    commit(n, wNew, sNew);
                    float[] t = w;
                    w = wNew;
                    wNew = t;
                    if (mom) {
                        t = sm;
                        sm = sNew;
                        sNew = t;
                    }
                }
            }
            for (int i = 0; i < p; i++) {
                memOut[bh * p + i] = w[i];
                if (momOut != null) {
                    momOut[bh * p + i] = sm[i];
                }
            }
            wNext = wNew;
            sNext = sNew;
        }

        // ---------------------------------------------------------------- backward

        /**
         * Backward of the reads of rows [j0, n) given dy: weight adjoints into dW (and dS0 for PER_TOKEN with
         * momentum), coefficient adjoints dmA, dmB, dΓ, factor adjoints dΔ, dIn, and dq.
         */
        private void readsBackward(int cs, int n, int j0, boolean running, float[] dy, float[] dW, float[] dS0,
                float[] dmA, float[] dmB, float[] dGam, float[][] dDl, float[][] dIn, TitansSeq.Adjoints ad) {
            int nr = n - j0;
            float[] dz = scr1;
            float[] dx = scr2;
            float[] dH = scrN1;
            float[] dG = scrN2;
            float[] dlT = tmp2;
            for (int j = j0; j < n; j++) {
                int yo = s.out(b, cs + j, h);
                System.arraycopy(dy, yo, dz, j * dd, dd);
            }
            for (int l = depth - 1; l >= 0; l--) {
                int r = rows[l];
                int cl = cols[l];
                int off = offs[l];
                Arrays.fill(dx, j0 * cl, n * cl, 0f);
                if (!running) {
                    gemm.mulAdd(r, cl, nr, dz, j0 * r, 1, r, x[l], j0 * cl, cl, dW, off, cl);
                    gemm.mulAdd(nr, cl, r, dz, j0 * r, r, 1, w, off, cl, dx, j0 * cl, cl);
                } else {
                    for (int t = j0; t < n; t++) {
                        dmA[t] += ops.dot(r, dz, t * r, pw[l], t * r);
                        ops.scaleTo(r, mA[t], dz, t * r, tmp, t * r);
                    }
                    gemm.mulAdd(r, cl, nr, tmp, j0 * r, 1, r, x[l], j0 * cl, cl, dW, off, cl);
                    gemm.mulAdd(nr, cl, r, tmp, j0 * r, r, 1, w, off, cl, dx, j0 * cl, cl);
                    if (mom) {
                        for (int t = j0; t < n; t++) {
                            dmB[t] += ops.dot(r, dz, t * r, ps[l], t * r);
                            ops.scaleTo(r, mB[t], dz, t * r, tmp, t * r);
                        }
                        gemm.mulAdd(r, cl, nr, tmp, j0 * r, 1, r, x[l], j0 * cl, cl, dS0, off, cl);
                        gemm.mulAdd(nr, cl, r, tmp, j0 * r, r, 1, sm, off, cl, dx, j0 * cl, cl);
                    }
                    // dH = dZR Δ_lᵀ, masked to i ≤ t
                    TitansGemm.transpose(n, r, dl[l], 0, r, dlT, 0, n);
                    Arrays.fill(dH, j0 * n, n * n, 0f);
                    TriangularGemm.lowerProduct(ops, j0, n, r, dz, 0, r, dlT, 0, n, dH, 0, n);
                    float[] gl = g[l];
                    for (int t = j0; t < n; t++) {
                        int rt = t * n;
                        for (int i = 0; i <= t; i++) {
                            dGam[rt + i] += dH[rt + i] * gl[rt + i];
                            dG[rt + i] = dH[rt + i] * gam[rt + i];
                        }
                        for (int i = t + 1; i < n; i++) {
                            dG[rt + i] = 0f;
                        }
                    }
                    // dΔ += Hᵀ dZR;  dX += dG In;  dIn += dGᵀ X
                    TriangularGemm.lowerTransposedTimes(ops, j0, n, r, hh[l], 0, n, dz, 0, r, dDl[l], 0, r);
                    TriangularGemm.lowerTimes(ops, j0, n, cl, dG, 0, n, in[l], 0, cl, dx, 0, cl);
                    TriangularGemm.lowerTransposedTimes(ops, j0, n, cl, dG, 0, n, x[l], 0, cl, dIn[l], 0, cl);
                }
                if (l >= 1) {
                    float[] d1p = d1r[l - 1];
                    for (int i = j0 * cl; i < n * cl; i++) {
                        dz[i] = dx[i] * d1p[i];
                    }
                }
            }
            for (int j = j0; j < n; j++) {
                int qo = s.out(b, cs + j, h);
                for (int i = 0; i < dd; i++) {
                    ad.dq[qo + i] += dx[j * dd + i] + (res ? dy[qo + i] : 0f);
                }
            }
        }

        /** Backward of {@link #commit}: the end adjoints dMe, dSe into dW, dS0 and the coefficient/factor adjoints. */
        private void commitBackward(int n, float[] dMe, float[] dSe, float[] dW, float[] dS0, float[] dmA, float[] dmB,
                float[] dGam, float[] dSig, float[] dsE, float[][] dDl, float[][] dIn) {
            int e1 = n - 1;
            int last = e1 * n;
            ops.axpy(p, mA[e1], dMe, 0, dW, 0);
            dmA[e1] += ops.dot(p, dMe, 0, w, 0);
            if (mom) {
                ops.axpy(p, mB[e1], dMe, 0, dS0, 0);
                ops.axpy(p, sE[e1], dSe, 0, dS0, 0);
                dmB[e1] += ops.dot(p, dMe, 0, sm, 0);
                dsE[0] = ops.dot(p, dSe, 0, sm, 0);
            }
            float[] dT = scrP;
            for (int pass = 0; pass < (mom ? 2 : 1); pass++) {
                float[] dE = pass == 0 ? dMe : dSe;
                float[] coef = pass == 0 ? gam : sig;
                for (int l = 0; l < depth; l++) {
                    TitansGemm.transpose(rows[l], cols[l], dE, offs[l], cols[l], dT, offs[l], rows[l]);
                }
                for (int l = 0; l < depth; l++) {
                    int r = rows[l];
                    int cl = cols[l];
                    // PM = In dEᵀ:  d(coef[i]) += Δ[i]·PM[i];  dΔ[i] += coef[i] PM[i]
                    Arrays.fill(tmp2, 0, n * r, 0f);
                    gemm.mulAdd(n, r, cl, in[l], 0, cl, 1, dT, offs[l], r, tmp2, 0, r);
                    for (int j = 0; j < n; j++) {
                        float dc = ops.dot(r, dl[l], j * r, tmp2, j * r);
                        if (pass == 0) {
                            dGam[last + j] += dc;
                        } else {
                            dSig[j] += dc;
                        }
                        ops.axpy(r, coef[last + j], tmp2, j * r, dDl[l], j * r);
                    }
                    // dIn += diag(coef) Δ dE
                    scaleRows(n, r, coef, last, dl[l], tmp);
                    gemm.mulAdd(n, cl, r, tmp, 0, r, 1, dE, offs[l], cl, dIn[l], 0, cl);
                }
            }
        }

        /**
         * Reverse of {@link #coefficients}: from the coefficient adjoints to du, dα, dη per token (the
         * per-token reverse recurrence of the memory and momentum, on coordinates).
         */
        private void coefficientsBackward(int n, boolean complete, float[] dmA, float[] dmB, float[] dGam, float[] dSig,
                float dsEnd, float[] du, float[] dAlpha, float[] dEta) {
            float[] dm = cm;
            float[] ds = cs;
            Arrays.fill(dm, 0, n + 2, 0f);
            Arrays.fill(ds, 0, n + 2, 0f);
            if (complete) {
                ds[1] = dsEnd;
                for (int i = 0; i < n; i++) {
                    ds[2 + i] = dSig[i];
                }
            }
            for (int t = n - 1; t >= 0; t--) {
                int rt = t * n;
                int rp = rt - n;
                dm[0] += dmA[t];
                dm[1] += dmB[t];
                for (int i = 0; i <= t; i++) {
                    dm[2 + i] += dGam[rt + i];
                }
                // m_t = a_t m_{t−1} + s_t
                float da;
                if (t == 0) {
                    da = dm[0];
                } else {
                    da = dm[0] * mA[t - 1] + dm[1] * mB[t - 1];
                    for (int i = 0; i < t; i++) {
                        da += dm[2 + i] * gam[rp + i];
                    }
                }
                float at = ak[t];
                for (int i = 0; i < n + 2; i++) {
                    ds[i] += dm[i];
                    dm[i] *= at;
                }
                // s_t = η_t s_{t−1} − u_t e_t
                float dh;
                if (t == 0) {
                    dh = ds[1];
                } else {
                    dh = ds[1] * sE[t - 1];
                    for (int i = 0; i < t; i++) {
                        dh += ds[2 + i] * sig[rp + i];
                    }
                }
                du[t] = -ds[2 + t];
                float eta = mom ? et[t] : 0f;
                for (int i = 0; i < n + 2; i++) {
                    ds[i] *= eta;
                }
                dAlpha[t] = -da;
                dEta[t] = mom ? dh : 0f;
            }
        }

        /** Batched backward of {@link #innerForward} given dΔ, dIn: second-order terms into dW, dk, dv. */
        private void innerBackward(int cs, int n, float[][] dDl, float[][] dIn, float[] dW, TitansSeq.Adjoints ad) {
            float[][] dZ = scrZ;
            for (int l = 0; l < depth; l++) {
                Arrays.fill(dZ[l], 0, n * rows[l], 0f);
            }
            for (int l = 0; l < depth - 1; l++) {
                int r = rows[l];
                int r1 = rows[l + 1];
                int c1 = cols[l + 1];
                float[] dE = tmp;
                float[] d1l = d1z[l];
                float[] aux = auxz[l];
                for (int i = 0; i < n * r; i++) {
                    float zv = z[l][i];
                    dE[i] = dDl[l][i] * d1l[i];
                    dZ[l][i] += dDl[l][i] * e[l][i] * a2(zv, aux[i]);
                }
                // dW_{l+1} += Δ_{l+1}ᵀ dE;  dΔ_{l+1} += dE W_{l+1}ᵀ
                gemm.mulAdd(r1, c1, n, dl[l + 1], 0, 1, r1, dE, 0, c1, dW, offs[l + 1], c1);
                gemm.mulAdd(n, r1, c1, dE, 0, c1, 1, wT, offs[l + 1], r1, dDl[l + 1], 0, r1);
            }
            float[] dLast = dDl[depth - 1];
            for (int i = 0; i < n * dd; i++) {
                dZ[depth - 1][i] += dLast[i];
            }
            for (int l = depth - 1; l >= 0; l--) {
                int r = rows[l];
                int cl = cols[l];
                gemm.mulAdd(r, cl, n, dZ[l], 0, 1, r, in[l], 0, cl, dW, offs[l], cl);
                gemm.mulAdd(n, cl, r, dZ[l], 0, r, 1, w, offs[l], cl, dIn[l], 0, cl);
                if (l >= 1) {
                    float[] d1p = d1z[l - 1];
                    for (int i = 0; i < n * cl; i++) {
                        dZ[l - 1][i] += dIn[l][i] * d1p[i];
                    }
                }
            }
            for (int j = 0; j < n; j++) {
                int ko = s.vec(b, cs + j, h);
                for (int i = 0; i < dd; i++) {
                    float dr = dLast[j * dd + i];
                    ad.dk[ko + i] += (res ? dr : 0f) + dIn[0][j * dd + i];
                    ad.dv[ko + i] += -dr;
                }
            }
        }

        void backward(float[] dy, TitansSeq.Adjoints ad) {
            for (int i = 0; i < p; i++) {
                dM[i] = (float) ad.dMem[bh * p + i];
                dS[i] = ad.dMom == null ? 0f : (float) ad.dMom[bh * p + i];
            }
            float[] dsE = new float[1];
            for (int ci = sv.chunks() - 1; ci >= 0; ci--) {
                int cs = ci * c;
                int ce = Math.min(cs + c, s.tv);
                int n = ce - cs;
                boolean complete = n == c;
                int ck = (bh * sv.chunks() + ci) * p;
                System.arraycopy(sv.ckM(), ck, w, 0, p);
                if (mom) {
                    System.arraycopy(sv.ckS(), ck, sm, 0, p);
                }
                int j0 = firstRead(cs);
                boolean anyRead = dy != null && j0 < n;
                Arrays.fill(dW, 0f);
                if (!complete && !perToken) {
                    // the open chunk only reads the committed memory
                    if (anyRead) {
                        load(cs, n, false);
                        transposeWeights(false);
                        reads(n, j0, false);
                        readsBackward(cs, n, j0, false, dy, dW, null, null, null, null, null, null, ad);
                    }
                    ops.axpy(p, 1f, dW, 0, dM, 0);
                    continue;
                }
                load(cs, n, true);
                transposeWeights(mom && perToken && anyRead);
                innerForward(n);
                coefficients(n);
                Arrays.fill(dS0, 0f);
                for (int l = 0; l < depth; l++) {
                    Arrays.fill(dDl[l], 0, n * rows[l], 0f);
                    Arrays.fill(dIn[l], 0, n * cols[l], 0f);
                }
                Arrays.fill(dmA, 0f);
                Arrays.fill(dmB, 0f);
                Arrays.fill(dGam, 0, n * n, 0f);
                Arrays.fill(dSig, 0f);
                dsE[0] = 0f;
                if (complete) {
                    commitBackward(n, dM, dS, dW, dS0, dmA, dmB, dGam, dSig, dsE, dDl, dIn);
                }
                if (anyRead) {
                    if (perToken) {
                        transposeInputs(n);
                    }
                    reads(n, j0, perToken);
                    readsBackward(cs, n, j0, perToken, dy, dW, dS0, dmA, dmB, dGam, dDl, dIn, ad);
                }
                coefficientsBackward(n, complete, dmA, dmB, dGam, dSig, dsE[0], du, dAlpha, dEta);
                float dThetaC = 0f;
                float dEtaC = 0f;
                float dAlphaC = 0f;
                for (int j = 0; j < n; j++) {
                    float dTheta = du[j] * f[j];
                    if (clamped[j]) {
                        // f = c/‖g‖:  dg += −(θ du c / ‖g‖³) g, on the rank-one factors
                        double norm = Math.sqrt(n2[j]);
                        float beta = (float) (-(th[j] * du[j]) * cfg.maxGradNorm() / (norm * norm * norm));
                        for (int l = 0; l < depth; l++) {
                            int r = rows[l];
                            int cl = cols[l];
                            float inSq = ops.dot(cl, in[l], j * cl, in[l], j * cl);
                            float deltaSq = ops.dot(r, dl[l], j * r, dl[l], j * r);
                            ops.axpy(r, beta * inSq, dl[l], j * r, dDl[l], j * r);
                            ops.axpy(cl, beta * deltaSq, in[l], j * cl, dIn[l], j * cl);
                        }
                    }
                    if (cfg.gates() == TitansGateGranularity.CHUNK) {
                        dThetaC += dTheta;
                        dEtaC += dEta[j];
                        dAlphaC += dAlpha[j];
                    } else {
                        int gi = s.gate(b, cs + j, h);
                        ad.dTheta[gi] += dTheta;
                        ad.dAlpha[gi] += dAlpha[j];
                        if (ad.dEta != null) {
                            ad.dEta[gi] += dEta[j];
                        }
                    }
                }
                if (cfg.gates() == TitansGateGranularity.CHUNK) {
                    for (int t = cs; t < ce; t++) {
                        int gi = s.gate(b, t, h);
                        ad.dTheta[gi] += dThetaC / n;
                        ad.dAlpha[gi] += dAlphaC / n;
                        if (ad.dEta != null) {
                            ad.dEta[gi] += dEtaC / n;
                        }
                    }
                }
                innerBackward(cs, n, dDl, dIn, dW, ad);
                // adjoints of this chunk's start: a complete chunk's end adjoints went through it; an open
                // chunk's start is the final committed state, whose incoming adjoints add directly
                if (complete) {
                    System.arraycopy(dW, 0, dM, 0, p);
                    if (mom) {
                        System.arraycopy(dS0, 0, dS, 0, p);
                    }
                } else {
                    ops.axpy(p, 1f, dW, 0, dM, 0);
                    if (mom) {
                        ops.axpy(p, 1f, dS0, 0, dS, 0);
                    }
                }
            }
            for (int i = 0; i < p; i++) {
                ad.dMem[bh * p + i] = dM[i];
                if (ad.dMom != null) {
                    ad.dMom[bh * p + i] = dS[i];
                }
            }
        }
    }
}
