package io.mnemo.modules.titans;

import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import io.mnemo.core.Mixer;
import io.mnemo.core.Parameter;
import io.mnemo.core.Shapes;
import io.mnemo.core.nn.Fn;
import io.mnemo.core.nn.Init;
import io.mnemo.modules.attention.AttentionForward;
import io.mnemo.modules.attention.AttentionGrads;
import io.mnemo.modules.attention.AttentionInputs;
import io.mnemo.modules.attention.AttentionOpConfig;
import io.mnemo.modules.attention.AttentionOps;
import io.mnemo.modules.attention.Rope;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Titans "memory as context" (MAC; Behrouz et al. 2024, "Titans: Learning to Memorize at Test Time", §4.1). The
 * sequence is cut into segments {@code S} of C_s tokens (counted from the start of the sequence); for
 * each segment, with {@code M} the long-term memory at the segment start:
 * <pre>
 *   q^M_t = L2(silu(x_t W_qm))                        per head
 *   h_t   = M(q^M_t)                                  retrieval, no update ({@link TitansRead})
 *   y_t   = Attn([P ‖ h ‖ S])_t W_ao                  query x_t W_q sees P, h_u and x_u for u ≤ t (causal)
 *   k^M, v^M, q^O = L2(silu(y W_km)), silu(y W_vm), L2(silu(y W_qo));  θ, η, α = gates of y
 *   r_t, M' = TitansMemory(q^O, k^M, v^M, θ, η, α; M)  the memory learns y; r_t = M_t(q^O_t)
 *   o_t   = (RMSNorm_{w_a}(y_t) ⊙ σ(RMSNorm_{w_m}(r_t))) W_o          o = y ⊗ M*_t(y)
 * </pre>
 * and M' (committed at the end of the segment) is the memory of the next segment. P are N_p learned tokens; the
 * attention keys and values of P, h and S all use the same W_k, W_v. The causal mask inside the segment is a
 * deviation from the paper's figure (full attention in the segment), needed for language modelling; it is realised
 * by running causal attention over the interleaved sequence {@code [P, h_1, x_1, h_2, x_2, …]} and keeping the
 * outputs at the x positions. See docs/modules/titans-mac.md for every choice.
 *
 * <p>The state is the memory at the start of the open segment and the inputs of the open segment so far; a call
 * recomputes the open segment (so {@link #step} costs O(C_s) per token), which makes one forward over T tokens
 * equal forwards over pieces and T steps. Shapes: x and y {@code [B, T, D]}.
 */
public final class TitansMacBlock implements Mixer<TitansMacState> {
    private static final double QK_EPS = 1e-6;
    private static final double NORM_EPS = 1e-6;

    private final TitansMacConfig cfg;
    private final AttentionOpConfig attCfg;
    private final List<Parameter> params = new ArrayList<>();
    private final Parameter wQm;
    private final Parameter wQ;
    private final Parameter wK;
    private final Parameter wV;
    private final Parameter wAo;
    private final Parameter pTokens;
    private final Parameter wKm;
    private final Parameter wVm;
    private final Parameter wQo;
    private final Parameter[] gateW = new Parameter[3];
    private final Parameter[] gateB = new Parameter[3];
    private final List<Parameter> memInit = new ArrayList<>();
    private final Parameter normA;
    private final Parameter normM;
    private final Parameter wo;

    public TitansMacBlock(TitansMacConfig cfg) {
        this.cfg = cfg;
        this.attCfg = AttentionOpConfig.of().withBackend(cfg.backend());
        Random rng = new Random(cfg.seed());
        DataType t = cfg.dataType();
        int d = cfg.dModel();
        int h = cfg.heads();
        double s = 1 / Math.sqrt(d);
        wQm = add("w_qm", Init.normal(t, rng, s, d, d));
        wQ = add("w_q", Init.normal(t, rng, s, d, d));
        wK = add("w_k", Init.normal(t, rng, s, d, d));
        wV = add("w_v", Init.normal(t, rng, s, d, d));
        wAo = add("w_ao", Init.normal(t, rng, s, d, d));
        pTokens = cfg.persistentTokens() > 0 ? add("persistent", Init.normal(t, rng, 1.0, cfg.persistentTokens(), d))
                : null;
        wKm = add("w_km", Init.normal(t, rng, s, d, d));
        wVm = add("w_vm", Init.normal(t, rng, s, d, d));
        wQo = add("w_qo", Init.normal(t, rng, s, d, d));
        String[] gates = {"theta", "eta", "alpha"};
        double[] bias = {0, 0, -4};
        for (int i = 0; i < 3; i++) {
            if (i == 1 && !cfg.memory().momentum()) {
                continue;
            }
            gateW[i] = add("w_" + gates[i], Init.normal(t, rng, s, d, h));
            gateB[i] = add("b_" + gates[i], Nd4j.valueArrayOf(new long[] {h}, bias[i], t));
        }
        if (cfg.learnedInit()) {
            MemoryLayout m = cfg.memory().layout(cfg.headDim());
            for (int l = 0; l < m.depth(); l++) {
                memInit.add(add("mem_init_" + l, Init.normal(t, rng, 1 / Math.sqrt(m.cols(l)), h, m.rows(l),
                        m.cols(l))));
            }
        }
        normA = add("norm_a", Nd4j.ones(t, d));
        normM = add("norm_m", Nd4j.ones(t, d));
        wo = add("w_o", Init.normal(t, rng, s, d, d));
    }

    private Parameter add(String name, INDArray v) {
        Parameter p = Parameter.of(name, v);
        params.add(p);
        return p;
    }

    /** The configuration. */
    public TitansMacConfig config() {
        return cfg;
    }

    @Override
    public int dModel() {
        return cfg.dModel();
    }

    @Override
    public List<Parameter> parameters() {
        return List.copyOf(params);
    }

    /** The learned initial memory tiled over the batch (or zeros), zero momentum, no open segment. */
    @Override
    public TitansMacState initialState(int batch) {
        Shapes.requirePositive("batch", batch);
        DataType t = cfg.dataType();
        TitansState mem;
        if (cfg.learnedInit()) {
            mem = TitansState.tiled(cfg.memory(), memInit.stream().map(Parameter::value).toList(), batch);
        } else {
            mem = TitansState.zeros(cfg.memory(), batch, cfg.heads(), cfg.headDim(), t);
        }
        return new TitansMacState(mem, null, true);
    }

    private void checkState(String name, TitansMacState s, int b) {
        if (s.memory() == null) {
            throw new IllegalArgumentException(name + ".memory is missing");
        }
        if (s.memory().buffered() != 0) {
            throw new IllegalArgumentException(name + ".memory holds an open memory chunk of " + s.memory().buffered()
                    + " tokens; a MAC state starts at a segment (hence chunk) boundary");
        }
        s.memory().validate(name + ".memory", cfg.memory(), b, cfg.heads(), cfg.headDim(), cfg.dataType(), false);
        if (s.buffer() != null) {
            Shapes.require(name + ".buffer", s.buffer(), "[B, n, D]", b, Shapes.ANY, cfg.dModel());
            if (s.buffered() == 0 || s.buffered() >= cfg.segmentLength()) {
                throw new IllegalArgumentException(name + ".buffer holds " + s.buffered() + " tokens, expected 0 < n < "
                        + "segmentLength=" + cfg.segmentLength() + " (null for none)");
            }
            if (s.buffer().dataType() != cfg.dataType()) {
                throw new IllegalArgumentException(name + ".buffer has data type " + s.buffer().dataType()
                        + ", expected " + cfg.dataType());
            }
        }
    }

    /** Everything one segment's backward needs. */
    /** A retrieval's inputs and output, for its backward. */
    private record ReadSaved(INDArray q, List<INDArray> memory, INDArray y) {}

    private record Seg(INDArray x2, INDArray qmPre, INDArray qmOut, INDArray qmNorm, ReadSaved read,
            INDArray z2, INDArray kp2, AttentionForward att, INDArray o2, INDArray y2, INDArray[] pre, INDArray[] act,
            INDArray[] norms, INDArray[] gate, TitansForward op, INDArray r2, INDArray ra, INDArray rm, INDArray na,
            INDArray g, INDArray u, int len) {}

    private record SegOut(INDArray out, TitansState end, Seg saved) {}

    private SegOut segment(INDArray xs, TitansState mem, boolean training) {
        int b = (int) xs.size(0);
        int len = (int) xs.size(1);
        int h = cfg.heads();
        int dh = cfg.headDim();
        int d = cfg.dModel();
        int np = cfg.persistentTokens();
        long n = (long) b * len;
        INDArray x2 = xs.dup('c').reshape(n, d);
        // 1. retrieval from the segment-start memory
        INDArray qmPre = x2.mmul(wQm.value());
        INDArray qmAct = Fn.silu(qmPre);
        INDArray[] qmN = Fn.l2NormRows(qmAct.reshape(n * h, dh), QK_EPS);
        INDArray readQ = qmN[0].reshape(b, len, h, dh);
        ReadSaved read = new ReadSaved(readQ, mem.memory(), TitansOps.read(cfg.memory(), readQ, mem.memory()));
        // 2. attention over [P ‖ h_1, x_1, h_2, x_2, …], outputs kept at the x positions
        INDArray z = Nd4j.create(cfg.dataType(), b, len, 2, d);
        z.get(all(), all(), point(0), all()).assign(read.y().reshape(b, len, d));
        z.get(all(), all(), point(1), all()).assign(xs);
        INDArray z2 = z.reshape(2 * n, d);
        INDArray qa = z2.mmul(wQ.value()).reshape('c', b, 2L * len, h, dh);
        INDArray ka = z2.mmul(wK.value()).reshape('c', b, 2L * len, h, dh);
        INDArray va = z2.mmul(wV.value()).reshape('c', b, 2L * len, h, dh);
        if (cfg.rope()) {
            qa = pairRope(qa, b, len, false);
            ka = pairRope(ka, b, len, false);
        }
        INDArray kp2 = null;
        if (np > 0) {
            kp2 = pTokens.value();
            INDArray kp = kp2.mmul(wK.value()).reshape(1, np, h, dh).broadcast(b, np, h, dh).dup('c');
            INDArray vp = kp2.mmul(wV.value()).reshape(1, np, h, dh).broadcast(b, np, h, dh).dup('c');
            if (cfg.rope()) {
                kp = Rope.apply(kp, 0, cfg.ropeBase());
            }
            ka = Nd4j.concat(1, kp, ka);
            va = Nd4j.concat(1, vp, va);
        }
        AttentionForward att = AttentionOps.forward(attCfg, new AttentionInputs(qa, ka, va), training);
        INDArray o2 = att.o().reshape('c', b, len, 2, d).get(all(), all(), point(1), all()).dup('c').reshape(n, d);
        INDArray y2 = o2.mmul(wAo.value());
        // 3. the memory learns y; r_t = M_t(q^O_t)
        Parameter[] proj = {wQo, wKm, wVm};
        INDArray[] pre = new INDArray[3];
        INDArray[] act = new INDArray[3];
        INDArray[] norms = new INDArray[3];
        INDArray[] in = new INDArray[3];
        for (int i = 0; i < 3; i++) {
            pre[i] = y2.mmul(proj[i].value());
            act[i] = Fn.silu(pre[i]);
            if (i < 2) {
                INDArray[] nn = Fn.l2NormRows(act[i].reshape(n * h, dh), QK_EPS);
                in[i] = nn[0];
                norms[i] = nn[1];
                act[i] = nn[0]; // l2NormRowsBackward takes the normalised rows
            } else {
                in[i] = act[i];
            }
        }
        INDArray[] gate = new INDArray[3];
        for (int i = 0; i < 3; i++) {
            if (gateW[i] != null) {
                gate[i] = Fn.sigmoid(y2.mmul(gateW[i].value()).addiRowVector(gateB[i].value().reshape(1, h)));
            }
        }
        TitansInputs mi = new TitansInputs(in[0].reshape(b, len, h, dh), in[1].reshape(b, len, h, dh),
                in[2].reshape(b, len, h, dh), gate[0].mul(cfg.thetaMax()).reshape(b, len, h),
                gate[1] == null ? null : gate[1].reshape(b, len, h), gate[2].reshape(b, len, h), mem);
        TitansForward op = TitansOps.forward(cfg.memory(), mi, training);
        // 4. o = y ⊗ M*_t(y)
        INDArray r2 = op.y().reshape(n, d);
        INDArray[] ra = Fn.rmsNormRows(y2, normA.value(), NORM_EPS);
        INDArray[] rm = Fn.rmsNormRows(r2, normM.value(), NORM_EPS);
        INDArray g = Fn.sigmoid(rm[0]);
        INDArray u = ra[0].mul(g);
        INDArray out = u.mmul(wo.value()).reshape(b, len, d);
        Seg saved = training ? new Seg(x2, qmPre, qmN[0], qmN[1], read, z2, kp2, att, o2, y2, pre, act, norms, gate, op,
                r2, ra[1], rm[1], ra[0], g, u, len) : null;
        return new SegOut(out, op.finalState(), saved);
    }

    /** RoPE on the interleaved [h_1, x_1, …]: both members of a pair at position N_p + t. */
    private INDArray pairRope(INDArray a, int b, int len, boolean backward) {
        int h = cfg.heads();
        int dh = cfg.headDim();
        INDArray p = a.dup('c').reshape('c', b, len, 2L * h, dh);
        INDArray r = backward ? Rope.backward(p, cfg.persistentTokens(), cfg.ropeBase())
                : Rope.apply(p, cfg.persistentTokens(), cfg.ropeBase());
        return r.dup('c').reshape('c', b, 2L * len, h, dh);
    }

    /** Backward of one segment; returns dxs {@code [B, L, D]} and the gradient of the segment-start memory. */
    private record SegGrad(INDArray dx, TitansState dMem) {}

    private SegGrad segmentBackward(Seg s, INDArray dOut, TitansState dEnd, int b) {
        int len = s.len();
        int h = cfg.heads();
        int dh = cfg.headDim();
        int d = cfg.dModel();
        int np = cfg.persistentTokens();
        long n = (long) b * len;
        INDArray dOut2 = dOut.dup('c').reshape(n, d);
        // 4.
        wo.grad().addi(s.u().transpose().mmul(dOut2));
        INDArray du = dOut2.mmul(wo.value().transpose());
        INDArray dna = du.mul(s.g());
        INDArray dnm = du.mul(s.na()).muli(s.g().rsub(1).muli(s.g()));
        INDArray[] ba = Fn.rmsNormRowsBackward(s.y2(), normA.value(), s.ra(), dna);
        INDArray[] bm = Fn.rmsNormRowsBackward(s.r2(), normM.value(), s.rm(), dnm);
        normA.grad().addi(ba[1].reshape(d));
        normM.grad().addi(bm[1].reshape(d));
        INDArray dy2 = ba[0];
        // 3.
        TitansGrads og = TitansOps.backward(s.op(), bm[0].reshape(b, len, h, dh), dEnd);
        INDArray[] dGate = {og.dTheta().reshape(n, h).mul(cfg.thetaMax()), og.dEta() == null ? null
                : og.dEta().reshape(n, h), og.dAlpha().reshape(n, h)};
        for (int i = 0; i < 3; i++) {
            if (gateW[i] == null) {
                continue;
            }
            INDArray sg = s.gate()[i];
            INDArray dzg = dGate[i].mul(sg.rsub(1).muli(sg));
            gateB[i].grad().addi(dzg.sum(0).reshape(h));
            gateW[i].grad().addi(s.y2().transpose().mmul(dzg));
            dy2.addi(dzg.mmul(gateW[i].value().transpose()));
        }
        Parameter[] proj = {wQo, wKm, wVm};
        INDArray[] dIn = {og.dq(), og.dk(), og.dv()};
        for (int i = 0; i < 3; i++) {
            INDArray dAct = i < 2 ? Fn.l2NormRowsBackward(s.act()[i].reshape(n * h, dh), s.norms()[i],
                    dIn[i].reshape(n * h, dh)).reshape(n, d) : dIn[i].reshape(n, d);
            INDArray dPre = Fn.siluBackward(s.pre()[i], dAct);
            proj[i].grad().addi(s.y2().transpose().mmul(dPre));
            dy2.addi(dPre.mmul(proj[i].value().transpose()));
        }
        // 2.
        wAo.grad().addi(s.o2().transpose().mmul(dy2));
        INDArray do2 = dy2.mmul(wAo.value().transpose());
        INDArray dO = Nd4j.zeros(cfg.dataType(), b, len, 2, d);
        dO.get(all(), all(), point(1), all()).assign(do2.reshape(b, len, d));
        AttentionGrads ag = AttentionOps.backward(s.att(), dO.reshape('c', b, 2L * len, h, dh));
        int lk = (int) ag.dk().size(1);
        INDArray dq = ag.dq();
        INDArray dk = ag.dk().get(all(), interval(np, lk), all(), all()).dup('c');
        INDArray dv = ag.dv().get(all(), interval(np, lk), all(), all()).dup('c');
        if (cfg.rope()) {
            dq = pairRope(dq, b, len, true);
            dk = pairRope(dk, b, len, true);
        }
        INDArray dz2 = Nd4j.zeros(cfg.dataType(), 2 * n, d);
        INDArray[] dProj = {dq, dk, dv};
        Parameter[] w = {wQ, wK, wV};
        for (int i = 0; i < 3; i++) {
            INDArray d2 = dProj[i].reshape('c', 2 * n, d);
            w[i].grad().addi(s.z2().transpose().mmul(d2));
            dz2.addi(d2.mmul(w[i].value().transpose()));
        }
        if (np > 0) {
            INDArray dkp = ag.dk().get(all(), interval(0, np), all(), all()).dup('c');
            INDArray dvp = ag.dv().get(all(), interval(0, np), all(), all()).dup('c');
            if (cfg.rope()) {
                dkp = Rope.backward(dkp, 0, cfg.ropeBase());
            }
            INDArray dkp2 = dkp.sum(0).reshape(np, d);
            INDArray dvp2 = dvp.sum(0).reshape(np, d);
            wK.grad().addi(s.kp2().transpose().mmul(dkp2));
            wV.grad().addi(s.kp2().transpose().mmul(dvp2));
            pTokens.grad().addi(dkp2.mmul(wK.value().transpose())).addi(dvp2.mmul(wV.value().transpose()));
        }
        INDArray dz = dz2.reshape('c', b, len, 2, d);
        INDArray dRet = dz.get(all(), all(), point(0), all()).dup('c');
        INDArray dx = dz.get(all(), all(), point(1), all()).dup('c').reshape(n, d);
        // 1.
        INDArray[] rg = TitansOps.readBackward(cfg.memory(), s.read().q(), s.read().memory(),
                dRet.reshape('c', b, len, h, dh));
        INDArray dAct = Fn.l2NormRowsBackward(s.qmOut(), s.qmNorm(), rg[0].reshape(n * h, dh))
                .reshape(n, d);
        INDArray dPre = Fn.siluBackward(s.qmPre(), dAct);
        wQm.grad().addi(s.x2().transpose().mmul(dPre));
        dx.addi(dPre.mmul(wQm.value().transpose()));
        TitansState dm = og.dInitialState();
        List<INDArray> mem = new ArrayList<>();
        for (int l = 0; l < dm.memory().size(); l++) {
            mem.add(dm.memory().get(l).add(rg[1 + l]));
        }
        return new SegGrad(dx.reshape(b, len, d), new TitansState(mem, dm.momentum(), null, null, null, null, null));
    }

    private record Saved(List<Seg> segs, int n0, int t, int b, boolean lastComplete, boolean initial) {}

    @Override
    public Forward<TitansMacState> forward(INDArray x, TitansMacState state, boolean training) {
        Shapes.require("x", x, "[B, T, D]", Shapes.ANY, Shapes.ANY, cfg.dModel());
        if (x.dataType() != cfg.dataType()) {
            throw new IllegalArgumentException("x has data type " + x.dataType() + ", the block was built for "
                    + cfg.dataType());
        }
        int b = (int) x.size(0);
        int t = (int) x.size(1);
        TitansMacState s = state == null ? initialState(b) : state;
        checkState("state", s, b);
        if (t == 0) {
            TitansMacState c = s.detach();
            return new Forward<>(x.dup(), c, null);
        }
        int n0 = s.buffered();
        INDArray xa = n0 > 0 ? Nd4j.concat(1, s.buffer(), x) : x;
        int total = n0 + t;
        int cs = cfg.segmentLength();
        List<Seg> segs = new ArrayList<>();
        List<INDArray> outs = new ArrayList<>();
        TitansState mem = s.memory();
        TitansState lastStart = mem;
        int start = 0;
        boolean lastComplete = false;
        for (; start < total; start += cs) {
            int len = Math.min(cs, total - start);
            INDArray xs = xa.get(all(), interval(start, start + len), all());
            SegOut so = segment(xs, mem, training);
            segs.add(so.saved());
            outs.add(so.out());
            lastStart = mem;
            lastComplete = len == cs;
            if (lastComplete) {
                mem = so.end();
            }
        }
        INDArray yAll = outs.size() == 1 ? outs.get(0) : Nd4j.concat(1, outs.toArray(new INDArray[0]));
        INDArray y = yAll.get(all(), interval(n0, total), all()).dup('c');
        int lastBegin = (total - 1) / cs * cs;
        TitansMacState next = lastComplete ? new TitansMacState(mem, null, false)
                : new TitansMacState(TitansBlockState.copy(lastStart), xa.get(all(), interval(lastBegin, total), all())
                        .dup('c'), false);
        Saved saved = training ? new Saved(segs, n0, t, b, lastComplete, s.initial()) : null;
        return new Forward<>(y, next, saved);
    }

    @Override
    public Backward<TitansMacState> backward(Forward<TitansMacState> fwd, INDArray dy, TitansMacState dState) {
        if (fwd.saved() == null) {
            if (dy != null && dy.rank() == 3 && dy.size(1) == 0) {
                return new Backward<>(dy.dup(), dState == null ? zerosLike(fwd.state()) : dState.copy());
            }
            throw new IllegalArgumentException("backward needs a forward pass run with training=true");
        }
        Saved sv = (Saved) fwd.saved();
        int b = sv.b();
        int n0 = sv.n0();
        int total = n0 + sv.t();
        int cs = cfg.segmentLength();
        int d = cfg.dModel();
        Shapes.require("dy", dy, "[B, T, D]", b, sv.t(), d);
        if (dState != null) {
            checkGradState(dState, fwd.state(), b);
        }
        INDArray dyAll = n0 > 0 ? Nd4j.concat(1, Nd4j.zeros(cfg.dataType(), b, n0, d), dy) : dy;
        INDArray dxa = Nd4j.zeros(cfg.dataType(), b, total, d);
        TitansState dEnd = null;
        TitansState dCarry = null;
        if (dState != null) {
            if (sv.lastComplete()) {
                dEnd = dState.memory();
            } else {
                dCarry = dState.memory();
                if (dState.buffer() != null) {
                    int lastBegin = (total - 1) / cs * cs;
                    dxa.get(all(), interval(lastBegin, total), all()).addi(dState.buffer());
                }
            }
        }
        TitansState dMem = null;
        for (int i = sv.segs().size() - 1; i >= 0; i--) {
            Seg s = sv.segs().get(i);
            int start = i * cs;
            INDArray dOut = dyAll.get(all(), interval(start, start + s.len()), all());
            boolean last = i == sv.segs().size() - 1;
            SegGrad g = segmentBackward(s, dOut, last ? dEnd : dMem, b);
            dxa.get(all(), interval(start, start + s.len()), all()).addi(g.dx());
            dMem = last && dCarry != null ? addStates(g.dMem(), dCarry) : g.dMem();
        }
        if (sv.initial() && cfg.learnedInit()) {
            List<INDArray> dM0 = TitansState.sumOverBatch(dMem.memory());
            for (int l = 0; l < memInit.size(); l++) {
                memInit.get(l).grad().addi(dM0.get(l));
            }
        }
        INDArray dx = dxa.get(all(), interval(n0, total), all()).dup('c');
        INDArray dBuf = n0 > 0 ? dxa.get(all(), interval(0, n0), all()).dup('c') : null;
        return new Backward<>(dx, new TitansMacState(dMem, dBuf, false));
    }

    private void checkGradState(TitansMacState g, TitansMacState s, int b) {
        if (g.memory() == null) {
            throw new IllegalArgumentException("dState.memory is missing");
        }
        if (g.memory().buffered() != 0) {
            throw new IllegalArgumentException("dState.memory must have an empty open chunk (all buffers null)");
        }
        if (g.buffer() != null) {
            if (s.buffer() == null) {
                throw new IllegalArgumentException("dState.buffer given but the returned state has no open segment");
            }
            Shapes.require("dState.buffer", g.buffer(), "[B, n, D]", s.buffer().shape());
        }
        if (g.memory().memory().size() != s.memory().memory().size()) {
            throw new IllegalArgumentException("dState.memory has " + g.memory().memory().size() + " layers, expected "
                    + s.memory().memory().size());
        }
        for (int l = 0; l < s.memory().memory().size(); l++) {
            Shapes.require("dState.memory.memory[" + l + "]", g.memory().memory().get(l), "[B, H, rows, cols]",
                    s.memory().memory().get(l).shape());
            if (g.memory().momentum() != null && s.memory().momentum() != null) {
                Shapes.require("dState.memory.momentum[" + l + "]", g.memory().momentum().get(l), "[B, H, rows, cols]",
                        s.memory().momentum().get(l).shape());
            }
        }
    }

    private static TitansState addStates(TitansState a, TitansState c) {
        List<INDArray> mem = new ArrayList<>();
        for (int l = 0; l < a.memory().size(); l++) {
            INDArray x = c.memory().get(l);
            mem.add(x == null ? a.memory().get(l) : a.memory().get(l).add(x));
        }
        List<INDArray> mom = null;
        if (a.momentum() != null) {
            mom = new ArrayList<>();
            for (int l = 0; l < a.momentum().size(); l++) {
                INDArray x = c.momentum() == null ? null : c.momentum().get(l);
                mom.add(x == null ? a.momentum().get(l) : a.momentum().get(l).add(x));
            }
        }
        return new TitansState(mem, mom, null, null, null, null, null);
    }

    private static TitansMacState zerosLike(TitansMacState s) {
        TitansState m = s.memory();
        List<INDArray> mem = m.memory().stream().map(a -> Nd4j.zeros(a.dataType(), a.shape())).toList();
        List<INDArray> mom = m.momentum() == null ? null
                : m.momentum().stream().map(a -> Nd4j.zeros(a.dataType(), a.shape())).toList();
        return new TitansMacState(new TitansState(mem, mom, null, null, null, null, null),
                s.buffer() == null ? null : Nd4j.zeros(s.buffer().dataType(), s.buffer().shape()), false);
    }

    /** One token: {@link #forward} with T = 1 (recomputes the open segment, O(C_s) work). */
    @Override
    public Step<TitansMacState> step(INDArray x, TitansMacState state) {
        Shapes.require("x", x, "[B, D]", Shapes.ANY, cfg.dModel());
        Forward<TitansMacState> f = forward(x.reshape(x.size(0), 1, cfg.dModel()), state, false);
        return new Step<>(f.y().reshape(x.size(0), cfg.dModel()), f.state());
    }
}
