package io.mnemo.modules.titans;

import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.nn.ChunkMasks;
import io.mnemo.core.kernel.LoopWorkspace;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The {@code nd4j} backend of the Titans memory: Behrouz, Zhong and Mirrokni 2024, "Titans: Learning to
 * Memorize at Test Time", eqs. 9–15 (momentum, forgetting, L2 inner loss, retrieval) in the chunked form of
 * its §3.2 (every inner gradient of a chunk taken at the chunk-start memory), written as large batched ND4J
 * operations so that it runs unchanged on ND4J's CPU and CUDA backends. Same semantics as
 * {@link CpuTitansKernel} and the double {@link ReferenceTitansKernel} (docs/modules/titans.md §3–5); computes
 * in the data type of q (FLOAT or DOUBLE).
 *
 * <h2>Layout</h2>
 * The virtual sequence (the open chunk's buffered tokens, then this call's tokens; q is zero on the buffered
 * rows, which are never read) is cut into {@code NC} chunks of {@code Cp = min(C, TV)} tokens, the last one
 * zero-padded (θ = 0, α = 0: padded tokens write nothing, and every chunk quantity is causal, so they never
 * reach a real token), and laid out chunk-major as {@code [NC, G, Cp, ·]} with {@code G = B·H}. A Java loop
 * runs over the chunks (the chunk-start memory of chunk n+1 depends non-linearly on chunk n); inside a chunk
 * every operation is one batched op over all G heads and all Cp tokens:
 * <pre>
 *   inner gradients at W = M_0 (per layer l, [G, Cp, ·] batched matmuls):
 *     Z_l = In_l W_lᵀ, In_{l+1} = σ(Z_l) (In_0 = K);  Δ_L = M_0(K) − V;  E_l = Δ_{l+1} W_{l+1}, Δ_l = E_l ⊙ σ'(Z_l)
 *     ‖g_t‖² = Σ_l ‖Δ_l[t]‖² ‖In_l[t]‖²,  f = c / max(‖g‖, c) (clamp),  u = θ f
 *   running memories in the basis {W, S, g_0 … g_{Cp−1}} (g_i = Σ_l Δ_l[i] In_l[i]ᵀ):
 *     M_t = mA_t W + mB_t S + Σ_{i≤t} Γ[t,i] g_i,   S_t = sE_t S + Σ_{i≤t} Σ[t,i] g_i
 *     A[t,j] = Π_{j<k≤t} a_k (a = 1 − α),  EP[t,i] = Π_{i<k≤t} η_k   (C×C lower-triangular, from cumulative
 *     log sums: a matmul with triangular ones, exp of the masked differences, −∞ above the diagonal)
 *     mA = exp(cumsum log a), sE = exp(cumsum log η), mB = A sE, Γ = −(A EP) diag(u), Σ = −EP diag(u)
 *   PER_TOKEN reads, per layer (X_0 = Q):  ZR_l = diag(mA) X_l W_lᵀ + diag(mB) X_l S_lᵀ + (Γ ⊙ X_l In_lᵀ) Δ_l
 *   COMMITTED reads:                       ZR_l = X_l W_lᵀ
 *   chunk end:  M_C = mA W + mB S + Δ_lᵀ diag(Γ[C−1]) In_l,   S_C = sE S + Δ_lᵀ diag(Σ[C−1]) In_l
 * </pre>
 * The gate-only factors (A, EP, A·EP, mA, mB, sE) do not depend on the memory: they are computed once for all
 * chunks before the loop, as batched {@code [NC·G, Cp, Cp]} ops; only the clamp factor in u is per chunk.
 * Without momentum EP is the identity and the S terms vanish.
 *
 * <h2>Backward</h2>
 * Hand-derived (SameDiff has no second-order gradients); the same equations as the cpu kernel
 * (docs/modules/titans.md §5), batched. The forward keeps every chunk-start memory and momentum
 * ({@code [NC + 1, G, rows, cols]} per layer); backward walks the chunks in reverse, recomputes the chunk's
 * inner gradients and reads from its checkpoint and runs their transposes (commit, reads, clamp, the inner
 * backward with σ''), keeping the adjoints of the coefficients ({@code dmA, dmB, dΓ, dΣ[C−1], dsE}) per chunk.
 * After the loop one batched pass turns those into dθ, dη, dα for all chunks at once: through
 * {@code Γ = −(A EP) diag(u)}, {@code mB = A sE} and the products themselves, differentiated without any division
 * by a gate: {@code ∂P[t,j]/∂x_k = P[t,k] P[k−1,j]}, so {@code dx = colsum(P ⊙ (dP Qᵀ))} with Q = P shifted down
 * one row (two batched matmuls), plus the prefix products' term.
 *
 * <p>Numerics: a gate of exactly 0 (η = 0 or α = 1) enters the forward's logarithms as a floor (1e-30 in
 * FLOAT, 1e-300 in DOUBLE): products containing it are then ~0, as they should be; the backward never divides
 * by a gate (a derivative through d(log x)/x would turn rounding residues into 1e283). A negative η or α > 1 (a negative
 * factor, no logarithm) is rejected with an {@link IllegalArgumentException}; η > 1 and α < 0 work.
 */
public final class Nd4jTitansKernel implements TitansKernel {
    /** Loop workspaces of the chunk loops ({@link LoopWorkspace}). */
    private static final String WS_FORWARD = "mnemo-nd4j-titans-forward";
    private static final String WS_BACKWARD = "mnemo-nd4j-titans-backward";

    /** Sizes of one call in the chunk layout. */
    private record Geo(TitansOpConfig cfg, MemoryLayout m, int b, int t, int h, int d, int n0, int tv, int c, int cp,
            int nc, int complete, DataType dt) {
        int g() {
            return b * h;
        }

        boolean mom() {
            return cfg.momentum();
        }

        boolean perToken() {
            return cfg.readMode() == TitansReadMode.PER_TOKEN;
        }

        int depth() {
            return m.depth();
        }

        /** Real (unpadded) tokens of chunk n. */
        int tokens(int n) {
            return Math.min(c, tv - n * c);
        }

        /** First row of chunk n that is read (the incoming buffer's rows are not). */
        int firstRead(int n) {
            return Math.max(0, n0 - n * c);
        }

        double floor() {
            return dt == DataType.DOUBLE ? 1e-300 : 1e-30;
        }
    }

    /**
     * The virtual sequence in chunk layout: q, k, v {@code [NC, G, Cp, D]}; θ, η (null without momentum) and
     * a = 1 − α {@code [NC, G, Cp]} (chunk means for CHUNK gates); and the virtual {@code [B, TV, ·]} arrays the
     * outgoing buffer is cut from.
     */
    private record Chunked(INDArray q, INDArray k, INDArray v, INDArray theta, INDArray eta, INDArray a,
            INDArray kVirt, INDArray vVirt, INDArray thetaVirt, INDArray etaVirt, INDArray alphaVirt) {}

    /**
     * Gate-only factors of every chunk: A, EP (null without momentum), Γ' = A·EP {@code [NC, G, Cp, Cp]}; mA, mB,
     * sE {@code [NC, G, Cp]} (mB, sE null without momentum).
     */
    private record Coefs(INDArray aMat, INDArray ep, INDArray gp, INDArray mA, INDArray mB, INDArray sE) {}

    /** What backward needs: the chunked inputs, the gate factors, the chunk-start memory and momentum per layer. */
    record Saved(Geo geo, Chunked ch, Coefs co, List<INDArray> ckW, List<INDArray> ckS) {}

    /** Marker of a forward over an empty virtual sequence. */
    private record Empty(TitansDims dims) {}

    @Override
    public TitansForward forward(TitansOpConfig cfg, TitansDims d, TitansInputs in, boolean save) {
        DataType dt = in.q().dataType();
        MemoryLayout m = cfg.layout(d.d());
        TitansState s0 = in.initialState() == null ? TitansState.zeros(cfg, d.b(), d.h(), d.d(), dt)
                : in.initialState();
        if (d.virtualLength() == 0) {
            return new TitansForward(Nd4j.create(dt, d.b(), 0, d.h(), d.d()), copyState(s0), cfg, d, in,
                    save ? new Empty(d) : null);
        }
        Geo geo = geometry(cfg, m, d, dt);
        ChunkMasks mk = ChunkMasks.of(geo.cp(), dt);
        Chunked ch = chunk(geo, in, s0);
        Coefs co = coefficients(geo, ch, mk);
        int g = geo.g();
        int slots = save ? geo.nc() + 1 : 2;
        List<INDArray> ckW = new ArrayList<>();
        List<INDArray> ckS = geo.mom() ? new ArrayList<>() : null;
        for (int l = 0; l < geo.depth(); l++) {
            INDArray w = Nd4j.create(dt, slots, g, m.rows(l), m.cols(l));
            w.get(point(0)).assign(s0.memory().get(l).reshape('c', g, m.rows(l), m.cols(l)));
            ckW.add(w);
            if (ckS != null) {
                INDArray s = Nd4j.create(dt, slots, g, m.rows(l), m.cols(l));
                s.get(point(0)).assign(s0.momentum().get(l).reshape('c', g, m.rows(l), m.cols(l)));
                ckS.add(s);
            }
        }
        INDArray yc = Nd4j.zeros(dt, geo.nc(), g, geo.cp(), geo.d());
        for (int n = 0; n < geo.nc(); n++) {
            boolean complete = n < geo.complete();
            boolean anyRead = geo.firstRead(n) < geo.tokens(n);
            if (!complete && !anyRead) {
                break;
            }
            // the chunk's temporaries live in a loop workspace; results go into yc and the checkpoints
            try (MemoryWorkspace ws = LoopWorkspace.enter(WS_FORWARD)) {
                Chunk x = new Chunk(geo, ch, co, mk, n, layers(ckW, slot(n, save)), ckS == null ? null : layers(ckS,
                        slot(n, save)));
                if (!complete && !geo.perToken()) {
                    // the open chunk only reads the committed memory
                    yc.get(point(n)).assign(x.reads(false));
                    break;
                }
                x.inner();
                if (anyRead) {
                    yc.get(point(n)).assign(x.reads(geo.perToken()));
                }
                if (complete) {
                    x.commit(layers(ckW, slot(n + 1, save)), ckS == null ? null : layers(ckS, slot(n + 1, save)));
                }
            }
        }
        INDArray y = tokens(unchunk(geo, yc, geo.d()), geo.n0(), geo.tv());
        int fin = slot(geo.complete(), save);
        List<INDArray> mem = new ArrayList<>();
        List<INDArray> mom = ckS == null ? null : new ArrayList<>();
        for (int l = 0; l < geo.depth(); l++) {
            mem.add(ckW.get(l).get(point(fin)).reshape('c', geo.b(), geo.h(), m.rows(l), m.cols(l)).dup('c'));
            if (mom != null) {
                mom.add(ckS.get(l).get(point(fin)).reshape('c', geo.b(), geo.h(), m.rows(l), m.cols(l)).dup('c'));
            }
        }
        int e = geo.complete() * geo.c();
        boolean buf = e < geo.tv();
        TitansState fs = new TitansState(mem, mom, buf ? tokens(ch.kVirt(), e, geo.tv()) : null,
                buf ? tokens(ch.vVirt(), e, geo.tv()) : null, buf ? tokens(ch.thetaVirt(), e, geo.tv()) : null,
                buf && ch.etaVirt() != null ? tokens(ch.etaVirt(), e, geo.tv()) : null,
                buf ? tokens(ch.alphaVirt(), e, geo.tv()) : null);
        return new TitansForward(y, fs, cfg, d, in, save ? new Saved(geo, ch, co, ckW, ckS) : null);
    }

    @Override
    public TitansGrads backward(TitansForward fwd, INDArray dY, TitansState dFinalState) {
        if (fwd.saved() instanceof Empty e) {
            return emptyGrads(fwd, e.dims(), dFinalState);
        }
        if (!(fwd.saved() instanceof Saved sv)) {
            throw new IllegalArgumentException("backward needs a forward run by the nd4j backend with save=true");
        }
        Geo geo = sv.geo();
        Chunked ch = sv.ch();
        Coefs co = sv.co();
        MemoryLayout m = geo.m();
        DataType dt = geo.dt();
        int g = geo.g();
        int nc = geo.nc();
        int cp = geo.cp();
        int depth = geo.depth();
        boolean mom = geo.mom();
        ChunkMasks mk = ChunkMasks.of(cp, dt);
        INDArray dyc = null;
        if (dY != null && dY.length() > 0) {
            INDArray dyv = dY.castTo(dt);
            if (geo.n0() > 0) {
                dyv = Nd4j.concat(1, Nd4j.zeros(dt, geo.b(), geo.n0(), geo.h(), geo.d()), dyv);
            }
            dyc = chunk4(geo, dyv, geo.d());
        }
        // adjoints of the running chunk end (first: the final state's)
        List<INDArray> dM = new ArrayList<>();
        List<INDArray> dS = mom ? new ArrayList<>() : null;
        for (int l = 0; l < depth; l++) {
            dM.add(layerGrad(dFinalState == null ? null : dFinalState.memory(), l, geo));
            if (mom) {
                dS.add(layerGrad(dFinalState == null ? null : dFinalState.momentum(), l, geo));
            }
        }
        // chunk-layout adjoints
        INDArray dq = Nd4j.zeros(dt, nc, g, cp, geo.d());
        INDArray dk = Nd4j.zeros(dt, nc, g, cp, geo.d());
        INDArray dv = Nd4j.zeros(dt, nc, g, cp, geo.d());
        INDArray dThetaC = Nd4j.zeros(dt, nc, g, cp);
        INDArray dGamC = Nd4j.zeros(dt, nc, g, cp, cp);
        INDArray dmAC = Nd4j.zeros(dt, nc, g, cp);
        INDArray dmBC = mom ? Nd4j.zeros(dt, nc, g, cp) : null;
        INDArray dSigC = mom ? Nd4j.zeros(dt, nc, g, cp) : null;
        INDArray dsEC = mom ? Nd4j.zeros(dt, nc, g, cp) : null;
        INDArray uC = Nd4j.zeros(dt, nc, g, cp);
        for (int n = nc - 1; n >= 0; n--) {
            // the chunk's temporaries live in a loop workspace; adjoints go into arrays allocated before the loop
            try (MemoryWorkspace ws = LoopWorkspace.enter(WS_BACKWARD)) {
                boolean complete = n < geo.complete();
                boolean anyRead = dyc != null && geo.firstRead(n) < geo.tokens(n);
                boolean written = complete || geo.perToken();
                if (!complete && (!anyRead || !geo.perToken())) {
                    if (anyRead) {
                        // the open chunk of COMMITTED reads: only reads of the committed memory (its start)
                        Chunk x = new Chunk(geo, ch, co, mk, n, layers(sv.ckW(), n), null);
                        x.reads(false);
                        Chunk.Adj a = x.new Adj(null, null);
                        x.readsBackward(false, dyc.get(point(n)), a);
                        dq.get(point(n)).assign(a.dq);
                        addAll(dM, a.dW);
                    }
                    continue;
                }
                Chunk x = new Chunk(geo, ch, co, mk, n, layers(sv.ckW(), n), mom ? layers(sv.ckS(), n) : null);
                x.inner();
                Chunk.Adj a = x.new Adj(dmAC.get(point(n)), mom ? dmBC.get(point(n)) : null);
                if (complete) {
                    x.commitBackward(dM, dS, a, dsEC == null ? null : dsEC.get(point(n)));
                }
                if (anyRead) {
                    x.reads(geo.perToken());
                    x.readsBackward(geo.perToken(), dyc.get(point(n)), a);
                    dq.get(point(n)).assign(a.dq);
                }
                // du_i = −Σ_t dΓ[t,i] Γ'[t,i] − dΣ[C−1,i] EP[C−1,i]
                INDArray du = sumAxis1(a.dGam.mul(x.gp)).negi();
                if (mom && complete) {
                    du.subi(a.dSig.mul(x.epLast()));
                }
                dThetaC.get(point(n)).assign(du.mul(x.f));
                if (geo.cfg().clamp()) {
                    x.clampBackward(du, a);
                }
                x.innerBackward(a);
                dk.get(point(n)).assign(a.dk);
                dv.get(point(n)).assign(a.dv);
                dGamC.get(point(n)).assign(a.dGam);
                if (mom && complete) {
                    dSigC.get(point(n)).assign(a.dSig);
                }
                uC.get(point(n)).assign(x.u);
                // adjoints of this chunk's start: a complete chunk's end adjoints went through it; an open
                // chunk's start is the final committed state, whose incoming adjoints add directly
                if (complete) {
                    for (int l = 0; l < depth; l++) {
                        dM.get(l).assign(a.dW.get(l));
                        if (mom) {
                            dS.get(l).assign(a.dS0.get(l));
                        }
                    }
                } else if (written) {
                    addAll(dM, a.dW);
                    if (mom) {
                        addAll(dS, a.dS0);
                    }
                }
            }
        }
        INDArray[] dGates = gatesBackward(geo, co, mk, ch, dGamC, dmAC, dmBC, dSigC, dsEC, uC);
        INDArray dTheta = dThetaC;
        INDArray dEta = dGates[1];
        INDArray dAlpha = dGates[0];
        if (geo.cfg().gates() == TitansGateGranularity.CHUNK) {
            // a chunk-mean gate spreads its gradient equally over the chunk's tokens
            dTheta = spread(dTheta, geo);
            dAlpha = spread(dAlpha, geo);
            dEta = dEta == null ? null : spread(dEta, geo);
        }
        // back to the virtual sequence [B, TV, ·], plus the outgoing buffer's adjoints
        INDArray dkV = unchunk(geo, dk, geo.d());
        INDArray dvV = unchunk(geo, dv, geo.d());
        INDArray dThV = unchunk3(geo, dTheta);
        INDArray dEtV = dEta == null ? null : unchunk3(geo, dEta);
        INDArray dAlV = unchunk3(geo, dAlpha);
        int e = geo.complete() * geo.c();
        if (dFinalState != null && e < geo.tv()) {
            addTokens(dkV, e, dFinalState.bufK());
            addTokens(dvV, e, dFinalState.bufV());
            addTokens(dThV, e, dFinalState.bufTheta());
            if (dEtV != null) {
                addTokens(dEtV, e, dFinalState.bufEta());
            }
            addTokens(dAlV, e, dFinalState.bufAlpha());
        }
        int n0 = geo.n0();
        int tv = geo.tv();
        List<INDArray> dMem = new ArrayList<>();
        List<INDArray> dMom = mom ? new ArrayList<>() : null;
        for (int l = 0; l < depth; l++) {
            dMem.add(dM.get(l).reshape('c', geo.b(), geo.h(), m.rows(l), m.cols(l)).dup('c'));
            if (mom) {
                dMom.add(dS.get(l).reshape('c', geo.b(), geo.h(), m.rows(l), m.cols(l)).dup('c'));
            }
        }
        TitansState dInit = new TitansState(dMem, dMom, n0 == 0 ? null : tokens(dkV, 0, n0),
                n0 == 0 ? null : tokens(dvV, 0, n0), n0 == 0 ? null : tokens(dThV, 0, n0),
                n0 == 0 || dEtV == null ? null : tokens(dEtV, 0, n0), n0 == 0 ? null : tokens(dAlV, 0, n0));
        INDArray dqV = unchunk(geo, dq, geo.d());
        return new TitansGrads(tokens(dqV, n0, tv), tokens(dkV, n0, tv), tokens(dvV, n0, tv), tokens(dThV, n0, tv),
                dEtV == null ? null : tokens(dEtV, n0, tv), tokens(dAlV, n0, tv), dInit);
    }

    // ------------------------------------------------------------------------------------------- one chunk

    /** The forward quantities of chunk n (all {@code [G, Cp, ·]}), recomputed by backward from the checkpoint. */
    private static final class Chunk {
        final Geo geo;
        final ChunkMasks mk;
        final int depth;
        final boolean res;
        final boolean mom;
        final TitansActivation act;
        final List<INDArray> w;
        final List<INDArray> s;
        final INDArray q;
        final INDArray k;
        final INDArray v;
        final INDArray theta;
        final INDArray mA;
        final INDArray mB;
        final INDArray sE;
        final INDArray gp;
        final INDArray ep;
        // inner forward/backward at W: In_l [G, Cp, cols], Z_l, E_l, Δ_l [G, Cp, rows], σ'(Z_l), σ''(Z_l)
        final INDArray[] in;
        final INDArray[] z;
        final INDArray[] e;
        final INDArray[] dl;
        final INDArray[] d1z;
        final INDArray[] d2z;
        final INDArray[] inSq;
        final INDArray[] dlSq;
        INDArray norm;
        INDArray f;
        INDArray u;
        INDArray gam;
        // reads: X_l, X W_lᵀ, X S_lᵀ, G_l = X In_lᵀ, H_l = Γ ⊙ G_l, σ'(ZR_l)
        final INDArray[] x;
        final INDArray[] pw;
        final INDArray[] ps;
        final INDArray[] gm;
        final INDArray[] hh;
        final INDArray[] d1r;

        Chunk(Geo geo, Chunked ch, Coefs co, ChunkMasks mk, int n, List<INDArray> w, List<INDArray> s) {
            this.geo = geo;
            this.mk = mk;
            this.depth = geo.depth();
            this.res = geo.m().residual();
            this.mom = geo.mom();
            this.act = geo.cfg().activation();
            this.w = w;
            this.s = s;
            q = ch.q().get(point(n));
            k = ch.k().get(point(n));
            v = ch.v().get(point(n));
            theta = ch.theta().get(point(n));
            mA = co.mA().get(point(n));
            mB = mom ? co.mB().get(point(n)) : null;
            sE = mom ? co.sE().get(point(n)) : null;
            gp = co.gp().get(point(n));
            ep = mom ? co.ep().get(point(n)) : null;
            in = new INDArray[depth];
            z = new INDArray[depth];
            e = new INDArray[depth];
            dl = new INDArray[depth];
            d1z = new INDArray[depth];
            d2z = new INDArray[depth];
            inSq = new INDArray[depth];
            dlSq = new INDArray[depth];
            x = new INDArray[depth];
            pw = new INDArray[depth];
            ps = new INDArray[depth];
            gm = new INDArray[depth];
            hh = new INDArray[depth];
            d1r = new INDArray[depth];
        }

        int last() {
            return geo.cp() - 1;
        }

        /** Number of weights of layer l. */
        long size(int l) {
            return (long) geo.m().rows(l) * geo.m().cols(l);
        }

        /** Inner forward and backward of W on the chunk's keys; ‖g‖, clamp factors f, u = θ f, Γ. */
        void inner() {
            in[0] = k;
            for (int l = 0; l < depth; l++) {
                z[l] = mm(in[l], w.get(l), false, true);
                if (l < depth - 1) {
                    INDArray[] a = activate(act, z[l], true);
                    in[l + 1] = a[0];
                    d1z[l] = a[1];
                    d2z[l] = a[2];
                }
            }
            INDArray last = z[depth - 1].dup();
            if (res) {
                last.addi(k);
            }
            dl[depth - 1] = last.subi(v);
            for (int l = depth - 2; l >= 0; l--) {
                e[l] = mm(dl[l + 1], w.get(l + 1), false, false);
                dl[l] = e[l].mul(d1z[l]);
            }
            INDArray n2 = null;
            for (int l = 0; l < depth; l++) {
                inSq[l] = sumLast(in[l].mul(in[l]));
                dlSq[l] = sumLast(dl[l].mul(dl[l]));
                INDArray t = inSq[l].mul(dlSq[l]);
                n2 = n2 == null ? t : n2.addi(t);
            }
            if (geo.cfg().clamp()) {
                double c = geo.cfg().maxGradNorm();
                norm = Transforms.sqrt(n2, false);
                f = Transforms.max(norm, c, true).rdivi(c);
                u = theta.mul(f);
            } else {
                f = Nd4j.ones(geo.dt(), geo.g(), geo.cp());
                u = theta;
            }
            gam = gp.mul(u.reshape('c', geo.g(), 1, geo.cp())).negi();
        }

        /** Row C−1 of EP {@code [G, Cp]}. */
        INDArray epLast() {
            return ep.get(all(), point(last()), all());
        }

        /** Reads of the chunk's rows at the running memories (PER_TOKEN) or at W: y {@code [G, Cp, D]}. */
        INDArray reads(boolean running) {
            x[0] = q;
            INDArray zr = null;
            long g = geo.g();
            int cp = geo.cp();
            for (int l = 0; l < depth; l++) {
                if (!running) {
                    zr = mm(x[l], w.get(l), false, true);
                } else {
                    pw[l] = mm(x[l], w.get(l), false, true);
                    zr = pw[l].mul(mA.reshape('c', g, cp, 1));
                    if (mom) {
                        ps[l] = mm(x[l], s.get(l), false, true);
                        zr.addi(ps[l].mul(mB.reshape('c', g, cp, 1)));
                    }
                    gm[l] = mm(x[l], in[l], false, true);
                    hh[l] = gm[l].mul(gam);
                    zr.addi(mm(hh[l], dl[l], false, false));
                }
                if (l < depth - 1) {
                    INDArray[] a = activate(act, zr, false);
                    x[l + 1] = a[0];
                    d1r[l] = a[1];
                }
            }
            return res ? zr.add(q) : zr;
        }

        /** The committed memory and momentum at the end of the (complete) chunk, written into wNew, sNew. */
        void commit(List<INDArray> wNew, List<INDArray> sNew) {
            long g = geo.g();
            int cp = geo.cp();
            int e1 = last();
            INDArray gl = gam.get(all(), point(e1), all()).reshape('c', g, cp, 1);
            INDArray sl = mom ? epLast().mul(u).negi().reshape('c', g, cp, 1) : null;
            INDArray a = mA.get(all(), point(e1)).reshape('c', g, 1, 1);
            INDArray b = mom ? mB.get(all(), point(e1)).reshape('c', g, 1, 1) : null;
            INDArray se = mom ? sE.get(all(), point(e1)).reshape('c', g, 1, 1) : null;
            for (int l = 0; l < depth; l++) {
                INDArray wn = mm(dl[l].mul(gl), in[l], true, false).addi(w.get(l).mul(a));
                if (mom) {
                    wn.addi(s.get(l).mul(b));
                    sNew.get(l).assign(mm(dl[l].mul(sl), in[l], true, false).addi(s.get(l).mul(se)));
                }
                wNew.get(l).assign(wn);
            }
        }

        /** Adjoints of one chunk: of its start (dW, dS0), factors (dΔ, dIn), coefficients, and dq, dk, dv. */
        final class Adj {
            final List<INDArray> dW = new ArrayList<>();
            final List<INDArray> dS0 = new ArrayList<>();
            final INDArray[] dDl = new INDArray[depth];
            final INDArray[] dIn = new INDArray[depth];
            final INDArray dmA;
            final INDArray dmB;
            final INDArray dGam;
            INDArray dSig;
            INDArray dq;
            INDArray dk;
            INDArray dv;

            /** dmA, dmB: views to accumulate into (null: scratch). */
            Adj(INDArray dmA, INDArray dmB) {
                DataType dt = geo.dt();
                long g = geo.g();
                int cp = geo.cp();
                MemoryLayout m = geo.m();
                for (int l = 0; l < depth; l++) {
                    dW.add(Nd4j.zeros(dt, g, m.rows(l), m.cols(l)));
                    dS0.add(mom ? Nd4j.zeros(dt, g, m.rows(l), m.cols(l)) : null);
                    dDl[l] = Nd4j.zeros(dt, g, cp, m.rows(l));
                    dIn[l] = Nd4j.zeros(dt, g, cp, m.cols(l));
                }
                this.dmA = dmA == null ? Nd4j.zeros(dt, g, cp) : dmA;
                this.dmB = dmB == null && mom ? Nd4j.zeros(dt, g, cp) : dmB;
                dGam = Nd4j.zeros(dt, g, cp, cp);
            }
        }

        /** Backward of {@link #commit} from the end adjoints dMe, dSe; dsE[C−1] into dsE. */
        void commitBackward(List<INDArray> dMe, List<INDArray> dSe, Adj a, INDArray dsE) {
            long g = geo.g();
            int cp = geo.cp();
            int e1 = last();
            INDArray am = mA.get(all(), point(e1)).reshape('c', g, 1, 1);
            INDArray dmAe = Nd4j.zeros(geo.dt(), g);
            INDArray dmBe = mom ? Nd4j.zeros(geo.dt(), g) : null;
            INDArray dsEe = mom ? Nd4j.zeros(geo.dt(), g) : null;
            for (int l = 0; l < depth; l++) {
                a.dW.get(l).addi(dMe.get(l).mul(am));
                dmAe.addi(sumLast(dMe.get(l).mul(w.get(l)).reshape('c', g, size(l))));
                if (mom) {
                    INDArray bm = mB.get(all(), point(e1)).reshape('c', g, 1, 1);
                    INDArray se = sE.get(all(), point(e1)).reshape('c', g, 1, 1);
                    a.dS0.get(l).addi(dMe.get(l).mul(bm)).addi(dSe.get(l).mul(se));
                    dmBe.addi(sumLast(dMe.get(l).mul(s.get(l)).reshape('c', g, size(l))));
                    dsEe.addi(sumLast(dSe.get(l).mul(s.get(l)).reshape('c', g, size(l))));
                }
            }
            a.dmA.get(all(), point(e1)).addi(dmAe);
            if (mom) {
                a.dmB.get(all(), point(e1)).addi(dmBe);
                dsE.get(all(), point(e1)).addi(dsEe);
            }
            INDArray gl = gam.get(all(), point(e1), all()).reshape('c', g, cp, 1);
            INDArray dGl = a.dGam.get(all(), point(e1), all());
            dGl.addi(endBackward(dMe, gl, a));
            if (mom) {
                INDArray sl = epLast().mul(u).negi().reshape('c', g, cp, 1);
                a.dSig = endBackward(dSe, sl, a);
            }
        }

        /**
         * Backward of {@code Σ_l Δ_lᵀ diag(coef) In_l} given its adjoint dE per layer: dΔ, dIn accumulate into a;
         * returns d(coef) {@code [G, Cp]}.
         */
        private INDArray endBackward(List<INDArray> dE, INDArray coef, Adj a) {
            INDArray dc = null;
            for (int l = 0; l < depth; l++) {
                // PM = In dEᵀ:  d(coef[i]) += Δ[i]·PM[i];  dΔ[i] += coef[i] PM[i];  dIn += diag(coef) Δ dE
                INDArray pm = mm(in[l], dE.get(l), false, true);
                INDArray t = sumLast(dl[l].mul(pm));
                dc = dc == null ? t : dc.addi(t);
                a.dDl[l].addi(pm.muli(coef));
                a.dIn[l].addi(mm(dl[l].mul(coef), dE.get(l), false, false));
            }
            return dc;
        }

        /** Backward of {@link #reads} given dy {@code [G, Cp, D]}; sets a.dq. */
        void readsBackward(boolean running, INDArray dy, Adj a) {
            long g = geo.g();
            int cp = geo.cp();
            INDArray dz = dy;
            INDArray dx = null;
            for (int l = depth - 1; l >= 0; l--) {
                if (!running) {
                    a.dW.get(l).addi(mm(dz, x[l], true, false));
                    dx = mm(dz, w.get(l), false, false);
                } else {
                    a.dmA.addi(sumLast(dz.mul(pw[l])));
                    INDArray ta = dz.mul(mA.reshape('c', g, cp, 1));
                    a.dW.get(l).addi(mm(ta, x[l], true, false));
                    dx = mm(ta, w.get(l), false, false);
                    if (mom) {
                        a.dmB.addi(sumLast(dz.mul(ps[l])));
                        INDArray tb = dz.mul(mB.reshape('c', g, cp, 1));
                        a.dS0.get(l).addi(mm(tb, x[l], true, false));
                        dx.addi(mm(tb, s.get(l), false, false));
                    }
                    // dH = dZR Δ_lᵀ (causal);  dΓ += dH ⊙ G_l;  dG = dH ⊙ Γ
                    INDArray dH = mm(dz, dl[l], false, true).muli(mk.incl());
                    a.dGam.addi(dH.mul(gm[l]));
                    INDArray dG = dH.muli(gam);
                    a.dDl[l].addi(mm(hh[l], dz, true, false));
                    dx.addi(mm(dG, in[l], false, false));
                    a.dIn[l].addi(mm(dG, x[l], true, false));
                }
                if (l >= 1) {
                    dz = dx.mul(d1r[l - 1]);
                }
            }
            a.dq = res ? dx.addi(dy) : dx;
        }

        /** The clamp's derivative: {@code dΔ_l[t] += β ‖In_l[t]‖² Δ_l[t]}, {@code dIn_l[t] += β ‖Δ_l[t]‖² In_l[t]}. */
        void clampBackward(INDArray du, Adj a) {
            long g = geo.g();
            int cp = geo.cp();
            double c = geo.cfg().maxGradNorm();
            // β = −θ du c / ‖g‖³ where the clamp is active (‖g‖ > c)
            INDArray active = norm.gt(c).castTo(geo.dt());
            INDArray n3 = Transforms.max(norm, c, true);
            n3.muli(n3).muli(Transforms.max(norm, c, true));
            INDArray beta = theta.mul(du).muli(active).divi(n3).muli(-c);
            for (int l = 0; l < depth; l++) {
                a.dDl[l].addi(dl[l].mul(beta.mul(inSq[l]).reshape('c', g, cp, 1)));
                a.dIn[l].addi(in[l].mul(beta.mul(dlSq[l]).reshape('c', g, cp, 1)));
            }
        }

        /** Batched backward of {@link #inner} given dΔ, dIn: second-order terms into dW; sets a.dk, a.dv. */
        void innerBackward(Adj a) {
            INDArray[] dZ = new INDArray[depth];
            for (int l = 0; l < depth - 1; l++) {
                INDArray dE = a.dDl[l].mul(d1z[l]);
                dZ[l] = a.dDl[l].mul(e[l]).muli(d2z[l]);
                // dW_{l+1} += Δ_{l+1}ᵀ dE;  dΔ_{l+1} += dE W_{l+1}ᵀ
                a.dW.get(l + 1).addi(mm(dl[l + 1], dE, true, false));
                a.dDl[l + 1].addi(mm(dE, w.get(l + 1), false, true));
            }
            INDArray dLast = a.dDl[depth - 1];
            dZ[depth - 1] = dLast.dup();
            for (int l = depth - 1; l >= 0; l--) {
                a.dW.get(l).addi(mm(dZ[l], in[l], true, false));
                a.dIn[l].addi(mm(dZ[l], w.get(l), false, false));
                if (l >= 1) {
                    dZ[l - 1].addi(a.dIn[l].mul(d1z[l - 1]));
                }
            }
            a.dk = res ? a.dIn[0].add(dLast) : a.dIn[0];
            a.dv = dLast.neg();
        }
    }

    // ------------------------------------------------------------------------------------------- gates

    /**
     * The gate-only factors of all chunks at once ({@code [NC·G, Cp, Cp]} batches): cumulative log sums as
     * matmuls with triangular ones, masked exponentials of their differences.
     */
    private static Coefs coefficients(Geo geo, Chunked ch, ChunkMasks mk) {
        long rows = (long) geo.nc() * geo.g();
        int cp = geo.cp();
        INDArray ca = logs(ch.a(), geo).reshape('c', rows, cp).mmul(mk.upperOnes().reshape(cp, cp));
        INDArray mA = Transforms.exp(ca, true);
        INDArray aMat = segmentProducts(ca, rows, cp, mk);
        INDArray ep = null;
        INDArray mB = null;
        INDArray sE = null;
        INDArray gp;
        if (geo.mom()) {
            INDArray ce = logs(ch.eta(), geo).reshape('c', rows, cp).mmul(mk.upperOnes().reshape(cp, cp));
            sE = Transforms.exp(ce, true);
            ep = segmentProducts(ce, rows, cp, mk);
            mB = Nd4j.matmul(aMat, sE.reshape('c', rows, cp, 1)).reshape('c', rows, cp);
            gp = Nd4j.matmul(aMat, ep);
        } else {
            gp = aMat;
        }
        long[] s3 = {geo.nc(), geo.g(), cp, cp};
        long[] s2 = {geo.nc(), geo.g(), cp};
        return new Coefs(aMat.reshape('c', s3), ep == null ? null : ep.reshape('c', s3), gp.reshape('c', s3),
                mA.reshape('c', s2), mB == null ? null : mB.reshape('c', s2), sE == null ? null : sE.reshape('c', s2));
    }

    /** {@code log(max(x, floor))}. */
    private static INDArray logs(INDArray x, Geo geo) {
        return Transforms.log(Transforms.max(x, geo.floor(), true), false);
    }

    /** {@code P[t, j] = exp(cum_t − cum_j)} for j ≤ t, else 0: {@code [rows, Cp, Cp]}. */
    private static INDArray segmentProducts(INDArray cum, long rows, int cp, ChunkMasks mk) {
        INDArray diff = cum.reshape('c', rows, cp, 1).sub(cum.reshape('c', rows, 1, cp)).addi(mk.negInf());
        return Transforms.exp(diff, false);
    }

    /**
     * From the coefficient adjoints of all chunks to dα, dη {@code [NC, G, Cp]} (index 0: dα, 1: dη or null).
     * Γ = −Γ' diag(u), Σ[C−1] = −EP[C−1] ⊙ u, Γ' = A EP, mB = A sE, A and EP masked exponentials of cumulative
     * log sums, mA = exp(ca), sE = exp(ce).
     */
    private static INDArray[] gatesBackward(Geo geo, Coefs co, ChunkMasks mk, Chunked ch, INDArray dGam, INDArray dmA,
            INDArray dmB, INDArray dSig, INDArray dsE, INDArray u) {
        long rows = (long) geo.nc() * geo.g();
        int cp = geo.cp();
        INDArray u3 = u.reshape('c', rows, 1, cp);
        INDArray dGp = dGam.reshape('c', rows, cp, cp).mul(u3).negi();
        INDArray aMat = co.aMat().reshape('c', rows, cp, cp);
        INDArray dA;
        INDArray dEta = null;
        if (geo.mom()) {
            INDArray ep = co.ep().reshape('c', rows, cp, cp);
            INDArray sE = co.sE().reshape('c', rows, cp);
            dA = mm(dGp, ep, false, true).addi(dmB.reshape('c', rows, cp, 1).mul(sE.reshape('c', rows, 1, cp)));
            INDArray dEp = mm(aMat, dGp, true, false);
            // Σ[C−1] = −EP[C−1] ⊙ u
            dEp.get(all(), point(cp - 1), all()).subi(dSig.reshape('c', rows, cp).mul(u.reshape('c', rows, cp)));
            INDArray dsEt = mm(aMat, dmB.reshape('c', rows, cp, 1), true, false).reshape('c', rows, cp)
                    .addi(dsE.reshape('c', rows, cp));
            dEta = productBackward(dEp, ep, dsEt, sE, mk, rows, cp).reshape('c', geo.nc(), geo.g(), cp);
        } else {
            dA = dGp;
        }
        // a = 1 − α
        INDArray dAlpha = productBackward(dA, aMat, dmA.reshape('c', rows, cp), co.mA().reshape('c', rows, cp), mk,
                rows, cp).negi().reshape('c', geo.nc(), geo.g(), cp);
        return new INDArray[] {dAlpha, dEta};
    }

    /**
     * Adjoint of the factors x_k of the segment products {@code P[t, j] = Π_{j<m≤t} x_m} (lower-triangular) and
     * the prefix products {@code pre_t = Π_{m≤t} x_m}, given dP and dPre, without dividing by x_k (exact when
     * a factor is 0): {@code ∂P[t, j]/∂x_k = P[t, k] P[k−1, j]} for j < k ≤ t, so
     * {@code dx_k = Σ_t P[t, k] (dP Qᵀ)[t, k] + pre_{k−1} (Pᵀ dPre)_k} with {@code Q[k, j] = P[k−1, j]}.
     */
    private static INDArray productBackward(INDArray dP, INDArray p, INDArray dPre, INDArray pre, ChunkMasks mk,
            long rows, int cp) {
        DataType dt = p.dataType();
        INDArray q = Nd4j.zeros(dt, rows, cp, cp);
        INDArray prev = Nd4j.ones(dt, rows, cp);
        if (cp > 1) {
            q.get(all(), interval(1, cp), all()).assign(p.get(all(), interval(0, cp - 1), all()));
            prev.get(all(), interval(1, cp)).assign(pre.get(all(), interval(0, cp - 1)));
        }
        // only the causal part of dP belongs to P (its upper part is a constant 0)
        INDArray inner = mm(dP.mul(mk.incl()), q, false, true);
        INDArray dx = sumAxis1(inner.muli(p));
        INDArray pt = mm(p, dPre.reshape('c', rows, cp, 1), true, false).reshape('c', rows, cp);
        return dx.addi(pt.muli(prev));
    }

    /** CHUNK gates: every token of a chunk gets the chunk's summed adjoint divided by C. */
    private static INDArray spread(INDArray d, Geo geo) {
        INDArray mean = sumLast(d).divi(geo.c());
        return Nd4j.zeros(d.dataType(), d.shape()).addi(mean.reshape('c', geo.nc(), geo.g(), 1));
    }

    // ------------------------------------------------------------------------------------------- layout

    private static Geo geometry(TitansOpConfig cfg, MemoryLayout m, TitansDims d, DataType dt) {
        int tv = d.virtualLength();
        int c = cfg.chunkSize();
        int cp = Math.min(c, tv);
        int nc = (tv + c - 1) / c;
        return new Geo(cfg, m, d.b(), d.t(), d.h(), d.d(), d.buffered(), tv, c, cp, nc, tv / c, dt);
    }

    private static Chunked chunk(Geo geo, TitansInputs in, TitansState s0) {
        DataType dt = geo.dt();
        int n0 = geo.n0();
        INDArray kV = virtual(n0 == 0 ? null : s0.bufK(), in.k(), dt);
        INDArray vV = virtual(n0 == 0 ? null : s0.bufV(), in.v(), dt);
        INDArray thV = virtual(n0 == 0 ? null : s0.bufTheta(), in.theta(), dt);
        INDArray etV = geo.mom() ? virtual(n0 == 0 ? null : s0.bufEta(), in.eta(), dt) : null;
        INDArray alV = virtual(n0 == 0 ? null : s0.bufAlpha(), in.alpha(), dt);
        INDArray qV = virtual(n0 == 0 ? null : Nd4j.zeros(dt, geo.b(), n0, geo.h(), geo.d()), in.q(), dt);
        INDArray theta = chunk3(geo, thV);
        INDArray eta = etV == null ? null : chunk3(geo, etV);
        INDArray alpha = chunk3(geo, alV);
        if (geo.cfg().gates() == TitansGateGranularity.CHUNK) {
            // every token of a complete chunk uses the chunk's mean gates (incomplete chunks never write here)
            theta = chunkMean(theta, geo);
            eta = eta == null ? null : chunkMean(eta, geo);
            alpha = chunkMean(alpha, geo);
        }
        // the cumulative products run in log space: a negative factor has no logarithm
        if (alV.length() > 0 && alV.maxNumber().doubleValue() > 1) {
            throw new IllegalArgumentException("the nd4j backend needs alpha <= 1 (1 - alpha is a factor of a "
                    + "cumulative product taken in log space), got max alpha " + alV.maxNumber());
        }
        if (etV != null && etV.length() > 0 && etV.minNumber().doubleValue() < 0) {
            throw new IllegalArgumentException("the nd4j backend needs eta >= 0 (a factor of a cumulative product "
                    + "taken in log space), got min eta " + etV.minNumber());
        }
        return new Chunked(chunk4(geo, qV, geo.d()), chunk4(geo, kV, geo.d()), chunk4(geo, vV, geo.d()), theta, eta,
                alpha.rsub(1.0), kV, vV, thV, etV, alV);
    }

    private static INDArray chunkMean(INDArray x, Geo geo) {
        INDArray mean = sumLast(x).divi(geo.cp());
        return Nd4j.zeros(x.dataType(), x.shape()).addi(mean.reshape('c', geo.nc(), geo.g(), 1));
    }

    /** The buffered tokens followed by this call's along axis 1, in the compute type. */
    private static INDArray virtual(INDArray head, INDArray tail, DataType dt) {
        INDArray t = tail.dataType() == dt ? tail : tail.castTo(dt);
        if (head == null) {
            return t;
        }
        INDArray h = head.dataType() == dt ? head : head.castTo(dt);
        return tail.size(1) == 0 ? h : Nd4j.concat(1, h, t);
    }

    /** {@code [B, TV, H, D]} → {@code [NC, G, Cp, D]}, zero-padded to NC·Cp tokens. */
    private static INDArray chunk4(Geo geo, INDArray x, int dim) {
        int tp = geo.nc() * geo.cp();
        INDArray padded;
        if (tp == geo.tv()) {
            padded = x;
        } else {
            padded = Nd4j.zeros(geo.dt(), geo.b(), tp, geo.h(), dim);
            padded.get(all(), interval(0, geo.tv()), all(), all()).assign(x);
        }
        return padded.reshape('c', geo.b(), geo.nc(), geo.cp(), geo.h(), dim).permute(1, 0, 3, 2, 4).dup('c')
                .reshape('c', geo.nc(), geo.g(), geo.cp(), dim);
    }

    /** {@code [B, TV, H]} → {@code [NC, G, Cp]}. */
    private static INDArray chunk3(Geo geo, INDArray x) {
        return chunk4(geo, x.reshape('c', geo.b(), geo.tv(), geo.h(), 1), 1).reshape('c', geo.nc(), geo.g(), geo.cp());
    }

    /** {@code [NC, G, Cp, D]} → {@code [B, TV, H, D]} (padding dropped). */
    private static INDArray unchunk(Geo geo, INDArray y, int dim) {
        int tp = geo.nc() * geo.cp();
        INDArray full = y.reshape('c', geo.nc(), geo.b(), geo.h(), geo.cp(), dim).permute(1, 0, 3, 2, 4).dup('c')
                .reshape('c', geo.b(), tp, geo.h(), dim);
        return tp == geo.tv() ? full : full.get(all(), interval(0, geo.tv()), all(), all()).dup('c');
    }

    /** {@code [NC, G, Cp]} → {@code [B, TV, H]}. */
    private static INDArray unchunk3(Geo geo, INDArray y) {
        return unchunk(geo, y.reshape('c', geo.nc(), geo.g(), geo.cp(), 1), 1).reshape('c', geo.b(), geo.tv(), geo.h());
    }

    /** Tokens [from, to) of a {@code [B, TV, …]} array, as a new c-ordered array. */
    private static INDArray tokens(INDArray a, int from, int to) {
        if (from == to) {
            long[] shape = a.shape().clone();
            shape[1] = 0;
            return Nd4j.create(a.dataType(), shape);
        }
        if (a.rank() == 4) {
            return a.get(all(), interval(from, to), all(), all()).dup('c');
        }
        return a.get(all(), interval(from, to), all()).dup('c');
    }

    /** Adds a buffer gradient {@code [B, n, …]} (or null) to tokens [from, from + n) of a virtual adjoint. */
    private static void addTokens(INDArray dst, int from, INDArray g) {
        if (g == null) {
            return;
        }
        INDArray gg = g.castTo(dst.dataType());
        long to = from + g.size(1);
        if (dst.rank() == 4) {
            dst.get(all(), interval(from, to), all(), all()).addi(gg);
        } else {
            dst.get(all(), interval(from, to), all()).addi(gg);
        }
    }

    private static int slot(int n, boolean save) {
        return save ? n : n % 2;
    }

    /** Slot i of every layer's checkpoint array: {@code [G, rows, cols]} views. */
    private static List<INDArray> layers(List<INDArray> ck, int i) {
        List<INDArray> out = new ArrayList<>();
        for (INDArray a : ck) {
            out.add(a.get(point(i)));
        }
        return out;
    }

    private static INDArray layerGrad(List<INDArray> layers, int l, Geo geo) {
        MemoryLayout m = geo.m();
        if (layers == null || layers.get(l) == null) {
            return Nd4j.zeros(geo.dt(), geo.g(), m.rows(l), m.cols(l));
        }
        return layers.get(l).castTo(geo.dt()).reshape('c', geo.g(), m.rows(l), m.cols(l)).dup('c');
    }

    private static void addAll(List<INDArray> dst, List<INDArray> src) {
        for (int l = 0; l < dst.size(); l++) {
            dst.get(l).addi(src.get(l));
        }
    }

    private static TitansState copyState(TitansState s) {
        return new TitansState(s.memory().stream().map(INDArray::dup).toList(),
                s.momentum() == null ? null : s.momentum().stream().map(INDArray::dup).toList(), dupOrNull(s.bufK()),
                dupOrNull(s.bufV()), dupOrNull(s.bufTheta()), dupOrNull(s.bufEta()), dupOrNull(s.bufAlpha()));
    }

    private static INDArray dupOrNull(INDArray a) {
        return a == null ? null : a.dup('c');
    }

    /** Gradients of a call over an empty virtual sequence: the final state's adjoint flows to the initial state. */
    private static TitansGrads emptyGrads(TitansForward fwd, TitansDims d, TitansState dFin) {
        DataType dt = fwd.inputs().q().dataType();
        TitansOpConfig cfg = fwd.config();
        TitansState z = TitansState.zeros(cfg, d.b(), d.h(), d.d(), dt);
        List<INDArray> mem = new ArrayList<>();
        List<INDArray> mom = cfg.momentum() ? new ArrayList<>() : null;
        for (int l = 0; l < z.memory().size(); l++) {
            INDArray gm = dFin == null || dFin.memory().get(l) == null ? null : dFin.memory().get(l);
            mem.add(gm == null ? z.memory().get(l) : gm.castTo(dt).dup('c'));
            if (mom != null) {
                INDArray gs = dFin == null || dFin.momentum() == null ? null : dFin.momentum().get(l);
                mom.add(gs == null ? z.momentum().get(l) : gs.castTo(dt).dup('c'));
            }
        }
        INDArray e4 = Nd4j.create(dt, d.b(), 0, d.h(), d.d());
        INDArray e3 = Nd4j.create(dt, d.b(), 0, d.h());
        return new TitansGrads(e4, e4.dup(), e4.dup(), e3, cfg.momentum() ? e3.dup() : null, e3.dup(),
                new TitansState(mem, mom, null, null, null, null, null));
    }

    // ------------------------------------------------------------------------------------------- ops

    /** Batched matmul {@code op(a) op(b)} over the leading axis. */
    private static INDArray mm(INDArray a, INDArray b, boolean ta, boolean tb) {
        return Nd4j.matmul(a, b, null, ta, tb, false);
    }

    /**
     * σ(z), σ'(z) and (with {@code second}) σ''(z) of the activation, elementwise.
     *
     * @return {value, first derivative, second derivative or null}
     */
    static INDArray[] activate(TitansActivation act, INDArray z, boolean second) {
        if (act == TitansActivation.SILU) {
            INDArray sg = Transforms.sigmoid(z, true);
            INDArray val = z.mul(sg);
            INDArray oneMinus = sg.rsub(1.0);
            // σ' = s (1 + z (1 − s))
            INDArray d1 = z.mul(oneMinus).addi(1.0).muli(sg);
            INDArray d2 = null;
            if (second) {
                // σ'' = s (1 − s) (2 + z (1 − 2 s))
                INDArray ds = sg.mul(oneMinus);
                d2 = sg.mul(-2.0).addi(1.0).muli(z).addi(2.0).muli(ds);
            }
            return new INDArray[] {val, d1, d2};
        }
        double kk = Math.sqrt(2.0 / Math.PI);
        double aa = 0.044715;
        INDArray z2 = z.mul(z);
        INDArray th = Transforms.tanh(z2.mul(aa).addi(1.0).muli(z).muli(kk), false);
        INDArray du = z2.mul(3 * aa).addi(1.0).muli(kk);
        INDArray sech2 = th.mul(th).rsubi(1.0);
        INDArray val = th.add(1.0).muli(z).muli(0.5);
        // σ' = ½(1 + th) + ½ z sech² u'
        INDArray d1 = sech2.mul(du).muli(z).muli(0.5).addi(th.add(1.0).muli(0.5));
        INDArray d2 = null;
        if (second) {
            // σ'' = sech² u' + ½ z sech² (u'' − 2 th u'²),  u'' = 6 K A z
            INDArray ddu = z.mul(6 * kk * aa);
            INDArray inner = th.mul(du).muli(du).muli(-2.0).addi(ddu);
            d2 = inner.muli(sech2).muli(z).muli(0.5).addi(sech2.mul(du));
        }
        return new INDArray[] {val, d1, d2};
    }

    /** Sum over the last axis, {@code [..., n] → [...]}, as a matrix-vector product (faster than ND4J's reductions). */
    private static INDArray sumLast(INDArray x) {
        long[] shape = x.shape();
        long n = shape[shape.length - 1];
        INDArray ones = Nd4j.ones(x.dataType(), n, 1);
        INDArray xc = NdBuffers.isContiguous(x) ? x : x.dup('c');
        return xc.reshape('c', x.length() / n, n).mmul(ones).reshape('c', Arrays.copyOf(shape, shape.length - 1));
    }

    /** Sum over axis 1 of {@code [G, A, R]} → {@code [G, R]}. */
    private static INDArray sumAxis1(INDArray x) {
        long g = x.size(0);
        long a = x.size(1);
        INDArray ones = Nd4j.ones(x.dataType(), g, a, 1);
        return Nd4j.matmul(x, ones, null, true, false, false).reshape('c', g, x.size(2));
    }


    // ------------------------------------------------------------------------------------------- read

    /**
     * {@link TitansOps#read} on this backend: {@code y = M(q)} with the given weights for every token, batched
     * over all heads and tokens; with {@code dY}, its gradients into {@code grads = {dq, dMemory l…}}.
     *
     * @param q {@code [B, T, H, D]}; memory one {@code [B, H, rows(l), cols(l)]} per layer
     * @return y {@code [B, T, H, D]}
     */
    static INDArray read(TitansOpConfig cfg, INDArray q, List<INDArray> memory, INDArray dY, INDArray[] grads) {
        DataType dt = q.dataType();
        int b = (int) q.size(0);
        int t = (int) q.size(1);
        int h = (int) q.size(2);
        int d = (int) q.size(3);
        MemoryLayout m = cfg.layout(d);
        int depth = m.depth();
        long g = (long) b * h;
        if (t == 0) {
            if (grads != null) {
                grads[0] = Nd4j.create(dt, b, 0, h, d);
                for (int l = 0; l < depth; l++) {
                    grads[1 + l] = Nd4j.zeros(dt, b, h, m.rows(l), m.cols(l));
                }
            }
            return Nd4j.create(dt, b, 0, h, d);
        }
        List<INDArray> w = new ArrayList<>();
        for (int l = 0; l < depth; l++) {
            w.add(memory.get(l).castTo(dt).reshape('c', g, m.rows(l), m.cols(l)));
        }
        INDArray qg = q.permute(0, 2, 1, 3).dup('c').reshape('c', g, t, d);
        INDArray[] xs = new INDArray[depth];
        INDArray[] d1 = new INDArray[depth];
        xs[0] = qg;
        INDArray zr = null;
        for (int l = 0; l < depth; l++) {
            zr = mm(xs[l], w.get(l), false, true);
            if (l < depth - 1) {
                INDArray[] a = activate(cfg.activation(), zr, false);
                xs[l + 1] = a[0];
                d1[l] = a[1];
            }
        }
        INDArray y = m.residual() ? zr.addi(qg) : zr;
        if (grads != null) {
            INDArray dy = dY.castTo(dt).permute(0, 2, 1, 3).dup('c').reshape('c', g, t, d);
            INDArray dz = dy;
            INDArray dx = null;
            for (int l = depth - 1; l >= 0; l--) {
                grads[1 + l] = mm(dz, xs[l], true, false).reshape('c', b, h, m.rows(l), m.cols(l));
                dx = mm(dz, w.get(l), false, false);
                if (l >= 1) {
                    dz = dx.mul(d1[l - 1]);
                }
            }
            if (m.residual()) {
                dx.addi(dy);
            }
            grads[0] = dx.reshape('c', b, h, t, d).permute(0, 2, 1, 3).dup('c');
        }
        return y.reshape('c', b, h, t, d).permute(0, 2, 1, 3).dup('c');
    }
}
