package io.mnemo.bench.peers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;

/**
 * The PyTorch peer of the Mamba-1 selective scan (S6): what a PyTorch CPU user of mamba_ssm runs, since
 * its fused {@code selective_scan_fn} kernel is CUDA-only — {@code selective_scan_ref}
 * ({@code mamba_ssm/ops/selective_scan_interface.py}, Gu and Dao, "Mamba: Linear-Time Sequence Modeling
 * with Selective State Spaces", 2023, Algorithm 2) written in libtorch ops through DJL's NDArray, with
 * autograd for the backward pass. Semantics, in the reference's order:
 * <pre>
 *   Δ        = softplus(delta + delta_bias)      (softplus only with delta_softplus)
 *   deltaA   = exp(Δ ⊙ A)                        [B, D, L, N], materialised for the whole sequence
 *   deltaB_u = Δ ⊙ u ⊙ B                         [B, D, L, N]
 *   for i in 0 … L−1:  x = deltaA_i ⊙ x + deltaB_u_i;   y_i = x · C_i      (a Python loop over L)
 *   out      = (y + u ⊙ D) ⊙ silu(z);   last_state = x
 * </pre>
 * Differences from the reference, none in the arithmetic: the initial state may be given (the
 * reference starts from zeros; Mnemo's inputs allow one); deltaA and deltaB_u are laid out
 * {@code [L, B, D, N]} and cut into per-token pieces with one split ({@code torch.split}/{@code unbind},
 * whose backward is one concatenation) instead of the reference's {@code deltaA[:, :, i]} indexing, whose
 * autograd backward writes a zero tensor of the full {@code [B, D, L, N]} size per token (quadratic in L);
 * {@code y_i} is a batched matrix product ({@code einsum('bdn,bn->bd')} lowers to one). Per-token
 * temporaries are closed as soon as they are used, as Python's reference counting frees them (autograd
 * keeps what the backward needs). B and C are input-dependent {@code [B, N, L]}, as the Mamba block
 * produces them.
 *
 * <p>Results attach to the manager of {@code u}; run each call in a sub-manager.
 */
public final class TorchSelectiveScan {
    private TorchSelectiveScan() {}

    /**
     * The scan over a whole sequence.
     *
     * @param u inputs {@code [B, D, L]}
     * @param delta step sizes before bias and softplus {@code [B, D, L]}
     * @param a state matrix {@code [D, N]}
     * @param b input matrix {@code [B, N, L]}
     * @param c output matrix {@code [B, N, L]}
     * @param d skip {@code [D]} or null
     * @param z gate {@code [B, D, L]} or null
     * @param deltaBias {@code [D]} or null
     * @param init initial state {@code [B, D, N]} or null for zeros
     * @param softplus apply softplus to {@code delta + delta_bias}
     * @return {@code out [B, D, L]} and {@code last_state [B, D, N]}
     */
    public static NDList forward(NDArray u, NDArray delta, NDArray a, NDArray b, NDArray c, NDArray d, NDArray z,
            NDArray deltaBias, NDArray init, boolean softplus) {
        long[] s = shape3("u", u);
        long bs = s[0];
        long dim = s[1];
        long len = s[2];
        if (len == 0) {
            throw new IllegalArgumentException("u has L = 0, expected at least one token");
        }
        require("delta", delta, bs, dim, len);
        long n = requireA(a, dim);
        require("B", b, bs, n, len);
        require("C", c, bs, n, len);
        requireOptional(d, z, deltaBias, init, bs, dim, len, n);

        NDArray dt = delta(delta, deltaBias, softplus, 1); // [B, D, L]
        // [L, B, D, 1] and [L, B, 1, N] views of the per-token operands
        NDArray dtL = dt.transpose(2, 0, 1).expandDims(3);
        NDArray uL = u.transpose(2, 0, 1).expandDims(3);
        NDArray bL = b.transpose(2, 0, 1).expandDims(2);
        NDArray cL = c.transpose(2, 0, 1).expandDims(3); // [L, B, N, 1]
        NDArray deltaA = dtL.mul(a).exp(); // exp(einsum('bdl,dn->bdln')), [L, B, D, N]
        NDArray deltaBu = dtL.mul(uL).mul(bL); // einsum('bdl,bnl,bdl->bdln'), [L, B, D, N]
        NDList dAs = deltaA.split(len, 0);
        NDList dBus = deltaBu.split(len, 0);
        NDList cs = cL.split(len, 0);
        NDArray x = init != null ? init.expandDims(0) : u.getManager().zeros(new Shape(1, bs, dim, n), u.getDataType());
        NDArray first = x;
        NDList ys = new NDList((int) len);
        for (int i = 0; i < len; i++) {
            NDArray decayed = dAs.get(i).mul(x);
            NDArray next = decayed.add(dBus.get(i));
            decayed.close();
            dAs.get(i).close();
            dBus.get(i).close();
            if (x != first) {
                x.close();
            }
            x = next;
            ys.add(x.matMul(cs.get(i))); // [1, B, D, 1]
            cs.get(i).close();
        }
        NDArray y = NDArrays.concat(ys, 0).reshape(len, bs, dim).transpose(1, 2, 0); // [B, D, L]
        ys.close();
        NDArray out = d != null ? y.add(u.mul(d.expandDims(1))) : y;
        if (z != null) {
            out = out.mul(silu(z));
        }
        return new NDList(out, x.squeeze(0));
    }

    /**
     * One token of generation.
     *
     * @param state {@code [B, D, N]}
     * @param u {@code [B, D]}
     * @param delta {@code [B, D]}
     * @param a {@code [D, N]}
     * @param b the token's B {@code [B, N]}
     * @param c the token's C {@code [B, N]}
     * @param d {@code [D]} or null
     * @param z {@code [B, D]} or null
     * @param deltaBias {@code [D]} or null
     * @return {@code out [B, D]} and the next state {@code [B, D, N]}
     */
    public static NDList step(NDArray state, NDArray u, NDArray delta, NDArray a, NDArray b, NDArray c, NDArray d,
            NDArray z, NDArray deltaBias, boolean softplus) {
        NDArray dt = delta(delta, deltaBias, softplus, 0).expandDims(2); // [B, D, 1]
        NDArray next = dt.mul(a).exp().mul(state).add(dt.mul(u.expandDims(2)).mul(b.expandDims(1)));
        NDArray y = next.matMul(c.expandDims(2)).squeeze(2); // [B, D]
        NDArray out = d != null ? y.add(u.mul(d)) : y;
        if (z != null) {
            out = out.mul(silu(z));
        }
        return new NDList(out, next);
    }

    /** {@code softplus(delta + bias)}; the bias {@code [D]} is broadcast along the axes after D. */
    private static NDArray delta(NDArray delta, NDArray bias, boolean softplus, int trailing) {
        NDArray dt = delta;
        if (bias != null) {
            NDArray bb = bias;
            for (int i = 0; i < trailing; i++) {
                bb = bb.expandDims(bb.getShape().dimension());
            }
            dt = dt.add(bb);
        }
        return softplus ? dt.getNDArrayInternal().softPlus() : dt;
    }

    /** {@code z · sigmoid(z)} (torch.nn.functional.silu). */
    static NDArray silu(NDArray z) {
        return z.mul(z.getNDArrayInternal().sigmoid());
    }

    private static long[] shape3(String name, NDArray x) {
        if (x == null) {
            throw new IllegalArgumentException(name + " is null");
        }
        if (x.getShape().dimension() != 3) {
            throw new IllegalArgumentException(name + " has shape " + x.getShape() + ", expected rank 3 [B, D, L]");
        }
        return x.getShape().getShape();
    }

    private static void require(String name, NDArray x, long... shape) {
        if (x == null) {
            throw new IllegalArgumentException(name + " is null");
        }
        if (!x.getShape().equals(new Shape(shape))) {
            throw new IllegalArgumentException(name + " has shape " + x.getShape() + ", expected " + new Shape(shape)
                    + (name.equals("B") || name.equals("C") ? " (input-dependent [B, N, L])" : ""));
        }
    }

    private static long requireA(NDArray a, long dim) {
        if (a == null || a.getShape().dimension() != 2 || a.getShape().get(0) != dim) {
            throw new IllegalArgumentException("A has shape " + (a == null ? "null" : a.getShape()) + ", expected [D, N]"
                    + " with D=" + dim);
        }
        return a.getShape().get(1);
    }

    private static void requireOptional(NDArray d, NDArray z, NDArray bias, NDArray init, long bs, long dim, long len,
            long n) {
        if (d != null) {
            require("D", d, dim);
        }
        if (z != null) {
            require("z", z, bs, dim, len);
        }
        if (bias != null) {
            require("delta_bias", bias, dim);
        }
        if (init != null) {
            require("initial_state", init, bs, dim, n);
        }
    }
}
