package io.mnemo.modules.linear;

import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.nn.ChunkMasks;
import io.mnemo.core.memory.SeqDims;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.blas.params.MMulTranspose;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.reduce.Mmul;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The {@code nd4j} backend: the chunked (parallel) forms of the five linear ops written as large batched
 * ND4J operations, so that it runs unchanged on ND4J's CPU and CUDA backends. Inputs q/k {@code [B, T, H, Dk]},
 * v {@code [B, T, H, Dv]}, g/beta {@code [B, T, H]}, gk {@code [B, T, H, Dk]}, states {@code [B, H, Dk, Dv]};
 * computation in the data type of q.
 *
 * <h2>Algorithm</h2>
 * The sequence is cut into {@code NC} chunks of {@code C = min(chunkSize, T)} tokens (the last one padded with
 * zero q, k, v, β and zero log decay, which leaves the state untouched) and laid out as
 * {@code [NC·B·H, C, D]}, chunk-major, so that the {@code B·H} sequences of one chunk are one contiguous slab.
 * Inside a chunk, with {@code b_i = Σ_{s≤i} g_s} the cumulative log decay (a matmul with a triangular ones
 * matrix) and {@code S0} the chunk-start state:
 * <pre>
 *   Γ_ij = exp(b_i − b_j) for j ≤ i, else 0          (−∞ mask before exp: never exp of a positive number)
 *   P    = (scale Q Kᵀ) ∘ Γ                           (gla: Σ_d q_id k_jd exp(b_id − b_jd), a [C, C, Dk] tensor)
 *   U    = V                                          (linear_attn, simple_gla, gla)
 *   U    = Ũ − W S0,  W = T diag(βγ) K,  Ũ = T diag(β) V,  T = (I + strictLower(diag(β) (K Kᵀ) ∘ Γ))⁻¹
 *                                                     (delta rules: the WY/UT representation; γ = exp(b))
 *   O    = (scale Q ∘ γ) S0 + P U
 *   S1   = γ_L S0 + (K ∘ exp(b_L − b))ᵀ U            (γ_L = exp(b_{C−1}); per key for gla)
 * </pre>
 * Every step is one batched op over all chunks at once except the chunk-to-chunk state passing: written as
 * {@code S_{n+1} = M_n S_n + c_n} with {@code M = γ_L I − K̂ᵀ W} (delta rules) or {@code diag(γ_L)} and
 * {@code c = K̂ᵀ Ũ} or {@code K̂ᵀ V} (both batched), it is a loop over chunks (not tokens) of one accumulating
 * batched matmul over {@code B·H}; {@code U = Ũ − W S0} and {@code O} are then batched again.
 * {@code T} is built by recursive doubling of the exact block-triangular inverse
 * {@code [[A11, 0], [A21, A22]]⁻¹ = [[T11, 0], [−T22 A21 T11, T22]]}: {@code log2 C} levels of two batched
 * matmuls over all chunks, the first levels on the 16×16 diagonal blocks alone. ND4J's {@code triangular_solve}
 * and {@code cumsum} were measured 30–100× slower than matmuls on these shapes, forward substitution row by row
 * (C ops on strided views) 2–3× slower than the doubling; cumulative sums are matmuls with triangular ones.
 *
 * <p>Follows: GLA, Yang et al. 2023, "Gated Linear Attention Transformers with Hardware-Efficient Training"
 * (chunkwise form, §3–4); DeltaNet, Yang et al. 2024, "Parallelizing Linear Transformers with the Delta Rule
 * over Sequence Length" (WY/UT representation, §3); Gated DeltaNet, Yang, Kautz and Hatamizadeh 2024,
 * "Gated Delta Networks: Improving Mamba2 with Delta Rule" (decay inside the UT transform), and the
 * semantics of flash-linear-attention's naive recurrences (DESIGN.md §4). The per-key intra-chunk tensor of
 * gla is computed exactly in {@code [C, C, Dk]} blocks instead of the papers' secondary chunking.
 *
 * <h2>Backward</h2>
 * Exact and hand-derived; the forward keeps the chunked inputs, the chunk-start states {@code S0} and (delta rules)
 * T, and backward recomputes the other intra-chunk matrices ({@code Γ, P, W, Ũ}, then {@code U = Ũ − W S0} in one
 * batch).
 * The chunk transition {@code S1 = M S0 + c}, {@code M = γ_L I − K̂ᵀ W} (delta rules) or {@code diag(γ_L)}, gives
 * the reverse chunk loop, one accumulating matmul per chunk:
 * <pre>
 *   dS_n = M_nᵀ dS_{n+1} + e_n,   e_n = (scale Q ∘ γ)ᵀ dO_n − [delta] Wᵀ Pᵀ dO_n     (all e_n in one batch)
 *   dU   = Pᵀ dO + K̂ dS_{n+1}                                                        (after the loop, batched)
 * </pre>
 * and, batched over all chunks: {@code dQ, dK} from {@code P} and the state terms; for the delta rules
 * {@code dW = −dU S0ᵀ}, {@code dKβγ = Tᵀ dW}, {@code dVβ = Tᵀ dU} and the derivative of the inverse
 * {@code dA = −strictLower(dKβγ Wᵀ + dVβ Ũᵀ)}, from which dβ, dK (through {@code K Kᵀ}) and dΓ follow. The log-decay
 * gradient is collected per position ({@code db}: through {@code dΓ ∘ Γ}, {@code γ}, {@code exp(b_L − b)} and
 * {@code γ_L}; for gla through the per-key tensor) and turned into {@code dg} by a reverse cumulative sum within
 * the chunk.
 */
public final class Nd4jLinearKernel implements LinearKernel {
    /** Largest {@code [g, C, C, Dk]} block of gla's per-key intra-chunk tensors, in elements (16 MB of floats). */
    private static final long VECTOR_BLOCK_ELEMENTS = 1L << 22;

    /** Width of the diagonal blocks of T inverted as a batch of their own before the full-width levels. */
    private static final int DIAGONAL_BLOCK = 16;

    /** Sizes of one call in the chunk layout. */
    private record Geometry(LinearOp op, int b, int t, int h, int dk, int dv, int c, int nc, DataType dt,
            double scale) {
        int bh() {
            return b * h;
        }

        long g() {
            return (long) nc * b * h;
        }

        int last() {
            return c - 1;
        }
    }

    /**
     * Inputs in chunk layout: qs = scale·q, k {@code [G, C, Dk]}, v {@code [G, C, Dv]}, beta {@code [G, C]},
     * cum = cumulative log decays {@code [G, C]} (scalar gate) or {@code [G, C, Dk]} (gla); G = NC·B·H.
     */
    private record Chunked(Geometry geo, INDArray qs, INDArray k, INDArray v, INDArray beta, INDArray cum) {}

    /**
     * What backward needs: the chunked inputs, the chunk-start states {@code [G, Dk, Dv]} and, for the delta rules,
     * the UT-transform inverse T {@code [G, C, C]} (as large as the chunked q when C = Dk, and the costliest part
     * of the intra-chunk recomputation); null for the other ops.
     */
    record Saved(Chunked in, INDArray starts, INDArray tInv) {}

    private static final MMulTranspose NO_TRANSPOSE = MMulTranspose.builder().build();

    /** Marker saved by a forward over T = 0. */
    private static final Object EMPTY = new Object();

    /** Intra-chunk quantities shared by forward and backward (recomputed by backward, except the saved T). */
    private static final class Intra {
        INDArray gamma; // exp(b): [G, C] or [G, C, Dk]; null without gate
        INDArray gammaL; // exp(b_L): [G] or [G, Dk]; null without gate
        INDArray kdec; // exp(b_L − b), same shape as gamma
        INDArray gam; // Γ [G, C, C] (scalar gate) or the inclusive mask [1, C, C]
        INDArray qk; // scale Q Kᵀ [G, C, C] (not for gla)
        INDArray p; // P [G, C, C]
        INDArray qd; // scale Q ∘ γ [G, C, Dk]
        INDArray kd; // K ∘ exp(b_L − b) [G, C, Dk]
        // delta rules
        INDArray kk; // K Kᵀ [G, C, C]
        INDArray gamStrict; // strict-lower Γ
        INDArray tInv; // T [G, C, C]
        INDArray betaGamma; // β ∘ γ [G, C]
        INDArray kbg; // diag(βγ) K
        INDArray vb; // diag(β) V
        INDArray w; // T kbg [G, C, Dk]
        INDArray ut; // T vb [G, C, Dv]
        INDArray trans; // chunk transition S1 = M S0 + c: γ_L I − K̂ᵀ W (delta) or diag(γ_L), [G, Dk, Dk]
    }

    @Override
    public LinearForward forward(LinearOpConfig cfg, SeqDims d, LinearInputs in, boolean save) {
        DataType dt = in.q().dataType();
        if (d.t() == 0) {
            INDArray fin = in.initialState() == null ? Nd4j.zeros(dt, d.b(), d.h(), d.dk(), d.dv())
                    : in.initialState().castTo(dt).dup('c');
            return new LinearForward(Nd4j.create(dt, d.b(), 0, d.h(), d.dv()), fin, cfg, d, in, save ? EMPTY : null);
        }
        Geometry geo = geometry(cfg, d, dt);
        ChunkMasks m = ChunkMasks.of(geo.c(), dt);
        Chunked ch = chunk(geo, in, m);
        Intra x = intra(geo, ch, m, null);
        int bh = geo.bh();
        int nc = geo.nc();
        boolean delta = geo.op().delta();
        INDArray states = Nd4j.create(dt, nc + 1, bh, geo.dk(), geo.dv()); // states[n] = S at the start of chunk n
        if (in.initialState() != null) {
            states.get(point(0)).assign(in.initialState().castTo(dt).reshape('c', bh, geo.dk(), geo.dv()));
        }
        // S_{n+1} = M_n S_n + c_n with c_n = K̂ᵀ Ũ (delta) or K̂ᵀ V, independent of the state: one batched matmul
        // straight into states[1..NC]; the loop then adds M_n S_n with one accumulating matmul per chunk
        INDArray later = states.get(interval(1, nc + 1)).reshape('c', geo.g(), geo.dk(), geo.dv());
        Nd4j.matmul(x.kd, delta ? x.ut : ch.v(), later, true, false, false);
        for (int n = 0; n < nc; n++) {
            INDArray s = states.get(point(n));
            INDArray next = states.get(point(n + 1));
            Nd4j.exec(new Mmul(transition(x.trans, n, bh), s, next, 1.0, 1.0, NO_TRANSPOSE));
        }
        INDArray starts = states.get(interval(0, nc)).reshape('c', geo.g(), geo.dk(), geo.dv());
        INDArray u = delta ? x.ut.sub(Nd4j.matmul(x.w, starts)) : ch.v();
        INDArray o = Nd4j.matmul(x.qd, starts).addi(Nd4j.matmul(x.p, u));
        INDArray fin = states.get(point(nc)).reshape('c', geo.b(), geo.h(), geo.dk(), geo.dv()).dup('c');
        return new LinearForward(unchunk(geo, o, geo.dv()), fin, cfg, d, in, save ? new Saved(ch, starts, x.tInv) : null);
    }

    @Override
    public LinearGrads backward(LinearForward fwd, INDArray dO, INDArray dFinalState) {
        SeqDims d = fwd.dims();
        LinearOp op = fwd.config().op();
        DataType dt = fwd.inputs().q().dataType();
        if (fwd.saved() == EMPTY) {
            INDArray dInit = dFinalState == null ? Nd4j.zeros(dt, d.b(), d.h(), d.dk(), d.dv())
                    : dFinalState.castTo(dt).dup('c');
            return new LinearGrads(Nd4j.create(dt, d.b(), 0, d.h(), d.dk()), Nd4j.create(dt, d.b(), 0, d.h(), d.dk()),
                    Nd4j.create(dt, d.b(), 0, d.h(), d.dv()), op.scalarGate() ? Nd4j.create(dt, d.b(), 0, d.h()) : null,
                    op.vectorGate() ? Nd4j.create(dt, d.b(), 0, d.h(), d.dk()) : null,
                    op.delta() ? Nd4j.create(dt, d.b(), 0, d.h()) : null, dInit);
        }
        if (!(fwd.saved() instanceof Saved saved)) {
            throw new IllegalArgumentException("backward needs a forward run by the nd4j backend with save=true");
        }
        Chunked ch = saved.in();
        Geometry geo = ch.geo();
        ChunkMasks m = ChunkMasks.of(geo.c(), dt);
        Intra x = intra(geo, ch, m, saved.tInv());
        int bh = geo.bh();
        int nc = geo.nc();
        long g = geo.g();
        int c = geo.c();
        boolean delta = op.delta();
        INDArray starts = saved.starts();
        INDArray u = delta ? x.ut.sub(Nd4j.matmul(x.w, starts)) : ch.v();
        INDArray dOc = dO == null ? Nd4j.zeros(dt, g, c, geo.dv()) : chunk4(geo, dO, geo.dv());

        // reverse chunk loop: dStates[n] = ∂L/∂(state at the start of chunk n)
        INDArray dStates = Nd4j.create(dt, nc + 1, bh, geo.dk(), geo.dv());
        if (dFinalState != null) {
            dStates.get(point(nc)).assign(dFinalState.castTo(dt).reshape('c', bh, geo.dk(), geo.dv()));
        }
        INDArray readGrad = Nd4j.matmul(x.qd, dOc, null, true, false, false); // (scale Q∘γ)ᵀ dO [G, Dk, Dv]
        INDArray dU = Nd4j.matmul(x.p, dOc, null, true, false, false); // Pᵀ dO, completed after the loop
        // dS_n = M_nᵀ dS_{n+1} + e_n with e_n = (scale Q∘γ)ᵀ dO_n − [delta] Wᵀ Pᵀ dO_n, all e_n in one batch
        INDArray earlier = dStates.get(interval(0, nc)).reshape('c', g, geo.dk(), geo.dv());
        if (delta) {
            earlier.assign(readGrad.subi(Nd4j.matmul(x.w, dU, null, true, false, false)));
        } else {
            earlier.assign(readGrad);
        }
        // Mᵀ made contiguous once: a transposed operand makes every accumulating matmul of the loop 2× slower
        INDArray transT = delta ? x.trans.permute(0, 2, 1).dup('c') : x.trans;
        for (int n = nc - 1; n >= 0; n--) {
            INDArray dNext = dStates.get(point(n + 1));
            INDArray dS = dStates.get(point(n));
            Nd4j.exec(new Mmul(transition(transT, n, bh), dNext, dS, 1.0, 1.0, NO_TRANSPOSE));
        }
        INDArray dEnd = dStates.get(interval(1, nc + 1)).reshape('c', g, geo.dk(), geo.dv());
        dU.addi(Nd4j.matmul(x.kd, dEnd));

        // outputs O = Qd S0 + P U
        INDArray dQinter = Nd4j.matmul(dOc, starts, null, false, true, false); // dO S0ᵀ [G, C, Dk]
        INDArray dP = Nd4j.matmul(dOc, u, null, false, true, false).muli(m.incl());
        INDArray dQs;
        INDArray dK;
        INDArray dGam = null; // ∂L/∂Γ (scalar gate)
        INDArray dbIntra = null; // gla: log-decay gradient of the intra-chunk tensor
        if (op.vectorGate()) {
            dQs = Nd4j.create(dt, g, c, geo.dk());
            dK = Nd4j.create(dt, g, c, geo.dk());
            dbIntra = Nd4j.create(dt, g, c, geo.dk());
            vectorIntraBackward(geo, ch, m, dP, dQs, dK, dbIntra);
        } else {
            INDArray dPg = dP.mul(x.gam);
            dQs = Nd4j.matmul(dPg, ch.k());
            dK = Nd4j.matmul(dPg, ch.qs(), null, true, false, false);
            if (op.scalarGate()) {
                dGam = dP.mul(x.qk);
            }
        }
        dQs.addi(x.gamma == null ? dQinter : dQinter.mul(expandLast(x.gamma, geo)));
        // chunk-end state S1 = γ_L S0 + K̂ᵀ U
        INDArray dKd = Nd4j.matmul(u, dEnd, null, false, true, false); // U dS1ᵀ [G, C, Dk]
        dK.addi(x.kdec == null ? dKd : dKd.mul(expandLast(x.kdec, geo)));

        INDArray dV;
        INDArray dBeta = null;
        INDArray dbExtra = null; // scalar gate: db terms of the UT transform
        if (delta) {
            // U = Ũ − W S0;  [W | Ũ] = T [Kβγ | Vβ];  T = (I + Lm)⁻¹
            INDArray dW = Nd4j.matmul(dU, starts, null, false, true, false).negi();
            INDArray dKbg = Nd4j.matmul(x.tInv, dW, null, true, false, false);
            INDArray dVb = Nd4j.matmul(x.tInv, dU, null, true, false, false);
            INDArray dA = Nd4j.matmul(dKbg, x.w, null, false, true, false)
                    .addi(Nd4j.matmul(dVb, x.ut, null, false, true, false)).negi().muli(m.strict());
            INDArray kDotdKbg = sumLast(ch.k().mul(dKbg)); // [G, C]
            dBeta = sumLast(dA.mul(x.kk).muli(x.gamStrict))
                    .addi(x.gamma == null ? kDotdKbg : kDotdKbg.mul(x.gamma))
                    .addi(sumLast(ch.v().mul(dVb)));
            INDArray mBeta = dA.muli(ch.beta().reshape('c', g, c, 1)); // ∂L/∂(KKᵀ∘Γ) on the strict lower part
            INDArray dKK = x.gammaL == null ? mBeta : mBeta.mul(x.gam);
            dK.addi(Nd4j.matmul(dKK, ch.k())).addi(Nd4j.matmul(dKK, ch.k(), null, true, false, false));
            dK.addi(dKbg.mul(x.betaGamma.reshape('c', g, c, 1)));
            dV = dVb.muli(ch.beta().reshape('c', g, c, 1));
            if (op.scalarGate()) {
                dGam.addi(mBeta.mul(x.kk));
                dbExtra = sumLast(x.kbg.mul(dKbg));
            }
        } else {
            dV = dU;
        }

        INDArray dGate = null;
        if (op.scalarGate()) {
            // db_i = γ_i ∂L/∂γ_i + Σ_j (dΓ∘Γ)_ij − Σ_j (dΓ∘Γ)_ji − r_i, r = rowsum(K̂ ∘ dK̂); db_L += Σ r + γ_L ⟨S0, dS1⟩
            INDArray e = dGam.muli(x.gam);
            INDArray db = sumLast(x.qd.mul(dQinter)).addi(sumLast(e)).subi(sumAxis1(e));
            INDArray r = sumLast(x.kd.mul(dKd));
            db.subi(r);
            if (dbExtra != null) {
                db.addi(dbExtra);
            }
            INDArray lastExtra = sumLast(r).addi(sumLast(starts.mul(dEnd).reshape('c', g, (long) geo.dk() * geo.dv())).muli(x.gammaL));
            db.get(all(), point(geo.last())).addi(lastExtra);
            dGate = db.mmul(m.lowerOnes().reshape(c, c)); // reverse cumulative sum within the chunk
        } else if (op.vectorGate()) {
            // per key, as for the scalar gate: db = dbIntra + Q̃∘dQ̃ − K̂∘dK̂; db_L += Σ_j K̂∘dK̂ + γ_L ∘ rowsum(S0 ∘ dS1)
            INDArray r = x.kd.mul(dKd);
            INDArray db = dbIntra.addi(x.qd.mul(dQinter)).subi(r);
            INDArray lastExtra = sumAxis1(r).addi(sumLast(starts.mul(dEnd)).muli(x.gammaL));
            db.get(all(), point(geo.last()), all()).addi(lastExtra);
            dGate = alongChunk(db, m.lowerOnes(), geo);
        }

        INDArray dq = dQs.muli(geo.scale());
        INDArray dInit = dStates.get(point(0)).reshape('c', geo.b(), geo.h(), geo.dk(), geo.dv()).dup('c');
        return new LinearGrads(unchunk(geo, dq, geo.dk()), unchunk(geo, dK, geo.dk()), unchunk(geo, dV, geo.dv()),
                op.scalarGate() ? unchunk3(geo, dGate) : null, op.vectorGate() ? unchunk(geo, dGate, geo.dk()) : null,
                delta ? unchunk3(geo, dBeta) : null, dInit);
    }

    // ---------------------------------------------------------------------------------------------- pieces

    private static Geometry geometry(LinearOpConfig cfg, SeqDims d, DataType dt) {
        // a chunk longer than the sequence only adds padding
        int c = Math.min(cfg.chunkSize(), d.t());
        int nc = (d.t() + c - 1) / c;
        return new Geometry(cfg.op(), d.b(), d.t(), d.h(), d.dk(), d.dv(), c, nc, dt, cfg.scaleFor(d.dk()));
    }

    private static Chunked chunk(Geometry geo, LinearInputs in, ChunkMasks m) {
        LinearOp op = geo.op();
        INDArray qs = chunk4(geo, in.q(), geo.dk()).muli(geo.scale());
        INDArray k = chunk4(geo, in.k(), geo.dk());
        INDArray v = chunk4(geo, in.v(), geo.dv());
        INDArray beta = op.delta() ? chunk3(geo, in.beta()) : null;
        INDArray cum = null;
        if (op.scalarGate()) {
            cum = chunk3(geo, in.g()).mmul(m.upperOnes().reshape(geo.c(), geo.c()));
        } else if (op.vectorGate()) {
            cum = alongChunk(chunk4(geo, in.gk(), geo.dk()), m.upperOnes(), geo);
        }
        return new Chunked(geo, qs, k, v, beta, cum);
    }

    /**
     * {@code x[G, C, Dk]} times a {@code [C, C]} matrix along the chunk axis: {@code y[:, i, d] = Σ_s x[:, s, d] M[s, i]}
     * (cumulative sums with triangular ones).
     */
    private static INDArray alongChunk(INDArray x, INDArray mat, Geometry geo) {
        long g = geo.g();
        int c = geo.c();
        int dk = geo.dk();
        INDArray rowsByKey = x.permute(0, 2, 1).dup('c').reshape('c', g * dk, c);
        return rowsByKey.mmul(mat.reshape(c, c)).reshape('c', g, dk, c).permute(0, 2, 1).dup('c');
    }

    /** The intra-chunk quantities; {@code tInv} is the delta rules' saved T, or null to compute it. */
    private static Intra intra(Geometry geo, Chunked ch, ChunkMasks m, INDArray tInv) {
        LinearOp op = geo.op();
        long g = geo.g();
        int c = geo.c();
        Intra x = new Intra();
        if (op.scalarGate()) {
            INDArray cum = ch.cum();
            x.gamma = Transforms.exp(cum, true);
            INDArray cumL = cum.get(all(), point(geo.last())).dup('c'); // [G]
            x.gammaL = Transforms.exp(cumL, true);
            x.kdec = Transforms.exp(cum.rsub(cumL.reshape('c', g, 1)), false);
            INDArray diff = cum.reshape('c', g, c, 1).sub(cum.reshape('c', g, 1, c)).addi(m.negInf());
            x.gam = Transforms.exp(diff, false);
            x.qd = ch.qs().mul(x.gamma.reshape('c', g, c, 1));
            x.kd = ch.k().mul(x.kdec.reshape('c', g, c, 1));
        } else if (op.vectorGate()) {
            INDArray cum = ch.cum();
            x.gamma = Transforms.exp(cum, true);
            INDArray cumL = cum.get(all(), point(geo.last()), all()).dup('c'); // [G, Dk]
            x.gammaL = Transforms.exp(cumL, true);
            x.kdec = Transforms.exp(cum.rsub(cumL.reshape('c', g, 1, geo.dk())), false);
            x.qd = ch.qs().mul(x.gamma);
            x.kd = ch.k().mul(x.kdec);
        } else {
            x.gam = m.incl();
            x.qd = ch.qs();
            x.kd = ch.k();
        }
        if (op.vectorGate()) {
            x.p = vectorIntraForward(geo, ch, m);
        } else {
            x.qk = Nd4j.matmul(ch.qs(), ch.k(), null, false, true, false);
            x.p = x.qk.mul(x.gam);
        }
        if (op.delta()) {
            INDArray beta3 = ch.beta().reshape('c', g, c, 1);
            x.kk = Nd4j.matmul(ch.k(), ch.k(), null, false, true, false);
            x.gamStrict = op.scalarGate() ? x.gam.mul(m.strict()) : m.strict();
            x.tInv = tInv != null ? tInv : unitLowerInverse(x.kk.mul(x.gamStrict).muli(beta3), c, m);
            x.betaGamma = x.gamma == null ? ch.beta() : ch.beta().mul(x.gamma);
            x.kbg = ch.k().mul(x.betaGamma.reshape('c', g, c, 1));
            x.vb = ch.v().mul(beta3);
            x.w = Nd4j.matmul(x.tInv, x.kbg);
            x.ut = Nd4j.matmul(x.tInv, x.vb);
            // chunk transition M = γ_L I − K̂ᵀ W (the product of the chunk's per-token transitions)
            INDArray decay = x.gammaL == null ? identity(geo) : decayTransition(geo, x.gammaL);
            x.trans = Nd4j.matmul(x.kd, x.w, null, true, false, false).negi().addi(decay);
        } else {
            x.trans = decayTransition(geo, x.gammaL);
        }
        return x;
    }

    /**
     * {@code (I + lm)⁻¹} for strictly lower-triangular {@code lm [G, C, C]}, by recursive doubling of the exact
     * block inverse: with {@code T_s} the inverse of the block diagonal of width s,
     * {@code T_2s = T_s − T_s (lm ∘ M_s) T_s}, where {@code M_s} selects the lower-left s-blocks inside each
     * diagonal 2s-block. Stable like forward substitution (no power series), {@code log2 C} levels. When C is a
     * multiple of {@link #DIAGONAL_BLOCK} s0 (and at least 2·s0), the levels below s0 run on the diagonal blocks
     * alone (a {@code [G·C/s0, s0, s0]} batch taken with a strided view), so that only the last
     * {@code log2(C/s0)} levels pay for full {@code [C, C]} products.
     */
    private static INDArray unitLowerInverse(INDArray lm, int c, ChunkMasks m) {
        int s0 = DIAGONAL_BLOCK;
        INDArray t;
        if (c % s0 != 0 || c < 2 * s0) {
            // T_2 = I − lm ∘ M_1 (T_1 = I)
            t = lm.mul(levelMask(c, 1, lm.dataType())).negi().addi(m.eye());
            s0 = 2;
        } else {
            long g = lm.size(0);
            int nb = c / s0;
            INDArray lmc = NdBuffers.isContiguous(lm) ? lm : lm.dup('c'); // the strided view needs c layout
            INDArray blocks = diagonalBlocks(lmc, c, s0).dup('c').reshape('c', g * nb, s0, s0);
            INDArray tBlocks = unitLowerInverse(blocks, s0, ChunkMasks.of(s0, lm.dataType()));
            t = Nd4j.zeros(lm.dataType(), g, c, c);
            diagonalBlocks(t, c, s0).assign(tBlocks.reshape('c', g, nb, s0, s0));
        }
        for (int s = s0; s < c; s *= 2) {
            INDArray off = lm.mul(levelMask(c, s, lm.dataType()));
            t = t.sub(Nd4j.matmul(Nd4j.matmul(t, off), t));
        }
        return t;
    }

    /** The diagonal {@code s0 × s0} blocks of a contiguous {@code [G, C, C]} array as a view {@code [G, C/s0, s0, s0]}. */
    private static INDArray diagonalBlocks(INDArray a, int c, int s0) {
        long[] shape = {a.size(0), c / s0, s0, s0};
        long[] strides = {(long) c * c, (long) s0 * c + s0, c, 1};
        return Nd4j.create(a.data(), shape, strides, a.offset(), 'c');
    }

    /** {@code [1, C, C]}: 1 where i and j share a 2s-block, i in its second half and j in its first. */
    private static INDArray levelMask(int c, int s, DataType dt) {
        double[] a = new double[c * c];
        for (int i = 0; i < c; i++) {
            for (int j = 0; j < i; j++) {
                if (i / (2 * s) == j / (2 * s) && i / s != j / s) {
                    a[i * c + j] = 1;
                }
            }
        }
        return NdBuffers.of(dt, a, 1, c, c);
    }

    /** gla's P_ij = Σ_d qs_id k_jd exp(b_id − b_jd) (j ≤ i), in blocks of chunks to bound the [g, C, C, Dk] tensors. */
    private static INDArray vectorIntraForward(Geometry geo, Chunked ch, ChunkMasks m) {
        long g = geo.g();
        int c = geo.c();
        int dk = geo.dk();
        INDArray p = Nd4j.create(geo.dt(), g, c, c);
        long block = Math.max(1, VECTOR_BLOCK_ELEMENTS / ((long) c * c * dk));
        for (long g0 = 0; g0 < g; g0 += block) {
            long g1 = Math.min(g, g0 + block);
            long gb = g1 - g0;
            INDArray d4 = keyDecays(ch.cum().get(interval(g0, g1)), gb, c, dk, m);
            INDArray q4 = ch.qs().get(interval(g0, g1)).reshape('c', gb, c, 1, dk);
            INDArray k4 = ch.k().get(interval(g0, g1)).reshape('c', gb, 1, c, dk);
            p.get(interval(g0, g1)).assign(sumLast(d4.muli(q4).muli(k4)));
        }
        return p;
    }

    /**
     * Gradients of gla's P (intra-chunk part) with respect to qs and k, and the log-decay gradient
     * {@code db_id = Σ_j E_ijd − Σ_j E_jid}, {@code E_ijd = dP_ij qs_id k_jd exp(b_id − b_jd)} for j &lt; i, summed
     * directly (not as {@code q∘dq − k∘dk}, whose diagonal terms cancel only up to rounding); written into
     * dQs, dK and db.
     */
    private static void vectorIntraBackward(Geometry geo, Chunked ch, ChunkMasks m, INDArray dP, INDArray dQs,
            INDArray dK, INDArray db) {
        long g = geo.g();
        int c = geo.c();
        int dk = geo.dk();
        INDArray strict4 = m.strict().reshape('c', 1, c, c, 1);
        long block = Math.max(1, VECTOR_BLOCK_ELEMENTS / ((long) c * c * dk));
        for (long g0 = 0; g0 < g; g0 += block) {
            long g1 = Math.min(g, g0 + block);
            long gb = g1 - g0;
            INDArray dp4 = keyDecays(ch.cum().get(interval(g0, g1)), gb, c, dk, m)
                    .muli(dP.get(interval(g0, g1)).reshape('c', gb, c, c, 1));
            INDArray q4 = ch.qs().get(interval(g0, g1)).reshape('c', gb, c, 1, dk);
            INDArray k4 = ch.k().get(interval(g0, g1)).reshape('c', gb, 1, c, dk);
            INDArray dpk = dp4.mul(k4);
            dQs.get(interval(g0, g1)).assign(sumAxis1(dpk.reshape('c', gb * c, c, dk)).reshape('c', gb, c, dk));
            INDArray e = dpk.muli(q4).muli(strict4);
            db.get(interval(g0, g1)).assign(sumAxis1(e.reshape('c', gb * c, c, dk)).reshape('c', gb, c, dk)
                    .subi(sumAxis1(e)));
            dK.get(interval(g0, g1)).assign(sumAxis1(dp4.muli(q4)));
        }
    }

    /**
     * Sum over the last axis, {@code [..., n] → [...]}, as one matrix-vector product: ND4J's axis reductions were
     * measured 5–10× slower than BLAS on these shapes.
     */
    private static INDArray sumLast(INDArray x) {
        long[] shape = x.shape();
        long n = shape[shape.length - 1];
        INDArray ones = Nd4j.ones(x.dataType(), n, 1);
        return x.reshape('c', x.length() / n, n).mmul(ones).reshape('c', Arrays.copyOf(shape, shape.length - 1));
    }

    /** Sum over axis 1, {@code [G, A, R...] → [G, R...]}, as one batched product with ones (see {@link #sumLast}). */
    private static INDArray sumAxis1(INDArray x) {
        long[] shape = x.shape();
        long g = shape[0];
        long a = shape[1];
        long[] out = new long[shape.length - 1];
        out[0] = g;
        System.arraycopy(shape, 2, out, 1, shape.length - 2);
        INDArray ones = Nd4j.ones(x.dataType(), g, a, 1);
        return Nd4j.matmul(x.reshape('c', g, a, x.length() / (g * a)), ones, null, true, false, false).reshape('c', out);
    }

    /** {@code exp(b_id − b_jd)} for j ≤ i, else 0: {@code [gb, C, C, Dk]} from cumulative decays {@code [gb, C, Dk]}. */
    private static INDArray keyDecays(INDArray cum, long gb, int c, int dk, ChunkMasks m) {
        INDArray diff = cum.reshape('c', gb, c, 1, dk).sub(cum.reshape('c', gb, 1, c, dk));
        diff.addi(m.negInf().reshape('c', 1, c, c, 1));
        return Transforms.exp(diff, false);
    }

    /** Rows of chunk n ({@code B·H} consecutive entries along the first axis): a contiguous view. */
    private static INDArray rows(INDArray a, int n, int bh) {
        return a.get(interval((long) n * bh, (long) (n + 1) * bh));
    }

    /**
     * The decay part of the chunk transition, {@code diag(γ_L)}: {@code [G, Dk, Dk]}, or one identity
     * {@code [B·H, Dk, Dk]} shared by all chunks when there is no gate. The state passing multiplies by it with an
     * accumulating matmul (one BLAS call per chunk) rather than elementwise ops, whose thread start-up costs more
     * than the arithmetic on these sizes.
     */
    private static INDArray decayTransition(Geometry geo, INDArray gammaL) {
        int dk = geo.dk();
        if (gammaL == null) {
            return Nd4j.zeros(geo.dt(), geo.bh(), dk, dk).addi(identity(geo));
        }
        return identity(geo).mul(gammaL.rank() == 1 ? gammaL.reshape('c', geo.g(), 1, 1)
                : gammaL.reshape('c', geo.g(), dk, 1));
    }

    /** {@code I [1, Dk, Dk]}. */
    private static INDArray identity(Geometry geo) {
        return Nd4j.eye(geo.dk()).castTo(geo.dt()).reshape('c', 1, geo.dk(), geo.dk());
    }

    /** The transition of chunk n: its {@code B·H} rows, or the shared identity. */
    private static INDArray transition(INDArray trans, int n, int bh) {
        return trans.size(0) == bh ? trans : rows(trans, n, bh);
    }

    /** A scalar-per-token {@code [G, C]} array as {@code [G, C, 1]}; per-key {@code [G, C, Dk]} unchanged. */
    private static INDArray expandLast(INDArray a, Geometry geo) {
        return a.rank() == 2 ? a.reshape('c', geo.g(), geo.c(), 1) : a;
    }

    /** {@code [B, T, H, D]} → {@code [NC·B·H, C, D]} (chunk-major), zero-padded to NC·C tokens, in the compute type. */
    private static INDArray chunk4(Geometry geo, INDArray x, int dim) {
        INDArray src = x.dataType() == geo.dt() ? x : x.castTo(geo.dt());
        int tp = geo.nc() * geo.c();
        INDArray padded;
        if (tp == geo.t()) {
            padded = src;
        } else {
            padded = Nd4j.zeros(geo.dt(), geo.b(), tp, geo.h(), dim);
            padded.get(all(), interval(0, geo.t()), all(), all()).assign(src);
        }
        return padded.reshape('c', geo.b(), geo.nc(), geo.c(), geo.h(), dim).permute(1, 0, 3, 2, 4).dup('c')
                .reshape('c', geo.g(), geo.c(), dim);
    }

    /** {@code [B, T, H]} → {@code [NC·B·H, C]}. */
    private static INDArray chunk3(Geometry geo, INDArray x) {
        return chunk4(geo, x.reshape('c', geo.b(), geo.t(), geo.h(), 1), 1).reshape('c', geo.g(), geo.c());
    }

    /** {@code [NC·B·H, C, D]} → {@code [B, T, H, D]} (padding dropped). */
    private static INDArray unchunk(Geometry geo, INDArray y, int dim) {
        int tp = geo.nc() * geo.c();
        INDArray full = y.reshape('c', geo.nc(), geo.b(), geo.h(), geo.c(), dim).permute(1, 0, 3, 2, 4).dup('c')
                .reshape('c', geo.b(), tp, geo.h(), dim);
        return tp == geo.t() ? full : full.get(all(), interval(0, geo.t()), all(), all()).dup('c');
    }

    /** {@code [NC·B·H, C]} → {@code [B, T, H]}. */
    private static INDArray unchunk3(Geometry geo, INDArray y) {
        return unchunk(geo, y.reshape('c', geo.g(), geo.c(), 1), 1).reshape('c', geo.b(), geo.t(), geo.h());
    }
}
