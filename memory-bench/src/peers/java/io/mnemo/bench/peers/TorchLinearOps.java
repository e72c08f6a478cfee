package io.mnemo.bench.peers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.mnemo.modules.linear.LinearOp;
import java.util.ArrayList;
import java.util.List;

/**
 * The PyTorch peer: linear_attn, simple_gla and gated_delta_rule written in PyTorch ops (libtorch through
 * DJL's NDArray), in the chunked forms a PyTorch user writes when no fused kernel is at hand, with
 * autograd for the backward pass. They follow flash-linear-attention's naive chunked references
 * ({@code fla/ops/*}/naive.py: {@code chunk_linear_attn}, {@code chunk_simple_gla_ref},
 * {@code chunk_gated_delta_rule_ref}) and Mnemo's conventions (DESIGN.md §4): state {@code S[Dk, Dv]},
 * read after write ({@code o_t = S_tᵀ (scale · q_t)}), the scale multiplies q only, decays given as logs
 * and applied to the old state before the write, and for the gated delta rule
 * {@code v'_t = β_t (v_t − (exp(g_t) S_{t−1})ᵀ k_t)}.
 *
 * <p>Chunked form with chunk size C (within a chunk, {@code G} = inclusive cumulative sum of the log
 * decays from the chunk start, {@code Γ_ij = exp(G_i − G_j)} for j ≤ i, S the state at the chunk start):
 * <pre>
 *   O  = (Q ⊙ e^G) S + (Q Kᵀ ⊙ Γ ⊙ M_{j≤i}) V'
 *   S' = e^{G_last} S + (K ⊙ e^{G_last − G})ᵀ V'
 * </pre>
 * with {@code V' = V} for linear attention and simple GLA, and for the gated delta rule the WY/UT form
 * {@code V' = U − W S}, {@code U = T (diag(β) V)}, {@code W = T (diag(β e^G) K)},
 * {@code T = (I + tril(diag(β) K Kᵀ ⊙ Γ, −1))⁻¹} (an inverse of a unit lower-triangular C×C matrix per
 * chunk; {@code torch.inverse}). Linear attention passes states between chunks with one cumulative sum;
 * the gated forms loop over chunks, as fla's references do. T not a multiple of C is padded with zero
 * keys, values, log decays and β, which leave the state unchanged.
 *
 * <p>Every result is attached to the manager of its inputs: callers run each call inside a sub-manager
 * ({@code NDManager.tempAttachAll}) so that intermediates are freed when it closes.
 */
public final class TorchLinearOps {
    /** The ops with a PyTorch implementation here. */
    public static final List<LinearOp> OPS = List.of(LinearOp.LINEAR_ATTN, LinearOp.SIMPLE_GLA,
            LinearOp.GATED_DELTA_RULE);

    private TorchLinearOps() {}

    /** True when {@code op} has a PyTorch implementation here. */
    public static boolean supports(LinearOp op) {
        return OPS.contains(op);
    }

    /**
     * The chunked forward pass.
     *
     * @param q {@code [B, T, H, Dk]}
     * @param k {@code [B, T, H, Dk]}
     * @param v {@code [B, T, H, Dv]}
     * @param g log decays {@code [B, T, H]} (simple_gla, gated_delta_rule), else null
     * @param beta step sizes {@code [B, T, H]} (gated_delta_rule), else null
     * @param init initial state {@code [B, H, Dk, Dv]} or null for zeros
     * @param scale multiplies q
     * @param chunk chunk size C
     * @return {@code o [B, T, H, Dv]} and the final state {@code [B, H, Dk, Dv]}
     */
    public static NDList forward(LinearOp op, NDArray q, NDArray k, NDArray v, NDArray g, NDArray beta, NDArray init,
            double scale, int chunk) {
        if (!supports(op)) {
            throw new UnsupportedOperationException("no PyTorch implementation of " + op.opName() + "; have "
                    + OPS.stream().map(LinearOp::opName).toList());
        }
        if (chunk <= 0) {
            throw new IllegalArgumentException("chunk must be > 0, got " + chunk);
        }
        requireRank("q", q, 4);
        requireRank("k", k, 4);
        requireRank("v", v, 4);
        if (op.scalarGate() != (g != null)) {
            throw new IllegalArgumentException(op.opName() + (g == null ? " needs g" : " takes no g"));
        }
        if (op.delta() != (beta != null)) {
            throw new IllegalArgumentException(op.opName() + (beta == null ? " needs beta" : " takes no beta"));
        }
        long[] s = q.getShape().getShape();
        int b = (int) s[0];
        int t = (int) s[1];
        int h = (int) s[2];
        int dk = (int) s[3];
        int dv = (int) v.getShape().get(3);
        int n = (t + chunk - 1) / chunk;
        int pad = n * chunk - t;
        NDManager m = q.getManager();

        // [B, T, H, D] -> [B, H, N, C, D]; gates [B, T, H] -> [B, H, N, C]
        NDArray qc = chunks(q, pad, n, chunk).mul(Torch.scalar(m, (float) scale)); // not mul(float): Torch#scalar
        NDArray kc = chunks(k, pad, n, chunk);
        NDArray vc = chunks(v, pad, n, chunk);
        NDArray kt = kc.swapAxes(3, 4);
        NDArray incl = m.create(mask(chunk, true), new Shape(chunk, chunk));
        NDArray s0 = init != null ? init : m.zeros(new Shape(b, h, dk, dv));

        NDArray o;
        NDArray fin;
        if (op == LinearOp.LINEAR_ATTN) {
            NDArray intra = qc.matMul(kt).mul(incl).matMul(vc);
            NDArray kv = kt.matMul(vc); // [B, H, N, Dk, Dv]
            NDArray cum = kv.cumSum(2);
            // state at each chunk start: exclusive cumulative sum plus the initial state
            NDArray prev = cum.sub(kv).add(s0.expandDims(2));
            o = intra.add(qc.matMul(prev));
            fin = cum.get(":, :, -1").add(s0);
        } else {
            NDArray gc = gateChunks(g, pad, n, chunk).cumSum(3); // G [B, H, N, C]
            NDArray gLast = gc.get(":, :, :, -1"); // [B, H, N]
            // Γ_ij = exp(G_i − G_j) for j ≤ i, 0 above the diagonal: the exponent is masked to −1e30
            // first, so the masked part can neither overflow nor turn a gradient into NaN
            NDArray negBig = incl.sub(1).mul(1e30f);
            NDArray gamma = gc.expandDims(4).sub(gc.expandDims(3)).mul(incl).add(negBig).exp();
            NDArray eg = gc.exp().expandDims(4); // [B, H, N, C, 1]
            NDArray qDec = qc.mul(eg);
            NDArray kDecT = kc.mul(gLast.expandDims(3).sub(gc).exp().expandDims(4)).swapAxes(3, 4);
            NDArray aqk = qc.matMul(kt).mul(gamma);
            NDArray stateDecay = gLast.exp().expandDims(3).expandDims(4); // [B, H, N, 1, 1]
            List<NDArray> starts = new ArrayList<>(n);
            NDArray state = s0;
            // per-chunk pieces by split (its backward is one concatenation), not by indexing x[:, :, i], whose
            // backward writes a zero tensor of the full size per chunk: quadratic in T
            List<NDArray> decay = chunkList(stateDecay);
            if (op == LinearOp.SIMPLE_GLA) {
                List<NDArray> upd = chunkList(kDecT.matMul(vc)); // N × [B, H, Dk, Dv]
                for (int i = 0; i < n; i++) {
                    starts.add(state);
                    state = state.mul(decay.get(i)).add(upd.get(i));
                }
                o = qDec.matMul(NDArrays.stack(new NDList(starts), 2)).add(aqk.matMul(vc));
            } else {
                NDArray bc = gateChunks(beta, pad, n, chunk).expandDims(4); // [B, H, N, C, 1]
                NDArray kb = kc.mul(bc);
                NDArray strict = m.create(mask(chunk, false), new Shape(chunk, chunk));
                NDArray a = kb.matMul(kt).mul(gamma).mul(strict);
                NDArray tInv = a.add(m.eye(chunk)).inverse(); // (I + A)⁻¹, [B, H, N, C, C]
                NDArray u = tInv.matMul(vc.mul(bc));
                NDArray w = tInv.matMul(kb.mul(eg));
                List<NDArray> vNew = new ArrayList<>(n);
                List<NDArray> us = chunkList(u);
                List<NDArray> ws = chunkList(w);
                List<NDArray> ks = chunkList(kDecT);
                for (int i = 0; i < n; i++) {
                    starts.add(state);
                    NDArray vp = us.get(i).sub(ws.get(i).matMul(state));
                    vNew.add(vp);
                    state = state.mul(decay.get(i)).add(ks.get(i).matMul(vp));
                }
                o = qDec.matMul(NDArrays.stack(new NDList(starts), 2))
                        .add(aqk.matMul(NDArrays.stack(new NDList(vNew), 2)));
            }
            fin = state;
        }
        // [B, H, N, C, Dv] -> [B, T, H, Dv]
        NDArray out = o.reshape(b, h, (long) n * chunk, dv);
        if (pad > 0) {
            out = out.get(":, :, :" + t);
        }
        return new NDList(out.transpose(0, 2, 1, 3), fin);
    }

    /**
     * One token of the recurrence, for generation.
     *
     * @param state {@code [B, H, Dk, Dv]}
     * @param q {@code [B, H, Dk]}
     * @param k {@code [B, H, Dk]}
     * @param v {@code [B, H, Dv]}
     * @param g {@code [B, H]} or null
     * @param beta {@code [B, H]} or null
     * @return {@code o [B, H, Dv]} and the next state
     */
    public static NDList step(LinearOp op, NDArray state, NDArray q, NDArray k, NDArray v, NDArray g, NDArray beta,
            double scale) {
        if (!supports(op)) {
            throw new UnsupportedOperationException("no PyTorch implementation of " + op.opName());
        }
        NDArray s = g != null ? state.mul(g.exp().expandDims(2).expandDims(3)) : state;
        NDArray kCol = k.expandDims(3); // [B, H, Dk, 1]
        NDArray write = v;
        if (op.delta()) {
            // v' = β (v − S̃ᵀ k), with the decayed state S̃
            NDArray pred = k.expandDims(2).matMul(s).squeeze(2); // [B, H, Dv]
            write = v.sub(pred).mul(beta.expandDims(2));
        }
        NDArray next = s.add(kCol.mul(write.expandDims(2)));
        NDArray o = q.mul((float) scale).expandDims(2).matMul(next).squeeze(2);
        return new NDList(o, next);
    }

    /** {@code [B, H, N, ...]} as N arrays {@code [B, H, ...]} (torch.split along the chunk axis). */
    static List<NDArray> chunkList(NDArray x) {
        NDList parts = x.split(x.getShape().get(2), 2);
        List<NDArray> out = new ArrayList<>(parts.size());
        for (NDArray p : parts) {
            out.add(p.squeeze(2));
        }
        return out;
    }

    /** {@code [B, T, H, D]} to {@code [B, H, N, C, D]}, zero-padded at the end. */
    private static NDArray chunks(NDArray x, int pad, int n, int c) {
        long[] s = x.getShape().getShape();
        NDArray y = x.transpose(0, 2, 1, 3);
        if (pad > 0) {
            y = y.concat(x.getManager().zeros(new Shape(s[0], s[2], pad, s[3]), x.getDataType()), 2);
        }
        return y.reshape(s[0], s[2], n, c, s[3]);
    }

    /** {@code [B, T, H]} to {@code [B, H, N, C]}, zero-padded at the end. */
    private static NDArray gateChunks(NDArray x, int pad, int n, int c) {
        long[] s = x.getShape().getShape();
        NDArray y = x.transpose(0, 2, 1);
        if (pad > 0) {
            y = y.concat(x.getManager().zeros(new Shape(s[0], s[2], pad), x.getDataType()), 2);
        }
        return y.reshape(s[0], s[2], n, c);
    }

    /** Lower-triangular C×C mask of ones: j ≤ i ({@code inclusive}) or j < i. */
    private static float[] mask(int c, boolean inclusive) {
        float[] m = new float[c * c];
        for (int i = 0; i < c; i++) {
            for (int j = 0; j < (inclusive ? i + 1 : i); j++) {
                m[i * c + j] = 1f;
            }
        }
        return m;
    }

    private static void requireRank(String name, NDArray a, int rank) {
        if (a == null) {
            throw new IllegalArgumentException(name + " is null");
        }
        if (a.getShape().dimension() != rank) {
            throw new IllegalArgumentException(name + " has shape " + a.getShape() + ", expected rank " + rank
                    + " [B, T, H, D]");
        }
    }
}
