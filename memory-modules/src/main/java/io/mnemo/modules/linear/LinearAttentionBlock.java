package io.mnemo.modules.linear;

import io.mnemo.core.Mixer;
import io.mnemo.core.Parameter;
import io.mnemo.core.Shapes;
import io.mnemo.core.nn.Fn;
import io.mnemo.core.nn.Init;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import java.util.Random;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The layer around a linear-family memory, as in the Gated DeltaNet and flash-linear-attention layers
 * (Yang et al. 2024, "Gated Delta Networks"; fla's {@code GatedDeltaNet}/{@code GLA} layers):
 * <pre>
 *   q, k, v  = silu(conv4(x W_q)), silu(conv4(x W_k)), silu(conv4(x W_v))      per head: [Dk], [Dk], [Dv]
 *   q, k     = q / ‖q‖, k / ‖k‖                                                 if qkNorm
 *   β        = σ(x W_β)                                                         delta rules
 *   g        = −exp(A_log) · softplus(x W_a + dt_bias)                          simple_gla, gated_delta_rule
 *   gk       = log σ(x W_gk) / 16                                               gla (fla's gate normaliser)
 *   o, S     = op(q, k, v, g | gk, β; S₀)
 *   y        = (RMSNorm_w(o) ⊙ silu(x W_g)) W_o                                 per head norm, shared weight [Dv]
 * </pre>
 * Shapes: x and y {@code [B, T, D]}; every step above is a whole-array ND4J op or the op's kernel, and
 * {@link #backward} is written out by hand in reverse order. Initialisation: projections
 * N(0, 1/fan_in); conv weights U(−1/√K, 1/√K); A_log = log U(1, 16); dt_bias = softplus⁻¹ of a
 * log-uniform dt in [1e-3, 0.1] (Mamba-2 / Gated DeltaNet).
 */
public final class LinearAttentionBlock implements Mixer<LinearBlockState> {
    private static final double QK_EPS = 1e-6;
    private static final double NORM_EPS = 1e-6;
    private static final double GLA_NORMALISER = 16.0;

    private final LinearBlockConfig cfg;
    private final LinearOpConfig opCfg;
    private final List<Parameter> params = new ArrayList<>();
    private final Parameter wq;
    private final Parameter wk;
    private final Parameter wv;
    private final Parameter convQ;
    private final Parameter convK;
    private final Parameter convV;
    private final Parameter wBeta;
    private final Parameter wA;
    private final Parameter aLog;
    private final Parameter dtBias;
    private final Parameter wGk;
    private final Parameter normW;
    private final Parameter wG;
    private final Parameter wo;

    public LinearAttentionBlock(LinearBlockConfig cfg) {
        this.cfg = cfg;
        this.opCfg = new LinearOpConfig(cfg.op(), cfg.backend(), Double.NaN, cfg.chunkSize(), false);
        Random rng = new Random(cfg.seed());
        DataType t = cfg.dataType();
        int d = cfg.dModel();
        int hk = cfg.heads() * cfg.headDimK();
        int hv = cfg.heads() * cfg.headDimV();
        int h = cfg.heads();
        wq = add("w_q", Init.normal(t, rng, 1 / Math.sqrt(d), d, hk));
        wk = add("w_k", Init.normal(t, rng, 1 / Math.sqrt(d), d, hk));
        wv = add("w_v", Init.normal(t, rng, 1 / Math.sqrt(d), d, hv));
        int kc = cfg.convKernel();
        if (kc > 0) {
            double bound = 1 / Math.sqrt(kc);
            convQ = add("conv_q", Init.uniform(t, rng, kc, hk).muli(2 * bound).subi(bound));
            convK = add("conv_k", Init.uniform(t, rng, kc, hk).muli(2 * bound).subi(bound));
            convV = add("conv_v", Init.uniform(t, rng, kc, hv).muli(2 * bound).subi(bound));
        } else {
            convQ = convK = convV = null;
        }
        wBeta = cfg.op().delta() ? add("w_beta", Init.normal(t, rng, 1 / Math.sqrt(d), d, h)) : null;
        if (cfg.op().scalarGate()) {
            wA = add("w_a", Init.normal(t, rng, 1 / Math.sqrt(d), d, h));
            aLog = add("a_log", Transforms.log(Init.uniform(t, rng, h).muli(15).addi(1), false));
            INDArray dt = Transforms.exp(Init.uniform(t, rng, h)
                    .muli(Math.log(0.1) - Math.log(1e-3)).addi(Math.log(1e-3)), false);
            // softplus⁻¹(dt) = dt + log(1 − e^{−dt})
            dtBias = add("dt_bias", dt.add(Transforms.log(Transforms.exp(dt.neg(), false).rsubi(1), false)));
        } else {
            wA = aLog = dtBias = null;
        }
        wGk = cfg.op().vectorGate() ? add("w_gk", Init.normal(t, rng, 1 / Math.sqrt(d), d, hk)) : null;
        normW = add("norm_w", Nd4j.ones(t, cfg.headDimV()));
        wG = cfg.outputGate() ? add("w_g", Init.normal(t, rng, 1 / Math.sqrt(d), d, hv)) : null;
        wo = add("w_o", Init.normal(t, rng, 1 / Math.sqrt(hv), hv, d));
    }

    private Parameter add(String name, INDArray v) {
        Parameter p = Parameter.of(name, v);
        params.add(p);
        return p;
    }

    /** The configuration. */
    public LinearBlockConfig config() {
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

    @Override
    public LinearBlockState initialState(int batch) {
        Shapes.requirePositive("batch", batch);
        DataType t = cfg.dataType();
        int km1 = cfg.convKernel() - 1;
        int hk = cfg.heads() * cfg.headDimK();
        int hv = cfg.heads() * cfg.headDimV();
        return new LinearBlockState(Nd4j.zeros(t, batch, cfg.heads(), cfg.headDimK(), cfg.headDimV()),
                km1 > 0 ? Nd4j.zeros(t, batch, km1, hk) : null, km1 > 0 ? Nd4j.zeros(t, batch, km1, hk) : null,
                km1 > 0 ? Nd4j.zeros(t, batch, km1, hv) : null);
    }

    /** What backward needs. */
    /** Checks a carried state against this block: memory and (when the block convolves) the conv tails. */
    private void requireState(LinearBlockState s, int b) {
        Shapes.require("state.memory", s.memory(), "[B, H, Dk, Dv]", b, cfg.heads(), cfg.headDimK(), cfg.headDimV());
        int km1 = cfg.convKernel() - 1;
        if (cfg.convKernel() > 0) {
            int hk = cfg.heads() * cfg.headDimK();
            int hv = cfg.heads() * cfg.headDimV();
            Shapes.require("state.convQ", s.convQ(), "[B, K-1, H*Dk]", b, km1, hk);
            Shapes.require("state.convK", s.convK(), "[B, K-1, H*Dk]", b, km1, hk);
            Shapes.require("state.convV", s.convV(), "[B, K-1, H*Dv]", b, km1, hv);
        } else if (s.convQ() != null || s.convK() != null || s.convV() != null) {
            throw new IllegalArgumentException("state carries convolution tails but the block has convKernel = 0");
        }
    }

    private record Saved(INDArray x2, INDArray[] conv, INDArray[] pre, INDArray[] act, INDArray nq, INDArray nk,
            INDArray q, INDArray k, INDArray beta, INDArray z, INDArray gkPre, LinearForward op, INDArray o2,
            INDArray r, INDArray on, INDArray gPre, INDArray og, int b, int t) {}

    @Override
    public Forward<LinearBlockState> forward(INDArray x, LinearBlockState state, boolean training) {
        Shapes.require("x", x, "[B, T, D]", Shapes.ANY, Shapes.ANY, cfg.dModel());
        if (x.dataType() != cfg.dataType()) {
            throw new IllegalArgumentException("x has data type " + x.dataType() + ", the block was built for "
                    + cfg.dataType());
        }
        int b = (int) x.size(0);
        int t = (int) x.size(1);
        LinearBlockState s = state == null ? initialState(b) : state;
        requireState(s, b);
        if (t == 0) {
            return new Forward<>(x.dup(), s.copy(), null);
        }
        int h = cfg.heads();
        int dk = cfg.headDimK();
        int dv = cfg.headDimV();
        long n = (long) b * t;
        INDArray x2 = x.dup('c').reshape(n, cfg.dModel());

        // projections, short convolutions, SiLU
        INDArray[] proj = {x2.mmul(wq.value()), x2.mmul(wk.value()), x2.mmul(wv.value())};
        INDArray[] convW = {p(convQ), p(convK), p(convV)};
        INDArray[] convState = {s.convQ(), s.convK(), s.convV()};
        INDArray[] pre = new INDArray[3];
        INDArray[] xe = new INDArray[3];
        INDArray[] act = new INDArray[3];
        for (int i = 0; i < 3; i++) {
            if (cfg.convKernel() > 0) {
                INDArray[] c = Fn.causalConv(proj[i].reshape(b, t, proj[i].size(1)), convW[i], convState[i]);
                pre[i] = c[0].reshape(n, proj[i].size(1));
                xe[i] = c[1];
            } else {
                pre[i] = proj[i];
            }
            act[i] = Fn.silu(pre[i]);
        }
        INDArray q = act[0];
        INDArray k = act[1];
        INDArray nq = null;
        INDArray nk = null;
        if (cfg.qkNorm()) {
            INDArray[] a = Fn.l2NormRows(q.reshape(n * h, dk), QK_EPS);
            INDArray[] c = Fn.l2NormRows(k.reshape(n * h, dk), QK_EPS);
            q = a[0].reshape(n, (long) h * dk);
            nq = a[1];
            k = c[0].reshape(n, (long) h * dk);
            nk = c[1];
        }
        INDArray beta = cfg.op().delta() ? Fn.sigmoid(x2.mmul(wBeta.value())) : null;
        INDArray z = null;
        INDArray g = null;
        if (cfg.op().scalarGate()) {
            z = x2.mmul(wA.value()).addiRowVector(dtBias.value().reshape(1, h));
            g = Fn.softplus(z).muliRowVector(Transforms.exp(aLog.value(), true).negi().reshape(1, h));
        }
        INDArray gkPre = null;
        INDArray gk = null;
        if (cfg.op().vectorGate()) {
            gkPre = x2.mmul(wGk.value());
            gk = Fn.logSigmoid(gkPre).divi(GLA_NORMALISER);
        }
        LinearInputs in = new LinearInputs(q.reshape(b, t, h, dk), k.reshape(b, t, h, dk), act[2].reshape(b, t, h, dv),
                g == null ? null : g.reshape(b, t, h), gk == null ? null : gk.reshape(b, t, h, dk),
                beta == null ? null : beta.reshape(b, t, h), s.memory());
        LinearForward of = LinearOps.forward(opCfg, in, training);

        // per-head RMSNorm, output gate, projection
        INDArray o2 = of.o().reshape(n * h, dv);
        INDArray[] rn = Fn.rmsNormRows(o2, normW.value(), NORM_EPS);
        INDArray on = rn[0].reshape(n, (long) h * dv);
        INDArray gPre = null;
        INDArray og = on;
        if (cfg.outputGate()) {
            gPre = x2.mmul(wG.value());
            og = on.mul(Fn.silu(gPre));
        }
        INDArray y = og.mmul(wo.value()).reshape(b, t, cfg.dModel());
        int km1 = cfg.convKernel() - 1;
        LinearBlockState next = new LinearBlockState(of.finalState(),
                km1 > 0 ? Fn.lastSteps(xe[0], km1) : null, km1 > 0 ? Fn.lastSteps(xe[1], km1) : null,
                km1 > 0 ? Fn.lastSteps(xe[2], km1) : null);
        Saved saved = training ? new Saved(x2, xe, pre, act, nq, nk, q, k, beta, z, gkPre, of, o2, rn[1], on, gPre, og,
                b, t) : null;
        return new Forward<>(y, next, saved);
    }

    private static INDArray p(Parameter p) {
        return p == null ? null : p.value();
    }

    @Override
    public Backward<LinearBlockState> backward(Forward<LinearBlockState> fwd, INDArray dy, LinearBlockState dState) {
        int h = cfg.heads();
        int dk = cfg.headDimK();
        int dv = cfg.headDimV();
        if (fwd.saved() == null) {
            if (dy.size(1) == 0) {
                return new Backward<>(dy.dup(), dState == null ? initialState((int) dy.size(0)) : dState.copy());
            }
            throw new IllegalArgumentException("backward needs a forward pass run with training=true");
        }
        Saved s = (Saved) fwd.saved();
        int b = s.b();
        int t = s.t();
        long n = (long) b * t;
        Shapes.require("dy", dy, "[B, T, D]", b, t, cfg.dModel());
        INDArray dy2 = dy.dup('c').reshape(n, cfg.dModel());

        wo.grad().addi(s.og().transpose().mmul(dy2));
        INDArray dOg = dy2.mmul(wo.value().transpose());
        INDArray dx2 = Nd4j.zeros(cfg.dataType(), n, cfg.dModel());
        INDArray dOn = dOg;
        if (cfg.outputGate()) {
            dOn = dOg.mul(Fn.silu(s.gPre()));
            INDArray dG = Fn.siluBackward(s.gPre(), dOg.mul(s.on()));
            wG.grad().addi(s.x2().transpose().mmul(dG));
            dx2.addi(dG.mmul(wG.value().transpose()));
        }
        INDArray[] rb = Fn.rmsNormRowsBackward(s.o2(), normW.value(), s.r(), dOn.reshape(n * h, dv));
        normW.grad().addi(rb[1].reshape(dv));
        INDArray dO = rb[0].reshape(b, t, h, dv);
        LinearGrads og = LinearOps.backward(s.op(), dO, dState == null ? null : dState.memory());

        if (cfg.op().delta()) {
            INDArray dz = og.dbeta().reshape(n, h).mul(s.beta().rsub(1).muli(s.beta()));
            wBeta.grad().addi(s.x2().transpose().mmul(dz));
            dx2.addi(dz.mmul(wBeta.value().transpose()));
        }
        if (cfg.op().scalarGate()) {
            INDArray dg = og.dg().reshape(n, h);
            INDArray expA = Transforms.exp(aLog.value(), true).reshape(1, h);
            // g = −e^{A} softplus(z):  ∂g/∂A = g,  ∂g/∂z = −e^{A} σ(z)
            INDArray sp = Fn.softplus(s.z());
            aLog.grad().addi(dg.mul(sp).muliRowVector(expA).negi().sum(0).reshape(h));
            INDArray dz = dg.mul(Fn.sigmoid(s.z())).muliRowVector(expA).negi();
            dtBias.grad().addi(dz.sum(0).reshape(h));
            wA.grad().addi(s.x2().transpose().mmul(dz));
            dx2.addi(dz.mmul(wA.value().transpose()));
        }
        if (cfg.op().vectorGate()) {
            // gk = log σ(u) / 16:  ∂gk/∂u = (1 − σ(u)) / 16
            INDArray du = og.dgk().reshape(n, (long) h * dk).mul(Fn.sigmoid(s.gkPre()).rsubi(1)).divi(GLA_NORMALISER);
            wGk.grad().addi(s.x2().transpose().mmul(du));
            dx2.addi(du.mmul(wGk.value().transpose()));
        }
        INDArray dq = og.dq().reshape(n, (long) h * dk);
        INDArray dk2 = og.dk().reshape(n, (long) h * dk);
        if (cfg.qkNorm()) {
            dq = Fn.l2NormRowsBackward(s.q().reshape(n * h, dk), s.nq(), dq.reshape(n * h, dk)).reshape(n, (long) h * dk);
            dk2 = Fn.l2NormRowsBackward(s.k().reshape(n * h, dk), s.nk(), dk2.reshape(n * h, dk)).reshape(n, (long) h * dk);
        }
        INDArray[] dAct = {dq, dk2, og.dv().reshape(n, (long) h * dv)};
        Parameter[] w = {wq, wk, wv};
        Parameter[] cw = {convQ, convK, convV};
        INDArray[] dConvState = new INDArray[3];
        INDArray[] dNext = dState == null ? new INDArray[3] : new INDArray[] {dState.convQ(), dState.convK(), dState.convV()};
        for (int i = 0; i < 3; i++) {
            INDArray dPre = Fn.siluBackward(s.pre()[i], dAct[i]);
            INDArray dProj = dPre;
            if (cfg.convKernel() > 0) {
                INDArray[] cb = Fn.causalConvBackward(s.conv()[i], cw[i].value(), dPre.reshape(b, t, dPre.size(1)),
                        dNext[i]);
                dProj = cb[0].reshape(n, dPre.size(1));
                cw[i].grad().addi(cb[1]);
                dConvState[i] = cb[2];
            }
            w[i].grad().addi(s.x2().transpose().mmul(dProj));
            dx2.addi(dProj.mmul(w[i].value().transpose()));
        }
        LinearBlockState dIn = new LinearBlockState(og.dInitialState(), dConvState[0], dConvState[1], dConvState[2]);
        return new Backward<>(dx2.reshape(b, t, cfg.dModel()), dIn);
    }

    @Override
    public Step<LinearBlockState> step(INDArray x, LinearBlockState state) {
        Shapes.require("x", x, "[B, D]", Shapes.ANY, cfg.dModel());
        Forward<LinearBlockState> f = forward(x.reshape(x.size(0), 1, cfg.dModel()), state, false);
        return new Step<>(f.y().reshape(x.size(0), cfg.dModel()), f.state());
    }
}
