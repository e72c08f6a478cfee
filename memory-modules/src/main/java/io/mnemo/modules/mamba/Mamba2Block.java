package io.mnemo.modules.mamba;

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
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The Mamba-2 layer (Dao and Gu 2024, "Transformers are SSMs"; mamba_ssm's {@code Mamba2} module with
 * {@code rmsnorm=True, norm_before_gate=False}), written out with the inner width {@code I = E·D},
 * {@code H = I / P} heads, {@code G} groups of B/C:
 * <pre>
 *   z           = x W_z                                            [I]      (in_proj split into
 *   xs, B, C    = silu(conv4(x W_x) + b_x), silu(conv4(x W_B) + b_B), silu(conv4(x W_C) + b_C)
 *                                                                  [H·P], [G·N], [G·N]      z, xBC, dt)
 *   Δ           = softplus(x W_dt + dt_bias)                       [H]
 *   A           = −exp(A_log)                                      [H]
 *   y, S        = SSD(X = Δ·xs, A·Δ, B, C; S₀) + D ⊙ xs             {@link Ssd}
 *   out         = (RMSNorm_group(y ⊙ silu(z)) ⊙ w_norm) W_out       norm over each group's I/G features
 * </pre>
 * The conv over xBC of the reference is depthwise, so three convolutions over x, B and C are the same
 * computation with separately named weights. Initialisation as mamba_ssm: dt_bias = softplus⁻¹ of a
 * log-uniform Δ in [1e-3, 0.1], A_log = log U(1, 16), D = 1, norm weight 1; projections N(0, 1/fan_in);
 * conv weights and biases U(−1/√K, 1/√K). Shapes: x and y {@code [B, T, D]}. {@link #backward} is
 * written out by hand in reverse order; {@link #step} is the forward with T = 1.
 */
public final class Mamba2Block implements Mixer<Mamba2State> {
    private static final double NORM_EPS = 1e-5;

    private final Mamba2Config cfg;
    private final List<Parameter> params = new ArrayList<>();
    private final Parameter wz;
    private final Parameter[] wIn = new Parameter[3];
    private final Parameter[] conv = new Parameter[3];
    private final Parameter[] convBias = new Parameter[3];
    private final Parameter wDt;
    private final Parameter dtBias;
    private final Parameter aLog;
    private final Parameter dSkip;
    private final Parameter normW;
    private final Parameter wOut;

    public Mamba2Block(Mamba2Config cfg) {
        this.cfg = cfg;
        Random rng = new Random(cfg.seed());
        DataType t = cfg.dataType();
        int d = cfg.dModel();
        int h = cfg.heads();
        int[] widths = widths();
        String[] names = {"x", "b", "c"};
        wz = add("w_z", Init.normal(t, rng, 1 / Math.sqrt(d), d, cfg.inner()));
        for (int i = 0; i < 3; i++) {
            wIn[i] = add("w_" + names[i], Init.normal(t, rng, 1 / Math.sqrt(d), d, widths[i]));
        }
        int kc = cfg.convKernel();
        if (kc > 0) {
            double bound = 1 / Math.sqrt(kc);
            for (int i = 0; i < 3; i++) {
                conv[i] = add("conv_" + names[i], Init.uniform(t, rng, kc, widths[i]).muli(2 * bound).subi(bound));
                convBias[i] = add("conv_" + names[i] + "_bias", Init.uniform(t, rng, widths[i]).muli(2 * bound)
                        .subi(bound));
            }
        }
        wDt = add("w_dt", Init.normal(t, rng, 1 / Math.sqrt(d), d, h));
        INDArray dt = Transforms.exp(Init.uniform(t, rng, h).muli(Math.log(0.1) - Math.log(1e-3)).addi(Math.log(1e-3)),
                false);
        // softplus⁻¹(dt) = dt + log(1 − e^{−dt})
        dtBias = add("dt_bias", dt.add(Transforms.log(Transforms.exp(dt.neg(), false).rsubi(1), false)));
        aLog = add("a_log", Transforms.log(Init.uniform(t, rng, h).muli(15).addi(1), false));
        dSkip = add("d", Nd4j.ones(t, h));
        normW = add("norm_w", Nd4j.ones(t, cfg.inner()));
        wOut = add("w_out", Init.normal(t, rng, 1 / Math.sqrt(cfg.inner()), cfg.inner(), d));
    }

    private int[] widths() {
        int gn = cfg.groups() * cfg.stateSize();
        return new int[] {cfg.inner(), gn, gn};
    }

    private Parameter add(String name, INDArray v) {
        Parameter p = Parameter.of(name, v);
        params.add(p);
        return p;
    }

    /** The configuration. */
    public Mamba2Config config() {
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
    public Mamba2State initialState(int batch) {
        Shapes.requirePositive("batch", batch);
        DataType t = cfg.dataType();
        int km1 = cfg.convKernel() - 1;
        int[] w = widths();
        return new Mamba2State(Nd4j.zeros(t, batch, cfg.heads(), cfg.headDim(), cfg.stateSize()),
                km1 > 0 ? Nd4j.zeros(t, batch, km1, w[0]) : null, km1 > 0 ? Nd4j.zeros(t, batch, km1, w[1]) : null,
                km1 > 0 ? Nd4j.zeros(t, batch, km1, w[2]) : null);
    }

    private void requireState(Mamba2State s, int b) {
        Shapes.require("state.ssm", s.ssm(), "[B, H, P, N]", b, cfg.heads(), cfg.headDim(), cfg.stateSize());
        int km1 = cfg.convKernel() - 1;
        int[] w = widths();
        if (km1 > 0) {
            Shapes.require("state.convX", s.convX(), "[B, K-1, E*D]", b, km1, w[0]);
            Shapes.require("state.convB", s.convB(), "[B, K-1, G*N]", b, km1, w[1]);
            Shapes.require("state.convC", s.convC(), "[B, K-1, G*N]", b, km1, w[2]);
        }
    }

    private record Saved(INDArray x2, INDArray zPre, INDArray[] xe, INDArray[] pre, INDArray[] act, INDArray dtPre,
            INDArray dt, INDArray a, Ssd.Result ssd, INDArray y1, INDArray u, INDArray r, INDArray rn,
            INDArray normed, int b, int t) {}

    @Override
    public Forward<Mamba2State> forward(INDArray x, Mamba2State state, boolean training) {
        Shapes.require("x", x, "[B, T, D]", Shapes.ANY, Shapes.ANY, cfg.dModel());
        if (x.dataType() != cfg.dataType()) {
            throw new IllegalArgumentException("x has data type " + x.dataType() + ", the block was built for "
                    + cfg.dataType());
        }
        int b = (int) x.size(0);
        int t = (int) x.size(1);
        Mamba2State s = state == null ? initialState(b) : state;
        requireState(s, b);
        if (t == 0) {
            return new Forward<>(x.dup(), s.copy(), null);
        }
        int h = cfg.heads();
        int p = cfg.headDim();
        int g = cfg.groups();
        int nState = cfg.stateSize();
        int inner = cfg.inner();
        long n = (long) b * t;
        INDArray x2 = x.dup('c').reshape(n, cfg.dModel());

        INDArray zPre = x2.mmul(wz.value());
        INDArray[] convState = {s.convX(), s.convB(), s.convC()};
        INDArray[] xe = new INDArray[3];
        INDArray[] pre = new INDArray[3];
        INDArray[] act = new INDArray[3];
        for (int i = 0; i < 3; i++) {
            INDArray proj = x2.mmul(wIn[i].value());
            if (cfg.convKernel() > 0) {
                INDArray[] c = Fn.causalConv(proj.reshape(b, t, proj.size(1)), conv[i].value(), convState[i]);
                pre[i] = c[0].reshape(n, proj.size(1)).addiRowVector(convBias[i].value().reshape(1, -1));
                xe[i] = c[1];
            } else {
                pre[i] = proj;
            }
            act[i] = Fn.silu(pre[i]);
        }
        INDArray dtPre = x2.mmul(wDt.value()).addiRowVector(dtBias.value().reshape(1, h));
        INDArray dt = Fn.softplus(dtPre);
        INDArray a = Transforms.exp(aLog.value(), true).negi().reshape(1, h);
        INDArray xs = act[0].reshape(n, h, p);
        INDArray xdt = xs.mul(dt.reshape(n, h, 1).broadcast(n, h, p));
        INDArray adt = dt.mulRowVector(a);
        Ssd.Result ssd = Ssd.forward(xdt.reshape(b, t, h, p), adt.reshape(b, t, h), act[1].reshape(b, t, g, nState),
                act[2].reshape(b, t, g, nState), cfg.chunkSize(), s.ssm(), cfg.backend(), training);
        INDArray y1 = ssd.y().reshape(n, (long) h * p).add(act[0].mulRowVector(skipPerChannel()));
        INDArray u = y1.mul(Fn.silu(zPre));
        INDArray[] rnr = Fn.rmsNormRows(u.reshape(n * g, inner / g), Nd4j.ones(cfg.dataType(), inner / g), NORM_EPS);
        INDArray rn = rnr[0].reshape(n, inner);
        INDArray normed = rn.mulRowVector(normW.value().reshape(1, inner));
        INDArray y = normed.mmul(wOut.value()).reshape(b, t, cfg.dModel());
        int km1 = cfg.convKernel() - 1;
        Mamba2State next = new Mamba2State(ssd.finalState(), km1 > 0 ? Fn.lastSteps(xe[0], km1) : null,
                km1 > 0 ? Fn.lastSteps(xe[1], km1) : null, km1 > 0 ? Fn.lastSteps(xe[2], km1) : null);
        Saved saved = training ? new Saved(x2, zPre, xe, pre, act, dtPre, dt, a, ssd, y1, u, rnr[1], rn, normed, b, t)
                : null;
        return new Forward<>(y, next, saved);
    }

    /** D repeated over each head's P channels, {@code [1, H·P]}. */
    private INDArray skipPerChannel() {
        int h = cfg.heads();
        int p = cfg.headDim();
        return dSkip.value().reshape(h, 1).repeat(1, p).reshape(1, (long) h * p);
    }

    @Override
    public Backward<Mamba2State> backward(Forward<Mamba2State> fwd, INDArray dy, Mamba2State dState) {
        if (fwd.saved() == null) {
            if (dy.size(1) == 0) {
                return new Backward<>(dy.dup(), dState == null ? initialState((int) dy.size(0)) : dState.copy());
            }
            throw new IllegalArgumentException("backward needs a forward pass run with training=true");
        }
        Saved s = (Saved) fwd.saved();
        int b = s.b();
        int t = s.t();
        int h = cfg.heads();
        int p = cfg.headDim();
        int g = cfg.groups();
        int inner = cfg.inner();
        long n = (long) b * t;
        Shapes.require("dy", dy, "[B, T, D]", b, t, cfg.dModel());
        INDArray dy2 = dy.dup('c').reshape(n, cfg.dModel());
        INDArray dx2 = Nd4j.zeros(cfg.dataType(), n, cfg.dModel());

        // out-projection, norm weight, grouped RMSNorm
        wOut.grad().addi(s.normed().transpose().mmul(dy2));
        INDArray dNormed = dy2.mmul(wOut.value().transpose());
        normW.grad().addi(dNormed.mul(s.rn()).sum(0).reshape(inner));
        INDArray dRn = dNormed.mulRowVector(normW.value().reshape(1, inner));
        INDArray du = Fn.rmsNormRowsBackward(s.u().reshape(n * g, inner / g), Nd4j.ones(cfg.dataType(), inner / g),
                s.r(), dRn.reshape(n * g, inner / g))[0].reshape(n, inner);
        // gate
        INDArray dy1 = du.mul(Fn.silu(s.zPre()));
        INDArray dz = Fn.siluBackward(s.zPre(), du.mul(s.y1()));
        wz.grad().addi(s.x2().transpose().mmul(dz));
        dx2.addi(dz.mmul(wz.value().transpose()));
        // D skip
        INDArray xs = s.act()[0];
        dSkip.grad().addi(dy1.mul(xs).reshape(n, h, p).sum(0, 2).reshape(h));
        INDArray dxs = dy1.mulRowVector(skipPerChannel());
        // SSD
        Ssd.Grads sg = Ssd.backward(s.ssd(), dy1.reshape(b, t, h, p), dState == null ? null : dState.ssm());
        INDArray dX = sg.dX().reshape(n, h, p);
        dxs.addi(dX.mul(s.dt().reshape(n, h, 1).broadcast(n, h, p)).reshape(n, (long) h * p));
        INDArray dAdt = sg.dA().reshape(n, h);
        INDArray ddt = dX.mul(xs.reshape(n, h, p)).sum(2).addi(dAdt.mulRowVector(s.a()));
        // A = −exp(A_log): dA_log = dA · A
        aLog.grad().addi(dAdt.mul(s.dt()).sum(0).reshape(1, h).muli(s.a()).reshape(h));
        INDArray dDtPre = ddt.mul(Fn.sigmoid(s.dtPre()));
        dtBias.grad().addi(dDtPre.sum(0).reshape(h));
        wDt.grad().addi(s.x2().transpose().mmul(dDtPre));
        dx2.addi(dDtPre.mmul(wDt.value().transpose()));
        // x, B, C: SiLU, conv, projection
        INDArray[] dAct = {dxs, sg.dB().reshape(n, s.act()[1].size(1)), sg.dC().reshape(n, s.act()[2].size(1))};
        INDArray[] dNext = dState == null ? new INDArray[3]
                : new INDArray[] {dState.convX(), dState.convB(), dState.convC()};
        INDArray[] dConvState = new INDArray[3];
        for (int i = 0; i < 3; i++) {
            INDArray dPre = Fn.siluBackward(s.pre()[i], dAct[i]);
            INDArray dProj = dPre;
            if (cfg.convKernel() > 0) {
                convBias[i].grad().addi(dPre.sum(0).reshape(dPre.size(1)));
                INDArray[] cb = Fn.causalConvBackward(s.xe()[i], conv[i].value(), dPre.reshape(b, t, dPre.size(1)),
                        dNext[i]);
                dProj = cb[0].reshape(n, dPre.size(1));
                conv[i].grad().addi(cb[1]);
                dConvState[i] = cb[2];
            }
            wIn[i].grad().addi(s.x2().transpose().mmul(dProj));
            dx2.addi(dProj.mmul(wIn[i].value().transpose()));
        }
        Mamba2State dIn = new Mamba2State(sg.dInitialState(), dConvState[0], dConvState[1], dConvState[2]);
        return new Backward<>(dx2.reshape(b, t, cfg.dModel()), dIn);
    }

    @Override
    public Step<Mamba2State> step(INDArray x, Mamba2State state) {
        Shapes.require("x", x, "[B, D]", Shapes.ANY, cfg.dModel());
        Forward<Mamba2State> f = forward(x.reshape(x.size(0), 1, cfg.dModel()), state, false);
        return new Step<>(f.y().reshape(x.size(0), cfg.dModel()), f.state());
    }
}
