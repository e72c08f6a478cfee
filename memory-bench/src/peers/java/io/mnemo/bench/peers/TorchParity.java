package io.mnemo.bench.peers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import io.mnemo.bench.BenchData;
import io.mnemo.bench.Parity;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.linear.LinearForward;
import io.mnemo.modules.linear.LinearGrads;
import io.mnemo.modules.linear.LinearInputs;
import io.mnemo.modules.linear.LinearOp;
import io.mnemo.modules.linear.LinearOpConfig;
import io.mnemo.modules.linear.LinearOps;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The gate in front of every PyTorch timing: {@link TorchLinearOps} must reproduce Mnemo's double-precision
 * reference ({@link LinearOps} with {@link Backend#REFERENCE}) on the outputs, the final state and every
 * gradient (autograd through the chunked form), and the step recurrence token by token. A peer that
 * computes something else is a bug, never a result: the checks throw {@link PeerParityException}.
 */
public final class TorchParity {
    /** Relative error allowed against the double reference (as {@link Parity#TOLERANCE}). */
    public static final double TOLERANCE = Parity.TOLERANCE;

    /**
     * Relative error allowed between the PyTorch peer and Mnemo's cpu backend on the benchmark's own inputs
     * (both FLOAT; sums over up to 16384 tokens in different orders).
     */
    public static final double FULL_SIZE_TOLERANCE = 1e-4;

    static final int B = 2;
    static final int T = 100;
    static final int H = 2;
    static final int D = 16;

    private TorchParity() {}

    /** Outputs and gradients of one PyTorch run, as FLOAT INDArrays (gradients null when not asked for). */
    record Result(INDArray o, INDArray finalState, LinearGrads grads) {}

    /**
     * Checks the chunked forward and its autograd backward against the reference at B=2, T=100, H=2,
     * Dk=Dv=16, with a random initial state and random upstream gradients of o and of the final state, for
     * chunk sizes 16 and 64 (T is a multiple of neither, so the padded last chunk is covered).
     *
     * @return relative error of every compared tensor, keyed "C=16 o", "C=64 dq", …
     * @throws PeerParityException if any exceeds {@link #TOLERANCE}
     */
    public static Map<String, Double> require(LinearOp op) {
        LinearInputs in = BenchData.inputs(op, B, T, H, D, D, true, 17);
        INDArray dO = BenchData.randn(18, B, T, H, D);
        INDArray dFin = BenchData.randn(19, B, H, D, D);
        LinearOpConfig ref = LinearOpConfig.of(op).withBackend(Backend.REFERENCE);
        LinearForward f = LinearOps.forward(ref, in, true);
        LinearGrads gr = LinearOps.backward(f, dO, dFin);
        Map<String, Double> err = new LinkedHashMap<>();
        for (int chunk : new int[] {16, 64}) {
            Result r = run(op, in, dO, dFin, ref.scaleFor(D), chunk, true);
            compare(err, "C=" + chunk + " ", r, f.o(), f.finalState(), gr);
        }
        fail("PyTorch " + op.opName() + " vs the reference", err, TOLERANCE);
        return err;
    }

    /**
     * Checks the peer on the benchmark's own inputs against Mnemo's cpu backend (which has passed
     * {@link Parity#require} against the reference): o, the final state and, with {@code grads}, every
     * input gradient for the upstream gradient {@code dO}.
     *
     * @throws PeerParityException if a relative error exceeds {@link #FULL_SIZE_TOLERANCE}
     */
    public static Map<String, Double> requireOnInputs(LinearOp op, LinearInputs in, INDArray dO, int chunk,
            boolean grads) {
        LinearOpConfig cpu = LinearOpConfig.of(op).withBackend(Backend.CPU);
        LinearForward f = LinearOps.forward(cpu, in, grads);
        LinearGrads g = grads ? LinearOps.backward(f, dO, null) : null;
        int dk = (int) in.q().size(3);
        Result r = run(op, in, grads ? dO : null, null, cpu.scaleFor(dk), chunk, grads);
        return check("PyTorch " + op.opName() + " vs Mnemo cpu on the benchmark inputs "
                + Arrays.toString(in.q().shape()), r, f, g, FULL_SIZE_TOLERANCE);
    }

    /** "name error, …" of the entries over {@code tol} (NaN counts as over); empty when none is. */
    private static String over(Map<String, Double> err, double tol) {
        StringBuilder bad = new StringBuilder();
        err.forEach((k, e) -> {
            if (!(e <= tol)) {
                bad.append(bad.length() == 0 ? "" : ", ").append(k).append(String.format(" %.2e", e));
            }
        });
        return bad.toString();
    }

    /**
     * Compares a PyTorch result with an expected forward (and gradients, if not null).
     *
     * @throws PeerParityException if a relative error exceeds {@code tol}
     */
    static Map<String, Double> check(String what, Result r, LinearForward expected, LinearGrads grads, double tol) {
        Map<String, Double> err = new LinkedHashMap<>();
        compare(err, "", r, expected.o(), expected.finalState(), grads);
        fail(what, err, tol);
        return err;
    }

    /**
     * Checks {@link TorchLinearOps#step}, token by token over T=64 tokens (B=2, H=2, D=16, random initial
     * state), against the reference forward: every output and the final state.
     */
    public static Map<String, Double> requireStep(LinearOp op) {
        int t = 64;
        LinearInputs in = BenchData.inputs(op, B, t, H, D, D, true, 23);
        LinearOpConfig ref = LinearOpConfig.of(op).withBackend(Backend.REFERENCE);
        LinearForward f = LinearOps.forward(ref, in, false);
        double errO = 0;
        INDArray fin;
        try (NDManager m = Torch.newManager()) {
            NDArray state = Torch.of(m, in.initialState());
            for (int i = 0; i < t; i++) {
                NDArray old = state;
                try (NDManager sub = m.newSubManager()) {
                    sub.tempAttachAll(old);
                    NDList r = TorchLinearOps.step(op, old, Torch.of(sub, token(in.q(), i)),
                            Torch.of(sub, token(in.k(), i)), Torch.of(sub, token(in.v(), i)),
                            Torch.of(sub, token(in.g(), i)), Torch.of(sub, token(in.beta(), i)), ref.scaleFor(D));
                    errO = Math.max(errO, Parity.relErr(Torch.toNd4j(r.get(0)), token(f.o(), i)));
                    state = r.get(1);
                    state.attach(m);
                }
                old.close();
            }
            fin = Torch.toNd4j(state);
        }
        Map<String, Double> err = new LinkedHashMap<>();
        err.put("step o", errO);
        err.put("step final_state", Parity.relErr(fin, f.finalState()));
        fail("PyTorch " + op.opName() + " step vs the reference", err, TOLERANCE);
        return err;
    }

    /**
     * Runs the PyTorch op on copies of {@code in}; with {@code grads}, backward of
     * {@code Σ o·dO (+ Σ S_T·dFin)} through autograd.
     */
    static Result run(LinearOp op, LinearInputs in, INDArray dO, INDArray dFin, double scale, int chunk,
            boolean grads) {
        return run(op, in, dO, dFin, scale, chunk, grads, null);
    }

    /** As above, calling {@code beforeBackward} (if not null) between the forward and the backward. */
    static Result run(LinearOp op, LinearInputs in, INDArray dO, INDArray dFin, double scale, int chunk,
            boolean grads, Runnable beforeBackward) {
        try (NDManager m = Torch.newManager()) {
            NDArray q = Torch.of(m, in.q());
            NDArray k = Torch.of(m, in.k());
            NDArray v = Torch.of(m, in.v());
            NDArray g = Torch.of(m, in.g());
            NDArray beta = Torch.of(m, in.beta());
            NDArray init = Torch.of(m, in.initialState());
            if (!grads) {
                NDList out = TorchLinearOps.forward(op, q, k, v, g, beta, init, scale, chunk);
                return new Result(Torch.toNd4j(out.get(0)), Torch.toNd4j(out.get(1)), null);
            }
            List<NDArray> leaves = new ArrayList<>(Arrays.asList(q, k, v, g, beta, init));
            for (NDArray x : leaves) {
                if (x != null) {
                    x.setRequiresGradient(true);
                }
            }
            NDList out;
            try (GradientCollector gc = Torch.engine().newGradientCollector()) {
                out = TorchLinearOps.forward(op, q, k, v, g, beta, init, scale, chunk);
                NDArray loss = out.get(0).mul(Torch.of(m, dO)).sum();
                if (dFin != null) {
                    loss = loss.add(out.get(1).mul(Torch.of(m, dFin)).sum());
                }
                if (beforeBackward != null) {
                    beforeBackward.run();
                }
                gc.backward(loss);
            }
            LinearGrads lg = new LinearGrads(grad(q), grad(k), grad(v), grad(g), null, grad(beta), grad(init));
            return new Result(Torch.toNd4j(out.get(0)), Torch.toNd4j(out.get(1)), lg);
        }
    }

    private static INDArray grad(NDArray x) {
        return x == null ? null : Torch.toNd4j(x.getGradient());
    }

    private static void compare(Map<String, Double> err, String prefix, Result r, INDArray o, INDArray fin,
            LinearGrads g) {
        err.put(prefix + "o", Parity.relErr(r.o(), o));
        err.put(prefix + "final_state", Parity.relErr(r.finalState(), fin));
        if (g == null) {
            return;
        }
        LinearGrads t = r.grads();
        err.put(prefix + "dq", Parity.relErr(t.dq(), g.dq()));
        err.put(prefix + "dk", Parity.relErr(t.dk(), g.dk()));
        err.put(prefix + "dv", Parity.relErr(t.dv(), g.dv()));
        if (g.dg() != null) {
            err.put(prefix + "dg", Parity.relErr(t.dg(), g.dg()));
        }
        if (g.dbeta() != null) {
            err.put(prefix + "dbeta", Parity.relErr(t.dbeta(), g.dbeta()));
        }
        if (t.dInitialState() != null) {
            err.put(prefix + "d_initial_state", Parity.relErr(t.dInitialState(), g.dInitialState()));
        }
    }

    static void fail(String what, Map<String, Double> err, double tol) {
        String bad = over(err, tol);
        if (!bad.isEmpty()) {
            throw new PeerParityException("parity check failed for " + what + " (relative error > " + tol + "): "
                    + bad + "; refusing to benchmark it");
        }
    }

    /** Token t of a {@code [B, T, ...]} array as a contiguous {@code [B, ...]} array; null stays null. */
    static INDArray token(INDArray a, int t) {
        if (a == null) {
            return null;
        }
        INDArrayIndex[] idx = new INDArrayIndex[a.rank()];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i == 1 ? NDArrayIndex.point(t) : NDArrayIndex.all();
        }
        return a.get(idx).dup('c');
    }
}
