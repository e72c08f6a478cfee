package io.mnemo.modules.memmamba;

import io.mnemo.core.Mixer;
import io.mnemo.core.NdBuffers;
import io.mnemo.core.Parameter;
import io.mnemo.core.Shapes;
import io.mnemo.core.nn.Fn;
import io.mnemo.core.nn.Init;
import io.mnemo.modules.mamba.Mamba1Block;
import io.mnemo.modules.mamba.Mamba1State;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A stack of L MemMamba layers as one {@link Mixer} (Wang et al. 2025, "MemMamba: Rethinking Memory
 * Patterns in State Space Model", §4; no public code exists, so every unstated choice below is
 * Mnemo's and is listed in docs/modules/memmamba.md). One mixer, because a layer's cross-layer
 * attention reads the note pools of the earlier layers.
 *
 * <p>Input {@code x [B, T, D]} (in a language model: the normalised residual stream). With
 * {@code x⁰ = x}, for each layer l = 0..L−1 and token t (σ = logistic sigmoid):
 * <pre>
 *   u_t   = RMSNorm_mem(x_t)                                   pre-norm of the memory path
 *   i_t   = w_imp · u_t + b_imp                                token importance (note block)
 *   j_t   = w_st · u_t + b_st                                  state importance (read gate)
 *   s_t   = σ(i_t) · (u_t W_sum)                               summary, W_sum [D, Ds]
 *   c_t   = MHA(q = u_t W_q;  k, v = P_{t−1} W_k, P_{t−1} W_v) W_o     P_{t−1}: the pool before t's write
 *   g_t   = σ(j_t) · 1[j_t > τ₂]                               (c_t g_t = 0 if P_{t−1} is empty)
 *   e_t   = MHA(q = u_t W_qx; k, v = ∪_{l'&lt;l} P^{l'}_t W_kx, … W_vx) W_ox   only if l ≥ 1, l mod p = p−1
 *   x'_t  = x_t + g_t c_t + e_t                                residual fusion
 *   m_t   = Mamba1(RMSNorm(x'))_t                              Mamba-1 block, carried conv and scan state
 *   x^{l+1}_t = x_t + m_t
 *   note: if i_t > τ₁, s_t enters the pool (after the read), FIFO or PRIORITY eviction at K entries
 * </pre>
 * The output is the sum of the layers' residual branches, {@code y = x^L − x⁰ = Σ_l m^l}, so the stack
 * behaves as one residual branch inside a language model's {@code h + mixer(norm(h))}.
 *
 * <p>Causality: {@code i_t, j_t, q_t} depend on {@code x_t} only and the own-layer read sees entries
 * written strictly before t; the cross-layer read sees earlier layers' pools after their write at t
 * (those layers have already processed token t). Neither depends on the layer's own Mamba output, so
 * the pool work runs as one O(T·L·K·Ds) Java loop per layer and each Mamba-1 block processes the whole
 * sequence at once (the paper gates its read with the state importance of the SSM state itself; that
 * would interleave reads and the scan token by token).
 *
 * <p>Gradients flow through the summaries' values (so {@code σ(i_t)} trains w_imp, b_imp), through
 * both attentions and the gate value {@code σ(j_t)}; the discrete decisions (write or not, which entry
 * is evicted, the read indicator) are constants of the forward, replayed exactly in the backward
 * from the saved scores. {@link #backward} is exact for those decisions and returns the gradient
 * with respect to the incoming pools' summaries, scores and Mamba states (counts are integers and get
 * zeros). A stored score is a copy of {@code i_t}, so a gradient on an outgoing score flows to
 * {@code i_t} (or to the incoming score it copies); inside the stack scores feed only discrete
 * decisions, so a downstream backward always hands zeros there.
 */
public final class MemMambaStack implements Mixer<MemMambaState> {
    private static final double EPS = 1e-6;

    private final MemMambaConfig cfg;
    private final List<Layer> layers = new ArrayList<>();
    private final List<Parameter> params = new ArrayList<>();

    /** One inner layer's parameters. The cross-layer projections are null unless the layer attends across layers. */
    private static final class Layer {
        Parameter normMem;
        Parameter wImp;
        Parameter bImp;
        Parameter wSum;
        Parameter wSt;
        Parameter bSt;
        Parameter wq;
        Parameter wk;
        Parameter wv;
        Parameter wo;
        Parameter xq;
        Parameter xk;
        Parameter xv;
        Parameter xo;
        Parameter norm;
        Mamba1Block mamba;
    }

    /**
     * Builds the stack. Initialisation: RMSNorm weights 1; {@code w_imp, w_st ~ N(0, 1/D)} and zero
     * biases (so {@code i_t, j_t} start near N(0, 1) on normalised inputs and τ = 0 writes/reads about
     * half of the tokens); {@code W_sum, W_q, W_qx ~ N(0, 1/D)}; {@code W_k, W_v, W_kx, W_vx ~ N(0, 1/Ds)};
     * {@code W_o, W_ox ~ N(0, 1/Ds)}; each Mamba-1 block as mamba_ssm ({@link MemMambaConfig#mambaConfig}).
     */
    public MemMambaStack(MemMambaConfig cfg) {
        this.cfg = Objects.requireNonNull(cfg, "cfg");
        Random rng = new Random(cfg.seed());
        DataType t = cfg.dataType();
        int d = cfg.dModel();
        int ds = cfg.summaryDim();
        double sd = 1 / Math.sqrt(d);
        double ss = 1 / Math.sqrt(ds);
        for (int l = 0; l < cfg.layers(); l++) {
            String p = "layers." + l + ".";
            Layer ly = new Layer();
            ly.normMem = add(p + "norm_mem.weight", Nd4j.ones(t, d));
            ly.wImp = add(p + "note.w_imp", Init.normal(t, rng, sd, d));
            ly.bImp = add(p + "note.b_imp", Nd4j.zeros(t, 1));
            ly.wSum = add(p + "note.w_sum", Init.normal(t, rng, sd, d, ds));
            ly.wSt = add(p + "read.w_state", Init.normal(t, rng, sd, d));
            ly.bSt = add(p + "read.b_state", Nd4j.zeros(t, 1));
            ly.wq = add(p + "read.w_q", Init.normal(t, rng, sd, d, ds));
            ly.wk = add(p + "read.w_k", Init.normal(t, rng, ss, ds, ds));
            ly.wv = add(p + "read.w_v", Init.normal(t, rng, ss, ds, ds));
            ly.wo = add(p + "read.w_o", Init.normal(t, rng, ss, ds, d));
            if (cfg.crossLayerAt(l)) {
                ly.xq = add(p + "cross.w_q", Init.normal(t, rng, sd, d, ds));
                ly.xk = add(p + "cross.w_k", Init.normal(t, rng, ss, ds, ds));
                ly.xv = add(p + "cross.w_v", Init.normal(t, rng, ss, ds, ds));
                ly.xo = add(p + "cross.w_o", Init.normal(t, rng, ss, ds, d));
            }
            ly.norm = add(p + "norm.weight", Nd4j.ones(t, d));
            ly.mamba = new Mamba1Block(cfg.mambaConfig(l));
            for (Parameter mp : ly.mamba.parameters()) {
                params.add(new Parameter(p + "mamba." + mp.name(), mp.value(), mp.grad()));
            }
            layers.add(ly);
        }
    }

    private Parameter add(String name, INDArray v) {
        Parameter p = Parameter.of(name, v);
        params.add(p);
        return p;
    }

    /** The configuration. */
    public MemMambaConfig config() {
        return cfg;
    }

    /** The Mamba-1 block of inner layer {@code l} (its parameters are also in {@link #parameters()}). */
    public Mamba1Block mambaBlock(int l) {
        return layers.get(l).mamba;
    }

    @Override
    public int dModel() {
        return cfg.dModel();
    }

    /**
     * The parameters, named {@code layers.<l>.{norm_mem.weight, note.w_imp [D], note.b_imp [1],
     * note.w_sum [D, Ds], read.w_state [D], read.b_state [1], read.w_q [D, Ds], read.w_k [Ds, Ds],
     * read.w_v [Ds, Ds], read.w_o [Ds, D], cross.w_q/w_k/w_v/w_o (cross-layer layers only),
     * norm.weight, mamba.<Mamba1Block names>}}.
     */
    @Override
    public List<Parameter> parameters() {
        return List.copyOf(params);
    }

    @Override
    public MemMambaState initialState(int batch) {
        Shapes.requirePositive("batch", batch);
        List<NotePool> pools = new ArrayList<>();
        List<Mamba1State> ms = new ArrayList<>();
        for (Layer ly : layers) {
            pools.add(new NotePool(Nd4j.zeros(cfg.dataType(), batch, cfg.poolSize(), cfg.summaryDim()),
                    Nd4j.zeros(cfg.dataType(), batch, cfg.poolSize()), Nd4j.zeros(DataType.INT, batch)));
            ms.add(ly.mamba.initialState(batch));
        }
        return new MemMambaState(pools, ms);
    }

    /** Everything one layer's backward (and later layers' cross-layer attention) needs. */
    private static final class LayerFwd {
        INDArray x;
        INDArray u;
        INDArray ru;
        double[] iScore;
        double[] jScore;
        double[] sig;
        INDArray r;
        INDArray s;
        double[] sD;
        INDArray pin;
        double[] pinD;
        PoolKernel.Schedule sched;
        double[] q;
        double[] kt;
        double[] vt;
        double[] kp;
        double[] vp;
        INDArray a;
        INDArray c;
        double[] gate;
        double[] qx;
        double[][] kx;
        double[][] vx;
        double[][] kxp;
        double[][] vxp;
        INDArray ax;
        INDArray xp;
        INDArray rz;
        Forward<Mamba1State> mamba;
        int reads;
        int crossReads;
        double readMargin = Double.POSITIVE_INFINITY;
    }

    private record Saved(List<LayerFwd> layers, int b, int t, MemMambaTrace trace) {}

    /**
     * The pool statistics of a training forward ({@code forward(…, training = true)}).
     *
     * @throws IllegalArgumentException for a forward without training or with T = 0
     */
    public static MemMambaTrace trace(Forward<MemMambaState> fwd) {
        if (fwd == null || !(fwd.saved() instanceof Saved s)) {
            throw new IllegalArgumentException("trace needs a forward pass of a MemMambaStack run with training=true"
                    + " and T > 0");
        }
        return s.trace();
    }

    @Override
    public Forward<MemMambaState> forward(INDArray x, MemMambaState state, boolean training) {
        Shapes.require("x", x, "[B, T, D]", Shapes.ANY, Shapes.ANY, cfg.dModel());
        if (x.dataType() != cfg.dataType()) {
            throw new IllegalArgumentException("x has data type " + x.dataType() + ", the stack was built for "
                    + cfg.dataType());
        }
        int b = (int) x.size(0);
        int t = (int) x.size(1);
        if (b == 0) {
            throw new IllegalArgumentException("x has shape " + java.util.Arrays.toString(x.shape())
                    + ", expected a batch B >= 1");
        }
        MemMambaState s = state == null ? initialState(b) : state;
        validateState("state", s, b);
        if (t == 0) {
            return new Forward<>(x.dup(), s.copy(), null);
        }
        int d = cfg.dModel();
        long rows = (long) b * t;
        INDArray xl = x.dup('c').reshape(rows, d);
        INDArray y = Nd4j.zeros(cfg.dataType(), rows, d);
        List<LayerFwd> fwds = new ArrayList<>();
        List<NotePool> pools = new ArrayList<>();
        List<Mamba1State> ms = new ArrayList<>();
        for (int l = 0; l < cfg.layers(); l++) {
            LayerFwd f = forwardLayer(l, xl, s.pools().get(l), s.mamba().get(l), fwds, b, t, training);
            fwds.add(f);
            INDArray m = f.mamba.y().reshape(rows, d);
            xl = xl.add(m);
            y.addi(m);
            pools.add(outgoingPool(f, b, t));
            ms.add(f.mamba.state());
        }
        Saved saved = null;
        if (training) {
            int n = cfg.layers();
            int[][] tr = new int[6][n];
            double[] margin = new double[n];
            for (int l = 0; l < n; l++) {
                LayerFwd f = fwds.get(l);
                tr[0][l] = f.sched.writes();
                tr[1][l] = f.sched.evictions();
                tr[2][l] = f.sched.drops();
                tr[3][l] = f.reads;
                tr[4][l] = f.crossReads;
                tr[5][l] = f.sched.maxFill();
                margin[l] = Math.min(f.sched.margin(), f.readMargin);
            }
            saved = new Saved(fwds, b, t, new MemMambaTrace(tr[0], tr[1], tr[2], tr[3], tr[4], tr[5], margin));
        }
        return new Forward<>(y.reshape(b, t, d), new MemMambaState(pools, ms), saved);
    }

    private LayerFwd forwardLayer(int l, INDArray x, NotePool pool, Mamba1State mstate, List<LayerFwd> below, int b,
            int t, boolean training) {
        Layer ly = layers.get(l);
        DataType dt = cfg.dataType();
        int d = cfg.dModel();
        int ds = cfg.summaryDim();
        int k = cfg.poolSize();
        int heads = cfg.heads();
        int dh = cfg.headDim();
        double scale = 1 / Math.sqrt(dh);
        int rows = b * t;
        LayerFwd f = new LayerFwd();
        f.x = x;
        INDArray[] nm = Fn.rmsNormRows(x, ly.normMem.value(), EPS);
        f.u = nm[0];
        f.ru = nm[1];
        // scores as per-row dot products in double: the same value for a token whatever T is, so the
        // discrete decisions of forward, pieces and steps agree; rounded to the data type because the
        // score is stored in the state and compared again after a piece boundary (PRIORITY)
        double[] uD = NdBuffers.toDoubles(f.u);
        double[] wImp = NdBuffers.toDoubles(ly.wImp.value());
        double[] wSt = NdBuffers.toDoubles(ly.wSt.value());
        double bImp = ly.bImp.value().getDouble(0);
        double bSt = ly.bSt.value().getDouble(0);
        f.iScore = new double[rows];
        f.jScore = new double[rows];
        f.sig = new double[rows];
        for (int r = 0; r < rows; r++) {
            double si = bImp;
            double sj = bSt;
            for (int c = 0; c < d; c++) {
                si += uD[r * d + c] * wImp[c];
                sj += uD[r * d + c] * wSt[c];
            }
            f.iScore[r] = round(si);
            f.jScore[r] = round(sj);
            f.sig[r] = sigmoid(f.iScore[r]);
        }
        f.r = f.u.mmul(ly.wSum.value());
        f.s = f.r.mulColumnVector(column(f.sig));
        f.sD = NdBuffers.toDoubles(f.s);
        f.pin = pool.summaries().dup('c').reshape((long) b * k, ds);
        f.pinD = NdBuffers.toDoubles(f.pin);
        int[] n0 = new int[b];
        for (int bi = 0; bi < b; bi++) {
            n0[bi] = pool.count().getInt(bi);
        }
        f.sched = PoolKernel.schedule(f.iScore, b, t, k, cfg.policy(), cfg.tau1(), n0,
                NdBuffers.toDoubles(pool.scores()));
        // (b) cross-token read of the layer's own pool, gated by the state importance
        f.q = NdBuffers.toDoubles(f.u.mmul(ly.wq.value()));
        f.kt = NdBuffers.toDoubles(f.s.mmul(ly.wk.value()));
        f.vt = NdBuffers.toDoubles(f.s.mmul(ly.wv.value()));
        f.kp = NdBuffers.toDoubles(f.pin.mmul(ly.wk.value()));
        f.vp = NdBuffers.toDoubles(f.pin.mmul(ly.wv.value()));
        double[] a = new double[rows * ds];
        f.gate = new double[rows];
        PoolKernel.Entries e = new PoolKernel.Entries(Math.max(1, l) * k);
        for (int bi = 0; bi < b; bi++) {
            for (int ti = 0; ti < t; ti++) {
                int r = bi * t + ti;
                if (!Double.isInfinite(cfg.tau2())) {
                    f.readMargin = Math.min(f.readMargin, Math.abs(f.jScore[r] - cfg.tau2()));
                }
                if (!(f.jScore[r] > cfg.tau2()) || f.sched.count(bi, ti) == 0) {
                    continue;
                }
                f.gate[r] = sigmoid(f.jScore[r]);
                e.clear();
                e.addSnapshot(f.sched, bi, ti, ds, f.kt, f.vt, null, null, f.kp, f.vp, null, null);
                PoolKernel.attend(e, f.q, r * ds, heads, dh, scale, a, r * ds);
                f.reads++;
            }
        }
        f.a = NdBuffers.of(dt, a, rows, ds);
        f.c = f.a.mmul(ly.wo.value());
        f.xp = x.add(f.c.mulColumnVector(column(f.gate)));
        // (c) cross-layer read of the earlier layers' pools as they are after their write at t
        if (ly.xq != null) {
            f.qx = NdBuffers.toDoubles(f.u.mmul(ly.xq.value()));
            f.kx = new double[l][];
            f.vx = new double[l][];
            f.kxp = new double[l][];
            f.vxp = new double[l][];
            for (int lp = 0; lp < l; lp++) {
                LayerFwd o = below.get(lp);
                f.kx[lp] = NdBuffers.toDoubles(o.s.mmul(ly.xk.value()));
                f.vx[lp] = NdBuffers.toDoubles(o.s.mmul(ly.xv.value()));
                f.kxp[lp] = NdBuffers.toDoubles(o.pin.mmul(ly.xk.value()));
                f.vxp[lp] = NdBuffers.toDoubles(o.pin.mmul(ly.xv.value()));
            }
            double[] ax = new double[rows * ds];
            for (int bi = 0; bi < b; bi++) {
                for (int ti = 0; ti < t; ti++) {
                    int r = bi * t + ti;
                    e.clear();
                    for (int lp = 0; lp < l; lp++) {
                        e.addSnapshot(below.get(lp).sched, bi, ti + 1, ds, f.kx[lp], f.vx[lp], null, null,
                                f.kxp[lp], f.vxp[lp], null, null);
                    }
                    if (e.n > 0) {
                        PoolKernel.attend(e, f.qx, r * ds, heads, dh, scale, ax, r * ds);
                        f.crossReads++;
                    }
                }
            }
            f.ax = NdBuffers.of(dt, ax, rows, ds);
            f.xp.addi(f.ax.mmul(ly.xo.value()));
        }
        // (d) the Mamba-1 block on the fused input; the caller adds the residual x
        INDArray[] zn = Fn.rmsNormRows(f.xp, ly.norm.value(), EPS);
        f.rz = zn[1];
        f.mamba = ly.mamba.forward(zn[0].reshape(b, t, d), mstate, training);
        return f;
    }

    /** The pool after the last token: the final snapshot's entries gathered in slot order. */
    private NotePool outgoingPool(LayerFwd f, int b, int t) {
        int k = cfg.poolSize();
        int ds = cfg.summaryDim();
        double[] sum = new double[b * k * ds];
        double[] sc = new double[b * k];
        int[] cnt = new int[b];
        PoolKernel.Schedule s = f.sched;
        for (int bi = 0; bi < b; bi++) {
            int n = s.count(bi, t);
            cnt[bi] = n;
            for (int slot = 0; slot < n; slot++) {
                int code = s.source(bi, t, slot);
                double[] from = code >= 0 ? f.sD : f.pinD;
                int row = code >= 0 ? bi * t + code : bi * k + (-code - 1);
                System.arraycopy(from, row * ds, sum, (bi * k + slot) * ds, ds);
            }
            System.arraycopy(s.finalScores(), bi * k, sc, bi * k, n);
        }
        return new NotePool(NdBuffers.of(cfg.dataType(), sum, b, k, ds), NdBuffers.of(cfg.dataType(), sc, b, k),
                Nd4j.createFromArray(cnt));
    }

    @Override
    public Backward<MemMambaState> backward(Forward<MemMambaState> fwd, INDArray dy, MemMambaState dState) {
        Objects.requireNonNull(fwd, "fwd");
        if (fwd.saved() == null) {
            if (dy != null && dy.rank() == 3 && dy.size(1) == 0) {
                int b = (int) dy.size(0);
                return new Backward<>(dy.dup(), dState == null ? initialState(b) : dState.copy());
            }
            throw new IllegalArgumentException("backward needs a forward pass run with training=true");
        }
        if (!(fwd.saved() instanceof Saved sv)) {
            throw new IllegalArgumentException("backward needs a forward pass of this MemMambaStack");
        }
        int b = sv.b();
        int t = sv.t();
        int d = cfg.dModel();
        int ds = cfg.summaryDim();
        int k = cfg.poolSize();
        int nl = cfg.layers();
        int rows = b * t;
        Shapes.require("dy", dy, "[B, T, D]", b, t, d);
        if (dState != null) {
            validateState("dState", dState, b);
        }
        DataType dt = cfg.dataType();
        INDArray dyr = dy.dup('c').reshape(rows, d);
        if (dyr.dataType() != dt) {
            dyr = dyr.castTo(dt);
        }
        // gradients of each layer's summaries, collected from the later layers' cross-layer reads and the
        // outgoing state before that layer's own backward runs
        double[][] dS = new double[nl][rows * ds];
        double[][] dP = new double[nl][b * k * ds];
        // the outgoing scores are copies of i_t (or of incoming scores): their gradient flows back to those
        double[][] dI = new double[nl][rows];
        double[][] dPs = new double[nl][b * k];
        if (dState != null) {
            for (int l = 0; l < nl; l++) {
                double[] g = NdBuffers.toDoubles(dState.pools().get(l).summaries());
                double[] gs = NdBuffers.toDoubles(dState.pools().get(l).scores());
                PoolKernel.Schedule s = sv.layers().get(l).sched;
                for (int bi = 0; bi < b; bi++) {
                    for (int slot = 0; slot < s.count(bi, t); slot++) {
                        int code = s.source(bi, t, slot);
                        double[] to = code >= 0 ? dS[l] : dP[l];
                        int row = code >= 0 ? bi * t + code : bi * k + (-code - 1);
                        for (int c = 0; c < ds; c++) {
                            to[row * ds + c] += g[(bi * k + slot) * ds + c];
                        }
                        (code >= 0 ? dI[l] : dPs[l])[row] += gs[bi * k + slot];
                    }
                }
            }
        }
        List<NotePool> dPools = new ArrayList<>();
        List<Mamba1State> dMamba = new ArrayList<>();
        for (int l = 0; l < nl; l++) {
            dPools.add(null);
            dMamba.add(null);
        }
        INDArray dx = dyr;
        for (int l = nl - 1; l >= 0; l--) {
            Layer ly = layers.get(l);
            LayerFwd f = sv.layers().get(l);
            Backward<Mamba1State> mb = ly.mamba.backward(f.mamba, dx.reshape(b, t, d),
                    dState == null ? null : dState.mamba().get(l));
            dMamba.set(l, mb.dState());
            INDArray[] zb = Fn.rmsNormRowsBackward(f.xp, ly.norm.value(), f.rz, mb.dx().reshape(rows, d));
            ly.norm.grad().addi(zb[1].reshape(d));
            INDArray dxp = zb[0];
            INDArray dxPrev = dx.add(dxp);
            INDArray du = Nd4j.zeros(dt, rows, d);
            double[] dq;
            PoolKernel.Entries e = new PoolKernel.Entries(Math.max(1, l) * cfg.poolSize());
            int heads = cfg.heads();
            int dh = cfg.headDim();
            double scale = 1 / Math.sqrt(dh);
            if (ly.xq != null) {
                ly.xo.grad().addi(f.ax.transpose().mmul(dxp));
                double[] dax = NdBuffers.toDoubles(dxp.mmul(ly.xo.value().transpose()));
                double[] dqx = new double[rows * ds];
                double[][] dkx = new double[l][rows * ds];
                double[][] dvx = new double[l][rows * ds];
                double[][] dkxp = new double[l][b * k * ds];
                double[][] dvxp = new double[l][b * k * ds];
                for (int bi = 0; bi < b; bi++) {
                    for (int ti = 0; ti < t; ti++) {
                        int r = bi * t + ti;
                        e.clear();
                        for (int lp = 0; lp < l; lp++) {
                            e.addSnapshot(sv.layers().get(lp).sched, bi, ti + 1, ds, f.kx[lp], f.vx[lp], dkx[lp],
                                    dvx[lp], f.kxp[lp], f.vxp[lp], dkxp[lp], dvxp[lp]);
                        }
                        if (e.n > 0) {
                            PoolKernel.attendBackward(e, f.qx, r * ds, heads, dh, scale, dax, r * ds, dqx);
                        }
                    }
                }
                INDArray dqxN = NdBuffers.of(dt, dqx, rows, ds);
                ly.xq.grad().addi(f.u.transpose().mmul(dqxN));
                du.addi(dqxN.mmul(ly.xq.value().transpose()));
                for (int lp = 0; lp < l; lp++) {
                    LayerFwd o = sv.layers().get(lp);
                    INDArray dk = NdBuffers.of(dt, dkx[lp], rows, ds);
                    INDArray dv = NdBuffers.of(dt, dvx[lp], rows, ds);
                    INDArray dkp = NdBuffers.of(dt, dkxp[lp], (long) b * k, ds);
                    INDArray dvp = NdBuffers.of(dt, dvxp[lp], (long) b * k, ds);
                    ly.xk.grad().addi(o.s.transpose().mmul(dk)).addi(o.pin.transpose().mmul(dkp));
                    ly.xv.grad().addi(o.s.transpose().mmul(dv)).addi(o.pin.transpose().mmul(dvp));
                    addInto(dS[lp], dk.mmul(ly.xk.value().transpose()).addi(dv.mmul(ly.xv.value().transpose())));
                    addInto(dP[lp], dkp.mmul(ly.xk.value().transpose()).addi(dvp.mmul(ly.xv.value().transpose())));
                }
            }
            // own read: x' = x + g c, c = a W_o
            double[] dxpD = NdBuffers.toDoubles(dxp);
            double[] cD = NdBuffers.toDoubles(f.c);
            double[] dj = new double[rows];
            for (int r = 0; r < rows; r++) {
                if (f.gate[r] == 0) {
                    continue;
                }
                double dg = 0;
                for (int c = 0; c < d; c++) {
                    dg += cD[r * d + c] * dxpD[r * d + c];
                }
                // g = σ(j) 1[j > τ₂]: the indicator is constant, σ'(j) = σ(j)(1 − σ(j))
                dj[r] = dg * f.gate[r] * (1 - f.gate[r]);
            }
            INDArray dc = dxp.mulColumnVector(column(f.gate));
            ly.wo.grad().addi(f.a.transpose().mmul(dc));
            double[] da = NdBuffers.toDoubles(dc.mmul(ly.wo.value().transpose()));
            dq = new double[rows * ds];
            double[] dkt = new double[rows * ds];
            double[] dvt = new double[rows * ds];
            double[] dkp = new double[b * k * ds];
            double[] dvp = new double[b * k * ds];
            for (int bi = 0; bi < b; bi++) {
                for (int ti = 0; ti < t; ti++) {
                    int r = bi * t + ti;
                    if (f.gate[r] == 0) {
                        continue;
                    }
                    e.clear();
                    e.addSnapshot(f.sched, bi, ti, ds, f.kt, f.vt, dkt, dvt, f.kp, f.vp, dkp, dvp);
                    PoolKernel.attendBackward(e, f.q, r * ds, heads, dh, scale, da, r * ds, dq);
                }
            }
            INDArray dqN = NdBuffers.of(dt, dq, rows, ds);
            ly.wq.grad().addi(f.u.transpose().mmul(dqN));
            du.addi(dqN.mmul(ly.wq.value().transpose()));
            INDArray dktN = NdBuffers.of(dt, dkt, rows, ds);
            INDArray dvtN = NdBuffers.of(dt, dvt, rows, ds);
            INDArray dkpN = NdBuffers.of(dt, dkp, (long) b * k, ds);
            INDArray dvpN = NdBuffers.of(dt, dvp, (long) b * k, ds);
            ly.wk.grad().addi(f.s.transpose().mmul(dktN)).addi(f.pin.transpose().mmul(dkpN));
            ly.wv.grad().addi(f.s.transpose().mmul(dvtN)).addi(f.pin.transpose().mmul(dvpN));
            addInto(dS[l], dktN.mmul(ly.wk.value().transpose()).addi(dvtN.mmul(ly.wv.value().transpose())));
            addInto(dP[l], dkpN.mmul(ly.wk.value().transpose()).addi(dvpN.mmul(ly.wv.value().transpose())));
            dPools.set(l, new NotePool(NdBuffers.of(dt, dP[l], b, k, ds), NdBuffers.of(dt, dPs[l], b, k),
                    Nd4j.zeros(DataType.INT, b)));
            // summaries s = σ(i) r
            double[] rD = NdBuffers.toDoubles(f.r);
            double[] dr = new double[rows * ds];
            double[] di = new double[rows];
            for (int r = 0; r < rows; r++) {
                double dot = 0;
                for (int c = 0; c < ds; c++) {
                    double g = dS[l][r * ds + c];
                    dr[r * ds + c] = f.sig[r] * g;
                    dot += rD[r * ds + c] * g;
                }
                di[r] = dot * f.sig[r] * (1 - f.sig[r]) + dI[l][r];
            }
            INDArray drN = NdBuffers.of(dt, dr, rows, ds);
            ly.wSum.grad().addi(f.u.transpose().mmul(drN));
            du.addi(drN.mmul(ly.wSum.value().transpose()));
            // scores i = w_imp·u + b_imp, j = w_st·u + b_st
            INDArray diN = column(di);
            INDArray djN = column(dj);
            ly.wImp.grad().addi(f.u.transpose().mmul(diN).reshape(d));
            ly.bImp.grad().addi(diN.sum(0).reshape(1));
            ly.wSt.grad().addi(f.u.transpose().mmul(djN).reshape(d));
            ly.bSt.grad().addi(djN.sum(0).reshape(1));
            du.addi(diN.mmul(ly.wImp.value().reshape(1, d))).addi(djN.mmul(ly.wSt.value().reshape(1, d)));
            INDArray[] nb = Fn.rmsNormRowsBackward(f.x, ly.normMem.value(), f.ru, du);
            ly.normMem.grad().addi(nb[1].reshape(d));
            dx = dxPrev.addi(nb[0]);
        }
        // y = x^L − x⁰: the identity path of x⁰ is not part of the output
        dx.subi(dyr);
        return new Backward<>(dx.reshape(b, t, d), new MemMambaState(dPools, dMamba));
    }

    @Override
    public Step<MemMambaState> step(INDArray x, MemMambaState state) {
        Shapes.require("x", x, "[B, D]", Shapes.ANY, cfg.dModel());
        Forward<MemMambaState> f = forward(x.reshape(x.size(0), 1, cfg.dModel()), state, false);
        return new Step<>(f.y().reshape(x.size(0), cfg.dModel()), f.state());
    }

    private void validateState(String name, MemMambaState s, int b) {
        int k = cfg.poolSize();
        if (s.pools().size() != cfg.layers()) {
            throw new IllegalArgumentException(name + " has " + s.pools().size() + " layers, expected L="
                    + cfg.layers());
        }
        for (int l = 0; l < cfg.layers(); l++) {
            NotePool p = s.pools().get(l);
            String n = name + ".pools[" + l + "]";
            Shapes.require(n + ".summaries", p.summaries(), "[B, K, Ds]", b, k, cfg.summaryDim());
            Shapes.require(n + ".scores", p.scores(), "[B, K]", b, k);
            Shapes.require(n + ".count", p.count(), "[B]", b);
            if (p.summaries().dataType() != cfg.dataType()) {
                throw new IllegalArgumentException(n + ".summaries has data type " + p.summaries().dataType()
                        + ", the stack was built for " + cfg.dataType());
            }
            for (int bi = 0; bi < b; bi++) {
                int c = p.count().getInt(bi);
                if (c < 0 || c > k) {
                    throw new IllegalArgumentException(n + ".count[" + bi + "] = " + c + ", expected 0..K=" + k);
                }
            }
            Mamba1State m = s.mamba().get(l);
            Objects.requireNonNull(m, name + ".mamba[" + l + "]");
            Shapes.require(name + ".mamba[" + l + "].conv", m.conv(), "[B, K-1, E*D]", b, cfg.convKernel() - 1,
                    (long) cfg.expand() * cfg.dModel());
            Shapes.require(name + ".mamba[" + l + "].ssm", m.ssm(), "[B, E*D, N]", b,
                    (long) cfg.expand() * cfg.dModel(), cfg.dState());
        }
    }

    private double round(double v) {
        return cfg.dataType() == DataType.FLOAT ? (float) v : v;
    }

    private static double sigmoid(double v) {
        return v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
    }

    private INDArray column(double[] v) {
        return NdBuffers.of(cfg.dataType(), v, v.length, 1);
    }

    private static void addInto(double[] acc, INDArray g) {
        double[] v = NdBuffers.toDoubles(g);
        for (int i = 0; i < v.length; i++) {
            acc[i] += v[i];
        }
    }
}
