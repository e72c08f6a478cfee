package io.mnemo.bench;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.linear.LinearForward;
import io.mnemo.modules.linear.LinearGrads;
import io.mnemo.modules.linear.LinearInputs;
import io.mnemo.modules.linear.LinearOp;
import io.mnemo.modules.linear.LinearOpConfig;
import io.mnemo.modules.linear.LinearOps;
import io.mnemo.modules.linear.LinearStepper;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The gate in front of every benchmark: a backend must match the double-precision {@code reference}
 * backend on a small problem before any of its timings count. A fast wrong kernel is not a result.
 *
 * <p>Shape: B=1, T=64, H=2, Dk=Dv=16, random initial state, random upstream gradients for o and the
 * final state; tolerance {@value #TOLERANCE} relative ({@code max|a − e| / max|e|}) on o, the final
 * state and every gradient. A backend that is not implemented yet surfaces as the exception it throws
 * (typically {@link UnsupportedOperationException}), distinct from {@link ParityException}.
 */
public final class Parity {
    /** Relative error allowed between a FLOAT backend and the double reference. */
    public static final double TOLERANCE = 1e-4;

    static final int B = 1;
    static final int T = 64;
    static final int H = 2;
    static final int D = 16;

    private Parity() {}

    /** Thrown when a backend runs but disagrees with the reference. */
    public static final class ParityException extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        public ParityException(String message) {
            super(message);
        }
    }

    /**
     * Checks {@code backend} against the reference on forward and backward of {@code op}.
     *
     * @return the relative error of each compared tensor
     * @throws ParityException if any error exceeds {@link #TOLERANCE}
     */
    public static Map<String, Double> require(LinearOp op, Backend backend) {
        LinearInputs in = BenchData.inputs(op, B, T, H, D, D, true, 17);
        INDArray dO = BenchData.randn(18, B, T, H, D);
        INDArray dFin = BenchData.randn(19, B, H, D, D);
        // A chunk size that does not divide T also exercises the partial last chunk.
        LinearOpConfig cfg = LinearOpConfig.of(op).withChunkSize(24);
        LinearForward ref = LinearOps.forward(cfg.withBackend(Backend.REFERENCE), in, true);
        LinearGrads gr = LinearOps.backward(ref, dO, dFin);
        LinearForward got = LinearOps.forward(cfg.withBackend(backend), in, true);
        LinearGrads gg = LinearOps.backward(got, dO, dFin);

        Map<String, Double> err = new LinkedHashMap<>();
        compare(err, "o", got.o(), ref.o());
        compare(err, "final_state", got.finalState(), ref.finalState());
        compare(err, "dq", gg.dq(), gr.dq());
        compare(err, "dk", gg.dk(), gr.dk());
        compare(err, "dv", gg.dv(), gr.dv());
        compare(err, "dg", gg.dg(), gr.dg());
        compare(err, "dgk", gg.dgk(), gr.dgk());
        compare(err, "dbeta", gg.dbeta(), gr.dbeta());
        compare(err, "d_initial_state", gg.dInitialState(), gr.dInitialState());
        fail(op.opName() + " backend " + backend.name().toLowerCase(Locale.ROOT), err);
        return err;
    }

    /**
     * Checks {@link LinearStepper} (both {@code step} and {@code stepArrays}) token by token against the
     * reference forward pass of {@code op}.
     *
     * @throws ParityException if an output or the final state is off by more than {@link #TOLERANCE}
     */
    public static Map<String, Double> requireStepper(LinearOp op) {
        LinearInputs in = BenchData.inputs(op, B, T, H, D, D, true, 23);
        LinearOpConfig cfg = LinearOpConfig.of(op);
        LinearForward ref = LinearOps.forward(cfg.withBackend(Backend.REFERENCE), in, false);
        LinearStepper viaNd = new LinearStepper(cfg, B, H, D, D, in.initialState());
        LinearStepper viaArrays = new LinearStepper(cfg, B, H, D, D, in.initialState());
        double errNd = 0;
        double errArrays = 0;
        for (int t = 0; t < T; t++) {
            INDArray q = token(in.q(), t);
            INDArray k = token(in.k(), t);
            INDArray v = token(in.v(), t);
            INDArray g = token(in.g(), t);
            INDArray gk = token(in.gk(), t);
            INDArray beta = token(in.beta(), t);
            INDArray expected = token(ref.o(), t);
            errNd = Math.max(errNd, relErr(viaNd.step(q, k, v, g, gk, beta, null), expected));

            float[][] bufs = viaArrays.inputs();
            NdBuffers.copyFrom(q, bufs[0]);
            NdBuffers.copyFrom(k, bufs[1]);
            NdBuffers.copyFrom(v, bufs[2]);
            if (bufs[3] != null) {
                NdBuffers.copyFrom(g != null ? g : gk, bufs[3]);
            }
            if (bufs[4] != null) {
                NdBuffers.copyFrom(beta, bufs[4]);
            }
            viaArrays.stepArrays();
            errArrays = Math.max(errArrays, relErr(NdBuffers.ofFloats(viaArrays.outputs().clone(), B, H, D), expected));
        }
        Map<String, Double> err = new LinkedHashMap<>();
        err.put("step o", errNd);
        err.put("stepArrays o", errArrays);
        err.put("step final_state", relErr(viaNd.state(), ref.finalState()));
        err.put("stepArrays final_state", relErr(viaArrays.state(), ref.finalState()));
        fail(op.opName() + " LinearStepper", err);
        return err;
    }

    /** {@code max|a − e| / max(max|e|, 1e-6)}; NaN anywhere gives +∞. */
    public static double relErr(INDArray actual, INDArray expected) {
        if (!Arrays.equals(actual.shape(), expected.shape())) {
            throw new ParityException("shape " + Arrays.toString(actual.shape()) + " differs from the reference's "
                    + Arrays.toString(expected.shape()));
        }
        double[] a = NdBuffers.toDoubles(actual);
        double[] e = NdBuffers.toDoubles(expected);
        double maxDiff = 0;
        double maxRef = 1e-6;
        for (int i = 0; i < a.length; i++) {
            if (Double.isNaN(a[i]) || Double.isNaN(e[i])) {
                return Double.POSITIVE_INFINITY;
            }
            maxDiff = Math.max(maxDiff, Math.abs(a[i] - e[i]));
            maxRef = Math.max(maxRef, Math.abs(e[i]));
        }
        return maxDiff / maxRef;
    }

    private static void compare(Map<String, Double> err, String name, INDArray actual, INDArray expected) {
        if (expected == null && actual == null) {
            return;
        }
        if (expected == null || actual == null) {
            throw new ParityException(name + " is " + (actual == null ? "missing" : "present but the reference has none"));
        }
        err.put(name, relErr(actual, expected));
    }

    private static void fail(String what, Map<String, Double> err) {
        StringBuilder bad = new StringBuilder();
        err.forEach((k, e) -> {
            if (!(e <= TOLERANCE)) {
                bad.append(bad.length() == 0 ? "" : ", ").append(k).append(String.format(" %.2e", e));
            }
        });
        if (bad.length() > 0) {
            throw new ParityException("parity check failed for " + what + " (relative error > " + TOLERANCE + "): "
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
