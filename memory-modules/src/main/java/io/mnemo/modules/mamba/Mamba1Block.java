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
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The Mamba-1 block (Gu and Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State
 * Spaces", Fig. 3; mamba_ssm's {@code Mamba} module, slow path), with E·D = {@code dInner}:
 * <pre>
 *   [x', z]  = x W_in                                   W_in  [D, 2·E·D]           (no bias)
 *   xc       = silu(conv_K(x') + conv_b)                 causal depthwise, kernel K, with bias
 *   [δ, B, C] = xc W_x                                   W_x   [E·D, R + 2N]       (no bias)
 *   Δ_raw    = δ W_dt                                    W_dt  [R, E·D]; its bias dt_b is the scan's delta_bias
 *   A        = −exp(A_log)                               A_log [E·D, N]
 *   y, h     = selective_scan(u = xc, delta = Δ_raw, A, B, C, D, z, delta_bias = dt_b, delta_softplus = true; h₀)
 *   out      = y W_out                                   W_out [E·D, D]            (no bias)
 * </pre>
 * B and C are input-dependent ({@code [B, N, L]} to the scan, one group). Shapes: x and out
 * {@code [B, T, D]}. Initialisation as mamba_ssm: Δ log-uniform in [dtMin, dtMax] (clamped below at
 * dtInitFloor) and {@code dt_b = softplus⁻¹(Δ)}; {@code W_dt ~ U(±R^−½)}; {@code A_log[d, n] = log(n + 1)}
 * (S4D-real); {@code D = 1}; conv weights and bias {@code U(±K^−½)}; the other projections
 * {@code N(0, 1/fan_in)}. The state carries the last K−1 conv inputs and the scan state.
 * {@link #backward} is written out by hand in reverse order; {@link #step} is {@code forward} with T = 1.
 */
public final class Mamba1Block implements Mixer<Mamba1State> {
    private final Mamba1Config cfg;
    private final SelectiveScanConfig scanCfg;
    private final List<Parameter> params = new ArrayList<>();
    private final Parameter wIn;
    private final Parameter convW;
    private final Parameter convB;
    private final Parameter wX;
    private final Parameter wDt;
    private final Parameter dtBias;
    private final Parameter aLog;
    private final Parameter dSkip;
    private final Parameter wOut;

    public Mamba1Block(Mamba1Config cfg) {
        this.cfg = java.util.Objects.requireNonNull(cfg, "cfg");
        this.scanCfg = new SelectiveScanConfig(true, cfg.backend(), cfg.chunkSize(), false);
        Random rng = new Random(cfg.seed());
        DataType t = cfg.dataType();
        int d = cfg.dModel();
        int e = cfg.dInner();
        int n = cfg.dState();
        int r = cfg.dtRank();
        int k = cfg.convKernel();
        wIn = add("in_proj", Init.normal(t, rng, 1 / Math.sqrt(d), d, 2L * e));
        double cb = 1 / Math.sqrt(k);
        convW = add("conv1d.weight", Init.uniform(t, rng, k, e).muli(2 * cb).subi(cb));
        convB = add("conv1d.bias", Init.uniform(t, rng, e).muli(2 * cb).subi(cb));
        wX = add("x_proj", Init.normal(t, rng, 1 / Math.sqrt(e), e, (long) r + 2L * n));
        double ds = 1 / Math.sqrt(r);
        wDt = add("dt_proj.weight", Init.uniform(t, rng, r, e).muli(2 * ds).subi(ds));
        double[] bias = new double[e];
        for (int i = 0; i < e; i++) {
            double dt = Math.exp(rng.nextDouble() * (Math.log(cfg.dtMax()) - Math.log(cfg.dtMin()))
                    + Math.log(cfg.dtMin()));
            dt = Math.max(dt, cfg.dtInitFloor());
            // softplus⁻¹(dt) = dt + log(1 − e^{−dt})
            bias[i] = dt + Math.log(-Math.expm1(-dt));
        }
        dtBias = add("dt_proj.bias", io.mnemo.core.NdBuffers.of(t, bias, e));
        double[] al = new double[e * n];
        for (int i = 0; i < e; i++) {
            for (int j = 0; j < n; j++) {
                al[i * n + j] = Math.log(j + 1);
            }
        }
        aLog = add("A_log", io.mnemo.core.NdBuffers.of(t, al, e, n));
        dSkip = add("D", Nd4j.ones(t, e));
        wOut = add("out_proj", Init.normal(t, rng, 1 / Math.sqrt(e), e, d));
    }

    private Parameter add(String name, INDArray v) {
        Parameter p = Parameter.of(name, v);
        params.add(p);
        return p;
    }

    /** The configuration. */
    public Mamba1Config config() {
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
    public Mamba1State initialState(int batch) {
        Shapes.requirePositive("batch", batch);
        return new Mamba1State(Nd4j.zeros(cfg.dataType(), batch, cfg.convKernel() - 1, cfg.dInner()),
                Nd4j.zeros(cfg.dataType(), batch, cfg.dInner(), cfg.dState()));
    }

    /** What backward needs. */
    private record Saved(INDArray x2, INDArray xe, INDArray pre, INDArray xc, INDArray dtLow, INDArray a,
            SelectiveScanForward scan, INDArray y2, int b, int t) {}

    @Override
    public Forward<Mamba1State> forward(INDArray x, Mamba1State state, boolean training) {
        Shapes.require("x", x, "[B, T, D]", Shapes.ANY, Shapes.ANY, cfg.dModel());
        if (x.dataType() != cfg.dataType()) {
            throw new IllegalArgumentException("x has data type " + x.dataType() + ", the block was built for "
                    + cfg.dataType());
        }
        int b = (int) x.size(0);
        int t = (int) x.size(1);
        int e = cfg.dInner();
        int n = cfg.dState();
        int r = cfg.dtRank();
        Mamba1State s = state == null ? initialState(b) : state;
        Shapes.require("state.conv", s.conv(), "[B, K-1, E*D]", b, cfg.convKernel() - 1, e);
        Shapes.require("state.ssm", s.ssm(), "[B, E*D, N]", b, e, n);
        if (t == 0) {
            return new Forward<>(x.dup(), s.copy(), null);
        }
        long rows = (long) b * t;
        INDArray x2 = x.dup('c').reshape(rows, cfg.dModel());
        INDArray xz = x2.mmul(wIn.value());
        INDArray xin = cols(xz, 0, e);
        INDArray z = cols(xz, e, 2L * e);
        INDArray[] conv = Fn.causalConv(xin.reshape(b, t, e), convW.value(), s.conv());
        INDArray pre = conv[0].reshape(rows, e).addiRowVector(convB.value().reshape(1, e));
        INDArray xc = Fn.silu(pre);
        INDArray xdbl = xc.mmul(wX.value());
        INDArray dtLow = cols(xdbl, 0, r);
        INDArray bm = cols(xdbl, r, (long) r + n);
        INDArray cm = cols(xdbl, (long) r + n, (long) r + 2L * n);
        INDArray dtRaw = dtLow.mmul(wDt.value());
        INDArray a = Transforms.exp(aLog.value(), true).negi();
        SelectiveScanInputs in = new SelectiveScanInputs(toChannels(xc, b, t), toChannels(dtRaw, b, t), a,
                toChannels(bm, b, t), toChannels(cm, b, t), dSkip.value(), toChannels(z, b, t), dtBias.value(),
                s.ssm());
        SelectiveScanForward sf = SelectiveScan.forward(scanCfg, in, training);
        INDArray y2 = fromChannels(sf.out());
        INDArray out = y2.mmul(wOut.value()).reshape(b, t, cfg.dModel());
        Mamba1State next = new Mamba1State(Fn.lastSteps(conv[1], cfg.convKernel() - 1), sf.lastState());
        Saved saved = training ? new Saved(x2, conv[1], pre, xc, dtLow, a, sf, y2, b, t) : null;
        return new Forward<>(out, next, saved);
    }

    @Override
    public Backward<Mamba1State> backward(Forward<Mamba1State> fwd, INDArray dy, Mamba1State dState) {
        int e = cfg.dInner();
        int n = cfg.dState();
        int r = cfg.dtRank();
        if (fwd.saved() == null) {
            if (dy.size(1) == 0) {
                return new Backward<>(dy.dup(), dState == null ? initialState((int) dy.size(0)) : dState.copy());
            }
            throw new IllegalArgumentException("backward needs a forward pass run with training=true");
        }
        Saved s = (Saved) fwd.saved();
        int b = s.b();
        int t = s.t();
        long rows = (long) b * t;
        Shapes.require("dy", dy, "[B, T, D]", b, t, cfg.dModel());
        if (dState != null) {
            Shapes.require("dState.conv", dState.conv(), "[B, K-1, E*D]", b, cfg.convKernel() - 1, e);
            Shapes.require("dState.ssm", dState.ssm(), "[B, E*D, N]", b, e, n);
        }
        INDArray dy2 = dy.dup('c').reshape(rows, cfg.dModel());
        wOut.grad().addi(s.y2().transpose().mmul(dy2));
        INDArray dY = toChannels(dy2.mmul(wOut.value().transpose()), b, t);
        SelectiveScanGrads g = SelectiveScan.backward(s.scan(), dY, dState == null ? null : dState.ssm());
        // A = −exp(A_log): ∂A/∂A_log = A
        aLog.grad().addi(g.dA().mul(s.a()));
        dSkip.grad().addi(g.dD());
        dtBias.grad().addi(g.dDeltaBias());
        INDArray dDtRaw = fromChannels(g.ddelta());
        wDt.grad().addi(s.dtLow().transpose().mmul(dDtRaw));
        INDArray dXdbl = Nd4j.concat(1, dDtRaw.mmul(wDt.value().transpose()), fromChannels(g.dB()),
                fromChannels(g.dC()));
        wX.grad().addi(s.xc().transpose().mmul(dXdbl));
        INDArray dXc = dXdbl.mmul(wX.value().transpose()).addi(fromChannels(g.du()));
        INDArray dPre = Fn.siluBackward(s.pre(), dXc);
        convB.grad().addi(dPre.sum(0).reshape(e));
        INDArray[] cb = Fn.causalConvBackward(s.xe(), convW.value(), dPre.reshape(b, t, e),
                dState == null ? null : dState.conv());
        convW.grad().addi(cb[1]);
        INDArray dXz = Nd4j.concat(1, cb[0].reshape(rows, e), fromChannels(g.dz()));
        wIn.grad().addi(s.x2().transpose().mmul(dXz));
        INDArray dx = dXz.mmul(wIn.value().transpose()).reshape(b, t, cfg.dModel());
        return new Backward<>(dx, new Mamba1State(cb[2], g.dInitialState()));
    }

    @Override
    public Step<Mamba1State> step(INDArray x, Mamba1State state) {
        Shapes.require("x", x, "[B, D]", Shapes.ANY, cfg.dModel());
        Forward<Mamba1State> f = forward(x.reshape(x.size(0), 1, cfg.dModel()), state, false);
        return new Step<>(f.y().reshape(x.size(0), cfg.dModel()), f.state());
    }

    private static INDArray cols(INDArray a, long from, long to) {
        return a.get(NDArrayIndex.all(), NDArrayIndex.interval(from, to)).dup('c');
    }

    /** {@code [B·T, F]} (rows in (b, t) order) to the scan's {@code [B, F, T]}. */
    private static INDArray toChannels(INDArray a, int b, int t) {
        return a.reshape(b, t, a.size(1)).permute(0, 2, 1).dup('c');
    }

    /** The scan's {@code [B, F, T]} to {@code [B·T, F]}. */
    private static INDArray fromChannels(INDArray a) {
        long b = a.size(0);
        long f = a.size(1);
        long t = a.size(2);
        return a.permute(0, 2, 1).dup('c').reshape(b * t, f);
    }
}
