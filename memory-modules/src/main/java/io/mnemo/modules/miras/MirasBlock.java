package io.mnemo.modules.miras;

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
 * The Miras layer (Behrouz et al. 2025, "It's All Connected", §5: the block of Moneta, Yaad and Memora,
 * built like the Titans LMM layer) around the memory op {@link MirasOps}, for any {@link MirasConfig}:
 * <pre>
 *   q, k, v  = silu(conv4(x W_q)), silu(conv4(x W_k)), silu(conv4(x W_v))       per head [D/H]
 *   q, k     = q / ‖q‖, k / ‖k‖
 *   θ        = θ_max · σ(x W_θ + b_θ)                                           [B, T, H]
 *   η        = σ(x W_η + b_η)                       (momentum rules)            [B, T, H]
 *   decay    = σ(x W_a + b_a)                       (gated retentions)          [B, T, H] or [B, T, H, D/H]
 *   δ        = softplus(x W_δ + b_δ) + 1e-3         (biases with a token parameter, e.g. Yaad's Huber δ_t)
 *   o, S     = Miras(q, k, v, θ, η, decay, δ; S₀)                               S₀ from the learned M₀
 *   y        = (RMSNorm_w(o) ⊙ silu(x W_g)) W_o                                 per-head norm
 * </pre>
 * Initialisation: projections N(0, 1/fan_in); conv U(−1/√K, 1/√K); b_θ = b_η = b_δ = 0, b_a = 4 (decay ≈
 * 0.98); the learned initial memory (the retention's carried state) per layer N(0, 1/cols). Shapes: x and
 * y {@code [B, T, D]}. {@link #backward} is written by hand in reverse order around the op's exact backward.
 */
public final class MirasBlock implements Mixer<MirasBlockState> {
    private static final double QK_EPS = 1e-6;
    private static final double NORM_EPS = 1e-6;
    private static final double DELTA_MIN = 1e-3;

    private final MirasBlockConfig cfg;
    private final List<Parameter> params = new ArrayList<>();
    private final Parameter[] w = new Parameter[3];
    private final Parameter[] conv = new Parameter[3];
    /** θ, η, decay, δ. */
    private final Parameter[] gateW = new Parameter[4];
    private final Parameter[] gateB = new Parameter[4];
    private final int[] gateWidth = new int[4];
    private final List<Parameter> memInit = new ArrayList<>();
    private final Parameter normW;
    private final Parameter wG;
    private final Parameter wo;

    public MirasBlock(MirasBlockConfig cfg) {
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
        MirasConfig m = cfg.memory();
        gateWidth[0] = 1;
        gateWidth[1] = m.rule().momentum() ? 1 : 0;
        gateWidth[2] = switch (m.retention().gateShape()) {
            case NONE -> 0;
            case SCALAR -> 1;
            case PER_KEY -> cfg.headDim();
        };
        gateWidth[3] = m.bias().tokenParameter() ? 1 : 0;
        String[] gates = {"theta", "eta", "decay", "delta"};
        double[] bias = {0, 0, 4, 0};
        for (int i = 0; i < 4; i++) {
            if (gateWidth[i] == 0) {
                continue;
            }
            int width = h * gateWidth[i];
            gateW[i] = add("w_" + gates[i], Init.normal(t, rng, 1 / Math.sqrt(d), d, width));
            gateB[i] = add("b_" + gates[i], Nd4j.valueArrayOf(new long[] {width}, bias[i], t));
        }
        MemoryShape s = m.shape(cfg.headDim(), cfg.headDim());
        for (int l = 0; l < s.depth(); l++) {
            memInit.add(add("mem_init_" + l, Init.normal(t, rng, 1 / Math.sqrt(s.cols(l)), h, s.rows(l), s.cols(l))));
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
    public MirasBlockConfig config() {
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

    /** The learned initial memory tiled over the batch, zero momentum, empty open chunk, zero conv state. */
    @Override
    public MirasBlockState initialState(int batch) {
        Shapes.requirePositive("batch", batch);
        DataType t = cfg.dataType();
        List<INDArray> mem = new ArrayList<>();
        for (Parameter p : memInit) {
            long[] s = p.value().shape();
            mem.add(p.value().reshape(1, s[0], s[1], s[2]).broadcast(batch, s[0], s[1], s[2]).dup('c'));
        }
        int km1 = cfg.convKernel() - 1;
        int d = cfg.dModel();
        return new MirasBlockState(MirasState.ofMemory(cfg.memory(), mem), km1 > 0 ? Nd4j.zeros(t, batch, km1, d) : null,
                km1 > 0 ? Nd4j.zeros(t, batch, km1, d) : null, km1 > 0 ? Nd4j.zeros(t, batch, km1, d) : null, true);
    }

    private record Saved(INDArray x2, INDArray[] xe, INDArray[] pre, INDArray q, INDArray k, INDArray nq,
            INDArray nk, INDArray[] gz, INDArray[] gate, MirasForward op, INDArray o2, INDArray r, INDArray on,
            INDArray gPre, boolean initial, int b, int t) {}

    @Override
    public Forward<MirasBlockState> forward(INDArray x, MirasBlockState state, boolean training) {
        Shapes.require("x", x, "[B, T, D]", Shapes.ANY, Shapes.ANY, cfg.dModel());
        if (x.dataType() != cfg.dataType()) {
            throw new IllegalArgumentException("x has data type " + x.dataType() + ", the block was built for "
                    + cfg.dataType());
        }
        int b = (int) x.size(0);
        int t = (int) x.size(1);
        MirasBlockState s = state == null ? initialState(b) : state;
        int km1 = cfg.convKernel() - 1;
        if (km1 > 0) {
            Shapes.require("state.convQ", s.convQ(), "[B, K-1, D]", b, km1, cfg.dModel());
            Shapes.require("state.convK", s.convK(), "[B, K-1, D]", b, km1, cfg.dModel());
            Shapes.require("state.convV", s.convV(), "[B, K-1, D]", b, km1, cfg.dModel());
        }
        if (s.memory() == null) {
            throw new IllegalArgumentException("state.memory is missing");
        }
        if (t == 0) {
            return new Forward<>(x.dup(), new MirasBlockState(MirasBlockState.copy(s.memory()), dup(s.convQ()),
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
        INDArray[] gz = new INDArray[4];
        INDArray[] gate = new INDArray[4];
        INDArray[] in4 = new INDArray[4];
        for (int i = 0; i < 4; i++) {
            if (gateW[i] == null) {
                continue;
            }
            gz[i] = x2.mmul(gateW[i].value()).addiRowVector(gateB[i].value().reshape(1, h * gateWidth[i]));
            gate[i] = i == 3 ? Fn.softplus(gz[i]).addi(DELTA_MIN) : Fn.sigmoid(gz[i]);
            INDArray g = i == 0 ? gate[i].mul(cfg.thetaMax()) : gate[i];
            in4[i] = gateWidth[i] == 1 ? g.reshape(b, t, h) : g.reshape(b, t, h, gateWidth[i]);
        }
        MirasInputs in = new MirasInputs(qn[0].reshape(b, t, h, dh), kn[0].reshape(b, t, h, dh),
                act[2].reshape(b, t, h, dh), in4[0], in4[1], in4[2], in4[3], s.memory());
        MirasForward of = MirasOps.forward(cfg.memory(), in, training);
        INDArray o2 = of.y().reshape(n * h, dh);
        INDArray[] rn = Fn.rmsNormRows(o2, normW.value(), NORM_EPS);
        INDArray on = rn[0].reshape(n, d);
        INDArray gPre = x2.mmul(wG.value());
        INDArray og = on.mul(Fn.silu(gPre));
        INDArray y = og.mmul(wo.value()).reshape(b, t, d);
        MirasBlockState next = new MirasBlockState(of.finalState(), km1 > 0 ? Fn.lastSteps(xe[0], km1) : null,
                km1 > 0 ? Fn.lastSteps(xe[1], km1) : null, km1 > 0 ? Fn.lastSteps(xe[2], km1) : null, false);
        Saved saved = training ? new Saved(x2, xe, pre, qn[0], kn[0], qn[1], kn[1], gz, gate, of, o2, rn[1], on, gPre,
                s.initial(), b, t) : null;
        return new Forward<>(y, next, saved);
    }

    private static INDArray dup(INDArray a) {
        return a == null ? null : a.dup();
    }

    @Override
    public Backward<MirasBlockState> backward(Forward<MirasBlockState> fwd, INDArray dy, MirasBlockState dState) {
        if (fwd.saved() == null) {
            throw new IllegalArgumentException("backward needs a forward pass run with training=true (and T > 0)");
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

        INDArray og = s.on().mul(Fn.silu(s.gPre()));
        wo.grad().addi(og.transpose().mmul(dy2));
        INDArray dOg = dy2.mmul(wo.value().transpose());
        INDArray dOn = dOg.mul(Fn.silu(s.gPre()));
        INDArray dG = Fn.siluBackward(s.gPre(), dOg.mul(s.on()));
        wG.grad().addi(s.x2().transpose().mmul(dG));
        dx2.addi(dG.mmul(wG.value().transpose()));
        INDArray[] rb = Fn.rmsNormRowsBackward(s.o2(), normW.value(), s.r(), dOn.reshape(n * h, dh));
        normW.grad().addi(rb[1].reshape(dh));
        MirasGrads og2 = MirasOps.backward(s.op(), rb[0].reshape(b, t, h, dh), dState == null ? null : dState.memory());

        INDArray[] dGate = {og2.dTheta(), og2.dEta(), og2.dDecay(), og2.dParam()};
        for (int i = 0; i < 4; i++) {
            if (gateW[i] == null) {
                continue;
            }
            int width = h * gateWidth[i];
            INDArray dg = dGate[i].reshape(n, width);
            INDArray dz;
            if (i == 3) {
                dz = dg.mul(Fn.sigmoid(s.gz()[i]));
            } else {
                INDArray sg = s.gate()[i];
                dz = dg.mul(sg.rsub(1).muli(sg));
                if (i == 0) {
                    dz.muli(cfg.thetaMax());
                }
            }
            gateB[i].grad().addi(dz.sum(0).reshape(width));
            gateW[i].grad().addi(s.x2().transpose().mmul(dz));
            dx2.addi(dz.mmul(gateW[i].value().transpose()));
        }
        INDArray dq = Fn.l2NormRowsBackward(s.q(), s.nq(), og2.dq().reshape(n * h, dh)).reshape(n, d);
        INDArray dk = Fn.l2NormRowsBackward(s.k(), s.nk(), og2.dk().reshape(n * h, dh)).reshape(n, d);
        INDArray[] dAct = {dq, dk, og2.dv().reshape(n, d)};
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
        MirasState dMem = og2.dInitialState();
        if (s.initial()) {
            for (int l = 0; l < memInit.size(); l++) {
                memInit.get(l).grad().addi(dMem.memory().get(l).sum(0));
            }
        }
        return new Backward<>(dx2.reshape(b, t, d), new MirasBlockState(dMem, dConvState[0], dConvState[1],
                dConvState[2], false));
    }

    @Override
    public Step<MirasBlockState> step(INDArray x, MirasBlockState state) {
        Shapes.require("x", x, "[B, D]", Shapes.ANY, cfg.dModel());
        Forward<MirasBlockState> f = forward(x.reshape(x.size(0), 1, cfg.dModel()), state, false);
        return new Step<>(f.y().reshape(x.size(0), cfg.dModel()), f.state());
    }
}
