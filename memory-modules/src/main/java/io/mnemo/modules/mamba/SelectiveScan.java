package io.mnemo.modules.mamba;

import io.mnemo.core.OpenBlasCheck;
import io.mnemo.core.Shapes;
import io.mnemo.core.kernel.Backend;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Entry point of the selective scan (S6, mamba_ssm's {@code selective_scan_ref}): validates, picks the
 * backend, runs it.
 *
 * <pre>{@code
 * SelectiveScanConfig cfg = SelectiveScanConfig.of().withDeltaSoftplus(true);
 * SelectiveScanInputs in = SelectiveScanInputs.of(u, delta, A, B, C).withOptional(D, z, deltaBias);
 * SelectiveScanForward f = SelectiveScan.forward(cfg, in, true);     // f.out() [B, D, L], f.lastState() [B, D, N]
 * SelectiveScanGrads g = SelectiveScan.backward(f, dOut, null);
 * }</pre>
 */
public final class SelectiveScan {
    private SelectiveScan() {}

    /** The kernel of a backend ({@link Backend#AUTO} resolved). */
    public static SelectiveScanKernel kernel(Backend backend) {
        return switch (backend.resolve()) {
            case REFERENCE -> new ReferenceSelectiveScanKernel();
            case CPU -> new CpuSelectiveScanKernel();
            case ND4J -> new Nd4jSelectiveScanKernel();
            case AUTO -> throw new IllegalStateException("unresolved backend");
        };
    }

    /**
     * Runs the scan over a sequence.
     *
     * @param save keep what {@link #backward} needs
     * @return {@code out [B, D, L]} and {@code lastState [B, D, N]}
     */
    public static SelectiveScanForward forward(SelectiveScanConfig cfg, SelectiveScanInputs in, boolean save) {
        OpenBlasCheck.checkOnce();
        ScanDims d = in.validate(cfg.checkFinite());
        return kernel(cfg.backend()).forward(cfg, d, in, save);
    }

    /**
     * Gradients of {@code Σ out·dOut + Σ lastState·dLastState} with respect to every input.
     *
     * @param dOut {@code [B, D, L]} or null
     * @param dLastState {@code [B, D, N]} or null
     */
    public static SelectiveScanGrads backward(SelectiveScanForward fwd, INDArray dOut, INDArray dLastState) {
        ScanDims d = fwd.dims();
        if (dOut != null) {
            Shapes.require("dout", dOut, "[B, D, L]", d.batch(), d.dim(), d.len());
        }
        if (dLastState != null) {
            Shapes.require("dlast_state", dLastState, "[B, D, N]", d.batch(), d.dim(), d.dstate());
        }
        if (fwd.saved() == null) {
            throw new IllegalArgumentException("backward needs a forward pass run with save=true");
        }
        return kernel(fwd.config().backend()).backward(fwd, dOut, dLastState);
    }

    /** Output of {@link #step}: {@code out [B, D]} and the next state {@code [B, D, N]}. */
    public record Step(INDArray out, INDArray state) {}

    /**
     * One token: {@code forward} with L = 1.
     *
     * @param u {@code [B, D]}
     * @param delta {@code [B, D]}
     * @param a {@code [D, N]}
     * @param b {@code [D, N]} (shared) or {@code [B, N]} or {@code [B, G, N]}: the token's B
     * @param c like b
     * @param d {@code [D]} or null
     * @param z {@code [B, D]} or null
     * @param deltaBias {@code [D]} or null
     * @param state {@code [B, D, N]} or null for zeros
     */
    public static Step step(SelectiveScanConfig cfg, INDArray u, INDArray delta, INDArray a, INDArray b, INDArray c,
            INDArray d, INDArray z, INDArray deltaBias, INDArray state) {
        Shapes.requireRank("u", u, "[B, D]", 2);
        long bs = u.size(0);
        long dim = u.size(1);
        Shapes.require("delta", delta, "[B, D]", bs, dim);
        if (z != null) {
            Shapes.require("z", z, "[B, D]", bs, dim);
        }
        SelectiveScanInputs in = new SelectiveScanInputs(u.reshape('c', bs, dim, 1), delta.reshape('c', bs, dim, 1), a,
                tokenOperand("B", b, bs, dim), tokenOperand("C", c, bs, dim), d,
                z == null ? null : z.reshape('c', bs, dim, 1), deltaBias, state);
        SelectiveScanForward f = forward(cfg, in, false);
        return new Step(f.out().reshape(bs, dim), f.lastState());
    }

    /** [D, N] stays shared when its first size is D and it is not a [B, N] of equal sizes; else add L = 1. */
    private static INDArray tokenOperand(String name, INDArray x, long bs, long dim) {
        if (x == null) {
            throw new IllegalArgumentException(name + " is missing, expected [D, N], [B, N] or [B, G, N]");
        }
        if (x.rank() == 3) {
            return x.reshape('c', x.size(0), x.size(1), x.size(2), 1);
        }
        if (x.rank() == 2 && x.size(0) == dim && (bs != dim)) {
            return x;
        }
        if (x.rank() == 2 && x.size(0) == bs && bs != dim) {
            return x.reshape('c', x.size(0), x.size(1), 1);
        }
        if (x.rank() == 2 && bs == dim) {
            throw new IllegalArgumentException(name + " of shape " + java.util.Arrays.toString(x.shape())
                    + " is ambiguous when B = D = " + bs + "; pass the token's " + name + " as [B, 1, N] (one group)"
                    + " or use forward with L = 1");
        }
        throw new IllegalArgumentException(name + " has shape " + java.util.Arrays.toString(x.shape())
                + ", expected [D, N] with D=" + dim + ", [B, N] with B=" + bs + " or [B, G, N]");
    }
}
