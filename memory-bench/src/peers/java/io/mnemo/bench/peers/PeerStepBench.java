package io.mnemo.bench.peers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.mnemo.bench.BenchData;
import io.mnemo.bench.Parity;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.linear.LinearForward;
import io.mnemo.modules.linear.LinearInputs;
import io.mnemo.modules.linear.LinearOp;
import io.mnemo.modules.linear.LinearOpConfig;
import io.mnemo.modules.linear.LinearOps;
import io.mnemo.modules.linear.LinearStepper;
import java.util.concurrent.TimeUnit;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;

/**
 * One generation step (one token for all B·H sequences and heads, the state carried) with INDArray or
 * PyTorch arrays in and out: {@code cpu} is {@link LinearStepper#step}, {@code nd4j} is
 * {@link LinearOps#step} on the nd4j backend (a T=1 forward), {@code torch} is {@link TorchLinearOps#step}.
 * Gated by {@link Parity#requireStepper} / {@link Parity#require} / {@link TorchParity#requireStep}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class PeerStepBench {
    /** Op name. */
    @Param({"linear_attn", "simple_gla", "gated_delta_rule"})
    public String op;

    /** {@code cpu}, {@code nd4j} or {@code torch}. */
    @Param({"cpu", "nd4j", "torch"})
    public String impl;

    /** Batch. */
    @Param({"1", "4"})
    public int b;

    /** Threads of this JVM (a label checked by {@link PeerEnv#require}). */
    @Param({"1"})
    public int threads;

    private LinearOpConfig cfg;
    private LinearInputs tok;
    private LinearStepper stepper;
    private INDArray out;
    private INDArray q;
    private INDArray k;
    private INDArray v;
    private INDArray g;
    private INDArray beta;
    private INDArray state;

    private NDManager base;
    private NDArray tq;
    private NDArray tk;
    private NDArray tv;
    private NDArray tg;
    private NDArray tb;
    private NDArray tState;

    /** Thread check, parity gate, one token of inputs and a zero state. */
    @Setup(Level.Trial)
    public void setUp() {
        int h = PeerOpBench.H;
        int d = PeerOpBench.D;
        PeerEnv.require(threads, impl.equals("torch"));
        LinearOp o = LinearOp.byName(op);
        cfg = LinearOpConfig.of(o);
        tok = BenchData.inputs(o, b, 1, h, d, d, false, 44);
        q = TorchParity.token(tok.q(), 0);
        k = TorchParity.token(tok.k(), 0);
        v = TorchParity.token(tok.v(), 0);
        g = TorchParity.token(tok.g(), 0);
        beta = TorchParity.token(tok.beta(), 0);
        switch (impl) {
            case "cpu" -> {
                Parity.require(o, Backend.CPU);
                Parity.requireStepper(o);
                stepper = new LinearStepper(cfg, b, h, d, d, null);
                out = Nd4j.create(DataType.FLOAT, b, h, d);
            }
            case "nd4j" -> {
                Parity.require(o, Backend.ND4J);
                cfg = cfg.withBackend(Backend.ND4J);
                state = Nd4j.zeros(DataType.FLOAT, b, h, d, d);
            }
            case "torch" -> {
                TorchParity.requireStep(o);
                base = Torch.newManager();
                tq = Torch.of(base, q);
                tk = Torch.of(base, k);
                tv = Torch.of(base, v);
                tg = Torch.of(base, g);
                tb = Torch.of(base, beta);
                tState = base.zeros(new Shape(b, h, d, d));
            }
            default -> throw new IllegalArgumentException("impl must be cpu, nd4j or torch, got '" + impl + "'");
        }
    }

    /** Frees the PyTorch arrays. */
    @TearDown(Level.Trial)
    public void tearDown() {
        if (base != null) {
            base.close();
        }
    }

    /** One token. */
    @Benchmark
    public Object step(Blackhole bh) {
        if (stepper != null) {
            return stepper.step(q, k, v, g, null, beta, out);
        }
        if (base == null) {
            LinearForward f = LinearOps.step(cfg, q, k, v, g, null, beta, state);
            state = f.finalState();
            return f.o();
        }
        NDArray old = tState;
        try (NDManager sub = base.newSubManager()) {
            sub.tempAttachAll(old, tq, tk, tv);
            if (tg != null) {
                sub.tempAttachAll(tg);
            }
            if (tb != null) {
                sub.tempAttachAll(tb);
            }
            NDList r = TorchLinearOps.step(cfg.op(), old, tq, tk, tv, tg, tb, cfg.scaleFor(PeerOpBench.D));
            bh.consume(r.get(0));
            tState = r.get(1);
            tState.attach(base);
        }
        old.close();
        return null;
    }
}
