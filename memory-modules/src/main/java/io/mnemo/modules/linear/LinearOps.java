package io.mnemo.modules.linear;

import io.mnemo.core.OpenBlasCheck;
import io.mnemo.core.Shapes;
import io.mnemo.core.kernel.Backend;
import io.mnemo.core.memory.SeqDims;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Entry point of the linear-family ops: validates, picks the backend, runs it.
 *
 * <pre>{@code
 * LinearOpConfig cfg = LinearOpConfig.of(LinearOp.GATED_DELTA_RULE);
 * LinearForward f = LinearOps.forward(cfg, new LinearInputs(q, k, v, g, null, beta, null), true);
 * LinearGrads grads = LinearOps.backward(f, dO, null);
 * }</pre>
 */
public final class LinearOps {
    private LinearOps() {}

    /** The kernel of a backend ({@link Backend#AUTO} resolved). */
    public static LinearKernel kernel(Backend backend) {
        return switch (backend.resolve()) {
            case REFERENCE -> new ReferenceLinearKernel();
            case CPU -> new CpuLinearKernel();
            case ND4J -> new Nd4jLinearKernel();
            case AUTO -> throw new IllegalStateException("unresolved backend");
        };
    }

    /**
     * Runs an op over a sequence.
     *
     * @param save keep what {@link #backward} needs
     * @return {@code o [B, T, H, Dv]} and the final state {@code [B, H, Dk, Dv]}
     */
    public static LinearForward forward(LinearOpConfig cfg, LinearInputs in, boolean save) {
        OpenBlasCheck.checkOnce();
        SeqDims d = in.validate(cfg.op(), cfg.checkFinite());
        return kernel(cfg.backend()).forward(cfg, d, in, save);
    }

    /**
     * Gradients of {@code Σ o·dO + Σ finalState·dFinalState} with respect to every input.
     *
     * @param dO {@code [B, T, H, Dv]} or null
     * @param dFinalState {@code [B, H, Dk, Dv]} or null
     */
    public static LinearGrads backward(LinearForward fwd, INDArray dO, INDArray dFinalState) {
        SeqDims d = fwd.dims();
        if (dO != null) {
            Shapes.require("dO", dO, "[B, T, H, Dv]", d.b(), d.t(), d.h(), d.dv());
        }
        if (dFinalState != null) {
            Shapes.require("dFinalState", dFinalState, "[B, H, Dk, Dv]", d.b(), d.h(), d.dk(), d.dv());
        }
        if (fwd.saved() == null) {
            throw new IllegalArgumentException("backward needs a forward pass run with save=true");
        }
        return kernel(fwd.config().backend()).backward(fwd, dO, dFinalState);
    }

    /**
     * One token: {@code forward} with T = 1.
     *
     * @param q {@code [B, H, Dk]}, k {@code [B, H, Dk]}, v {@code [B, H, Dv]}; g and beta {@code [B, H]},
     *     gk {@code [B, H, Dk]} (or null as the op requires)
     * @param state {@code [B, H, Dk, Dv]} or null for zeros
     * @return o {@code [B, T=1, H, Dv]} and the next state; see {@link LinearStepper} for O(1) stepping
     *     without copying the state at every token
     */
    public static LinearForward step(LinearOpConfig cfg, INDArray q, INDArray k, INDArray v, INDArray g, INDArray gk,
            INDArray beta, INDArray state) {
        Shapes.requireRank("q", q, "[B, H, Dk]", 3);
        Shapes.requireRank("k", k, "[B, H, Dk]", 3);
        Shapes.requireRank("v", v, "[B, H, Dv]", 3);
        LinearInputs in = new LinearInputs(t1(q), t1(k), t1(v), t1(g), t1(gk), t1(beta), state);
        return forward(cfg, in, false);
    }

    private static INDArray t1(INDArray a) {
        if (a == null) {
            return null;
        }
        long[] s = a.shape();
        long[] n = new long[s.length + 1];
        n[0] = s[0];
        n[1] = 1;
        System.arraycopy(s, 1, n, 2, s.length - 1);
        return a.reshape('c', n);
    }
}
