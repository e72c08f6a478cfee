package io.mnemo.modules.titans;

import io.mnemo.core.Mixer;
import io.mnemo.core.Parameter;
import io.mnemo.core.Shapes;
import io.mnemo.core.nn.Fn;
import io.mnemo.core.nn.Init;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The Titans neural-memory layer (Behrouz et al. 2024, "Titans: Learning to Memorize at Test Time", §3;
 * the LMM variant: the memory alone), around the memory op {@link TitansOps}:
 * <pre>
 *   q, k, v  = silu(conv4(x W_q)), silu(conv4(x W_k)), silu(conv4(x W_v))       per head [D/H]
 *   q, k     = q / ‖q‖, k / ‖k‖
 *   θ        = θ_max · σ(x W_θ + b_θ),   η = σ(x W_η + b_η),   α = σ(x W_α + b_α)      per head
 *   o, S     = TitansMemory(q, k, v, θ, η, α; S₀)                                    S₀ from the learned M₀
 *   y        = (RMSNorm_w(o) ⊙ silu(x W_g)) W_o                                     per-head norm
 * </pre>
 * Initialisation: projections N(0, 1/fan_in); conv U(−1/√K, 1/√K); b_θ = 0 (θ = θ_max/2), b_η = 0 (η = ½),
 * b_α = −4 (α ≈ 0.018, little forgetting at first); the learned initial memory {@code M₀} per layer
 * N(0, 1/cols) (a deep memory must not start at zero: zero weights have zero inner gradient).
 * Shapes: x and y {@code [B, T, D]}. {@link #backward} is written out by hand in reverse order around the
 * op's exact backward (which includes the second-order terms of the inner gradient steps).
 */
public final class TitansBlock implements Mixer<TitansBlockState> {
    private static final double QK_EPS = 1e-6;
    private static final double NORM_EPS = 1e-6;

    private final TitansBlockConfig cfg;
    private final List<Parameter> params = new ArrayList<>();
    private final Parameter[] w = new Parameter[3];
    private final Parameter[] conv = new Parameter[3];
    private final Parameter[] gateW = new Parameter[3];
    private final Parameter[] gateB = new Parameter[3];
    private final List<Parameter> memInit = new ArrayList<>();
    private final Parameter normW;
    private final Parameter wG;
    private final Parameter wo;

    public TitansBlock(TitansBlockConfig cfg) {
        this.cfg = cfg;
        Random rng = new Random(cfg.seed());
        DataType t = cfg.dataType();
        int d = cfg.dModel();
        int h = cfg.heads();
        String[] names = {"q", "k", "v"};
        for (int i = 0; i < 3; i++) {
            w[i] = add("w_" + names[i], Init.normal(t, rng, 1 / Math.sqrt(d), d, d));
        }
        if (cfg.convKernel() > 0) {
            double bound = 1 / Math.sqrt(cfg.convKernel());
            for (int i = 0; i < 3; i++) {
                conv[i] = add("conv_" + names[i], Init.uniform(t, rng, cfg.convKernel(), d).muli(2 * bound)
                        .subi(bound));
            }
        }
        String[] gates = {"theta", "eta", "alpha"};
        double[] bias = {0, 0, -4};
        for (int i = 0; i < 3; i++) {
            if (i == 1 && !cfg.memory().momentum()) {
                continue;
            }
            gateW[i] = add("w_" + gates[i], Init.normal(t, rng, 1 / Math.sqrt(d), d, h));
            gateB[i] = add("b_" + gates[i], Nd4j.valueArrayOf(new long[] {h}, bias[i], t));
        }
        if (cfg.learnedInit()) {
            MemoryLayout m = cfg.memory().layout(cfg.headDim());
            for (int l = 0; l < m.depth(); l++) {
                memInit.add(add("mem_init_" + l, Init.normal(t, rng, 1 / Math.sqrt(m.cols(l)), h, m.rows(l),
                        m.cols(l))));
            }
        }
        normW = add("norm_w", Nd4j.ones(t, cfg.headDim()));
        wG = add("w_g", Init.normal(t, rng, 1 / Math.sqrt(d), d, d));
        wo = add("w_o", Init.normal(t, rng, 1 / Math.sqrt(d), d, d));
    }

    private Parameter add(String name, INDArray v) {
        Parameter p = Parameter.of(name, v);
        params.add(p);
        return p;
    }

    /** The configuration. */
    public TitansBlockConfig config() {
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

    /** The learned initial memory tiled over the batch (or zeros), zero momentum, empty open chunk. */
    @Override
    public TitansBlockState initialState(int batch) {
        Shapes.requirePositive("batch", batch);
        DataType t = cfg.dataType();
        TitansState mem;
        if (cfg.learnedInit()) {
            mem = TitansState.tiled(cfg.memory(), memInit.stream().map(Parameter::value).toList(), batch);
        } else {
            mem = TitansState.zeros(cfg.memory(), batch, cfg.heads(), cfg.headDim(), t);
        }
        int km1 = cfg.convKernel() - 1;
        int d = cfg.dModel();
        return new TitansBlockState(mem, km1 > 0 ? Nd4j.zeros(t, batch, km1, d) : null,
                km1 > 0 ? Nd4j.zeros(t, batch, km1, d) : null, km1 > 0 ? Nd4j.zeros(t, batch, km1, d) : null, true);
    }

    private void requireConv(TitansBlockState s, int b) {
        int km1 = cfg.convKernel() - 1;
        if (km1 > 0) {
            Shapes.require("state.convQ", s.convQ(), "[B, K-1, D]", b, km1, cfg.dModel());
            Shapes.require("state.convK", s.convK(), "[B, K-1, D]", b, km1, cfg.dModel());
            Shapes.require("state.convV", s.convV(), "[B, K-1, D]", b, km1, cfg.dModel());
        }
        if (s.memory() == null) {
            throw new IllegalArgumentException("state.memory is missing");
        }
    }

    private record Saved(INDArray x2, INDArray[] xe, INDArray[] pre, INDArray q, INDArray k, INDArray nq,
            INDArray nk, INDArray[] gate, TitansForward op, INDArray o2, INDArray r, INDArray on, INDArray gPre,
            INDArray og, boolean initial, int b, int t) {}

    @Override
    public Forward<TitansBlockState> forward(INDArray x, TitansBlockState state, boolean training) {
        Shapes.require("x", x, "[B, T, D]", Shapes.ANY, Shapes.ANY, cfg.dModel());
        if (x.dataType() != cfg.dataType()) {
            throw new IllegalArgumentException("x has data type " + x.dataType() + ", the block was built for "
                    + cfg.dataType());
        }
        int b = (int) x.size(0);
        int t = (int) x.size(1);
        TitansBlockState s = state == null ? initialState(b) : state;
        requireConv(s, b);
        if (t == 0) {
            return new Forward<>(x.dup(), new TitansBlockState(TitansBlockState.copy(s.memory()), dup(s.convQ()),
                    dup(s.convK()), dup(s.convV()), false), null);
        }
        int h = cfg.heads();
        int dh = cfg.headDim();
        int d = cfg.dModel();
        long n = (long) b * t;
        INDArray x2 = x.dup('c').reshape(n, d);

        INDArray[] convState = {s.convQ(), s.convK(), s.convV()};
        INDArray[] xe = new INDArray[3];
        INDArray[] pre = new INDArray[3];
        INDArray[] act = new INDArray[3];
        for (int i = 0; i < 3; i++) {
            INDArray proj = x2.mmul(w[i].value());
            if (cfg.convKernel() > 0) {
                INDArray[] c = Fn.causalConv(proj.reshape(b, t, d), conv[i].value(), convState[i]);
                pre[i] = c[0].reshape(n, d);
                xe[i] = c[1];
            } else {
                pre[i] = proj;
            }
            act[i] = Fn.silu(pre[i]);
        }
        INDArray[] qn = Fn.l2NormRows(act[0].reshape(n * h, dh), QK_EPS);
        INDArray[] kn = Fn.l2NormRows(act[1].reshape(n * h, dh), QK_EPS);
        INDArray[] gate = new INDArray[3];
        for (int i = 0; i < 3; i++) {
            if (gateW[i] != null) {
                gate[i] = Fn.sigmoid(x2.mmul(gateW[i].value()).addiRowVector(gateB[i].value().reshape(1, h)));
            }
        }
        INDArray theta = gate[0].mul(cfg.thetaMax());
        TitansInputs in = new TitansInputs(qn[0].reshape(b, t, h, dh), kn[0].reshape(b, t, h, dh),
                act[2].reshape(b, t, h, dh), theta.reshape(b, t, h), gate[1] == null ? null : gate[1].reshape(b, t, h),
                gate[2].reshape(b, t, h), s.memory());
        TitansForward of = TitansOps.forward(cfg.memory(), in, training);

        INDArray o2 = of.y().reshape(n * h, dh);
        INDArray[] rn = Fn.rmsNormRows(o2, normW.value(), NORM_EPS);
        INDArray on = rn[0].reshape(n, d);
        INDArray gPre = x2.mmul(wG.value());
        INDArray og = on.mul(Fn.silu(gPre));
        INDArray y = og.mmul(wo.value()).reshape(b, t, d);
        int km1 = cfg.convKernel() - 1;
        TitansBlockState next = new TitansBlockState(of.finalState(), km1 > 0 ? Fn.lastSteps(xe[0], km1) : null,
                km1 > 0 ? Fn.lastSteps(xe[1], km1) : null, km1 > 0 ? Fn.lastSteps(xe[2], km1) : null, false);
        Saved saved = training ? new Saved(x2, xe, pre, qn[0], kn[0], qn[1], kn[1], gate, of, o2, rn[1], on, gPre, og,
                s.initial(), b, t) : null;
        return new Forward<>(y, next, saved);
    }

    private static INDArray dup(INDArray a) {
        return a == null ? null : a.dup();
    }

    @Override
    public Backward<TitansBlockState> backward(Forward<TitansBlockState> fwd, INDArray dy, TitansBlockState dState) {
        if (fwd.saved() == null) {
            if (dy.size(1) == 0) {
                return new Backward<>(dy.dup(), dState == null ? zerosLike(fwd.state()) : dState.copy());
            }
            throw new IllegalArgumentException("backward needs a forward pass run with training=true");
        }
        Saved s = (Saved) fwd.saved();
        int b = s.b();
        int t = s.t();
        int h = cfg.heads();
        int dh = cfg.headDim();
        int d = cfg.dModel();
        long n = (long) b * t;
        Shapes.require("dy", dy, "[B, T, D]", b, t, d);
        INDArray dy2 = dy.dup('c').reshape(n, d);
        INDArray dx2 = Nd4j.zeros(cfg.dataType(), n, d);

        wo.grad().addi(s.og().transpose().mmul(dy2));
        INDArray dOg = dy2.mmul(wo.value().transpose());
        INDArray dOn = dOg.mul(Fn.silu(s.gPre()));
        INDArray dG = Fn.siluBackward(s.gPre(), dOg.mul(s.on()));
        wG.grad().addi(s.x2().transpose().mmul(dG));
        dx2.addi(dG.mmul(wG.value().transpose()));
        INDArray[] rb = Fn.rmsNormRowsBackward(s.o2(), normW.value(), s.r(), dOn.reshape(n * h, dh));
        normW.grad().addi(rb[1].reshape(dh));
        TitansGrads og = TitansOps.backward(s.op(), rb[0].reshape(b, t, h, dh), dState == null ? null
                : dState.memory());

        // gates: θ = θ_max σ(z), η = σ(z), α = σ(z)
        INDArray[] dGate = {og.dTheta().reshape(n, h).mul(cfg.thetaMax()), og.dEta() == null ? null
                : og.dEta().reshape(n, h), og.dAlpha().reshape(n, h)};
        for (int i = 0; i < 3; i++) {
            if (gateW[i] == null) {
                continue;
            }
            INDArray sg = s.gate()[i];
            INDArray dz = dGate[i].mul(sg.rsub(1).muli(sg));
            gateB[i].grad().addi(dz.sum(0).reshape(h));
            gateW[i].grad().addi(s.x2().transpose().mmul(dz));
            dx2.addi(dz.mmul(gateW[i].value().transpose()));
        }
        INDArray dq = Fn.l2NormRowsBackward(s.q(), s.nq(), og.dq().reshape(n * h, dh)).reshape(n, d);
        INDArray dk = Fn.l2NormRowsBackward(s.k(), s.nk(), og.dk().reshape(n * h, dh)).reshape(n, d);
        INDArray[] dAct = {dq, dk, og.dv().reshape(n, d)};
        INDArray[] dNext = dState == null ? new INDArray[3]
                : new INDArray[] {dState.convQ(), dState.convK(), dState.convV()};
        INDArray[] dConvState = new INDArray[3];
        for (int i = 0; i < 3; i++) {
            INDArray dPre = Fn.siluBackward(s.pre()[i], dAct[i]);
            INDArray dProj = dPre;
            if (cfg.convKernel() > 0) {
                INDArray[] cb = Fn.causalConvBackward(s.xe()[i], conv[i].value(), dPre.reshape(b, t, d), dNext[i]);
                dProj = cb[0].reshape(n, d);
                conv[i].grad().addi(cb[1]);
                dConvState[i] = cb[2];
            }
            w[i].grad().addi(s.x2().transpose().mmul(dProj));
            dx2.addi(dProj.mmul(w[i].value().transpose()));
        }
        TitansState dMem = og.dInitialState();
        if (s.initial() && cfg.learnedInit()) {
            List<INDArray> dM0 = TitansState.sumOverBatch(dMem.memory());
            for (int l = 0; l < memInit.size(); l++) {
                memInit.get(l).grad().addi(dM0.get(l));
            }
        }
        return new Backward<>(dx2.reshape(b, t, d), new TitansBlockState(dMem, dConvState[0], dConvState[1],
                dConvState[2], false));
    }

    private static TitansBlockState zerosLike(TitansBlockState s) {
        TitansState m = s.memory();
        return new TitansBlockState(new TitansState(zeros(m.memory()), zeros(m.momentum()), zero(m.bufK()),
                zero(m.bufV()), zero(m.bufTheta()), zero(m.bufEta()), zero(m.bufAlpha())), zero(s.convQ()),
                zero(s.convK()), zero(s.convV()), false);
    }

    private static List<INDArray> zeros(List<INDArray> a) {
        return a == null ? null : a.stream().map(x -> Nd4j.zeros(x.dataType(), x.shape())).toList();
    }

    private static INDArray zero(INDArray a) {
        return a == null ? null : Nd4j.zeros(a.dataType(), a.shape());
    }

    @Override
    public Step<TitansBlockState> step(INDArray x, TitansBlockState state) {
        Shapes.require("x", x, "[B, D]", Shapes.ANY, cfg.dModel());
        Forward<TitansBlockState> f = forward(x.reshape(x.size(0), 1, cfg.dModel()), state, false);
        return new Step<>(f.y().reshape(x.size(0), cfg.dModel()), f.state());
    }
}
