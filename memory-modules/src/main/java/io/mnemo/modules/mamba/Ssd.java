package io.mnemo.modules.mamba;

import io.mnemo.core.Shapes;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.linear.LinearForward;
import io.mnemo.modules.linear.LinearGrads;
import io.mnemo.modules.linear.LinearInputs;
import io.mnemo.modules.linear.LinearOp;
import io.mnemo.modules.linear.LinearOpConfig;
import io.mnemo.modules.linear.LinearOps;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Mamba-2's state-space-duality (SSD) core with the semantics of mamba_ssm's {@code ssd_minimal_discrete}
 * (Dao and Gu, "Transformers are SSMs", 2024, listing 1): per head h, state {@code H_t [P, N]},
 *
 * <pre>
 *   H_t = exp(A_t) H_{t−1} + X_t B_tᵀ        y_t = H_t C_t
 * </pre>
 *
 * where X and A arrive already multiplied by Δ (as in the reference; A_t ≤ 0 is a log decay), B and C
 * are shared by the heads of a group ({@code G} groups, head h uses group {@code h / (H/G)}, mamba_ssm's
 * {@code repeat(B, "b l g n -> b l (g h) n")}).
 *
 * <p>This is exactly the scalar-decay matrix memory of the linear family (simple GLA / RetNet form,
 * DESIGN.md §1) with {@code q = C, k = B, v = X, g = A, scale = 1} and the state transposed
 * ({@code S[k, v] = Hᵀ}), so the op runs on {@link LinearOps}' kernels: {@code reference} (double,
 * per token), {@code cpu} (fused recurrence) and {@code nd4j} — the latter is the SSD chunk algorithm
 * itself (intra-chunk {@code (L ∘ C Bᵀ) X}, chunk states, inter-chunk recurrence, state to output, with
 * {@code blockLen} as the chunk). Gradients come from the same kernels' hand-written backward passes and
 * are summed over the heads of each B/C group.
 *
 * <p>Shapes: X {@code [B, L, H, P]}, A {@code [B, L, H]}, B and C {@code [B, L, G, N]} (G divides H),
 * initial and final states {@code [B, H, P, N]}.
 */
public final class Ssd {
    private Ssd() {}

    /**
     * Output of {@link #forward}.
     *
     * @param y {@code [B, L, H, P]}
     * @param finalState {@code [B, H, P, N]}
     * @param saved what {@link #backward} needs (null unless the forward was run with save)
     */
    public record Result(INDArray y, INDArray finalState, Object saved) {}

    /** Gradients of {@code Σ y·dY + Σ finalState·dFinalState}; shapes as the inputs. */
    public record Grads(INDArray dX, INDArray dA, INDArray dB, INDArray dC, INDArray dInitialState) {}

    private record Saved(LinearForward fwd, int groups) {}

    /**
     * Runs SSD over a sequence.
     *
     * @param x {@code [B, L, H, P]} (already multiplied by Δ)
     * @param a {@code [B, L, H]} log decays (already multiplied by Δ)
     * @param b {@code [B, L, G, N]}
     * @param c {@code [B, L, G, N]}
     * @param blockLen chunk length of the chunked algorithm (any value gives the same result up to rounding)
     * @param initialState {@code [B, H, P, N]} or null for zeros
     * @param backend kernel backend
     * @param save keep what {@link #backward} needs
     */
    public static Result forward(INDArray x, INDArray a, INDArray b, INDArray c, int blockLen, INDArray initialState,
            Backend backend, boolean save) {
        Shapes.requireRank("X", x, "[B, L, H, P]", 4);
        long bs = x.size(0);
        long l = x.size(1);
        long h = x.size(2);
        long p = x.size(3);
        Shapes.require("A", a, "[B, L, H]", bs, l, h);
        Shapes.requireRank("B", b, "[B, L, G, N]", 4);
        long g = b.size(2);
        long n = b.size(3);
        Shapes.require("B", b, "[B, L, G, N]", bs, l, g, n);
        Shapes.require("C", c, "[B, L, G, N]", bs, l, g, n);
        if (h % g != 0) {
            throw new IllegalArgumentException("B and C have G=" + g + " groups, which does not divide the H=" + h
                    + " heads of X");
        }
        if (blockLen <= 0) {
            throw new IllegalArgumentException("blockLen must be > 0, got " + blockLen);
        }
        if (initialState != null) {
            Shapes.require("initial_states", initialState, "[B, H, P, N]", bs, h, p, n);
        }
        DataType t = x.dataType();
        LinearOpConfig cfg = LinearOpConfig.of(LinearOp.SIMPLE_GLA).withBackend(backend).withScale(1.0)
                .withChunkSize(blockLen);
        INDArray s0 = initialState == null ? null : initialState.castTo(t).permute(0, 1, 3, 2).dup('c');
        LinearInputs in = new LinearInputs(toHeads(c.castTo(t), h), toHeads(b.castTo(t), h), x, a.castTo(t), null,
                null, s0);
        LinearForward f = LinearOps.forward(cfg, in, save);
        INDArray fin = f.finalState().permute(0, 1, 3, 2).dup('c');
        return new Result(f.o(), fin, save ? new Saved(f, (int) g) : null);
    }

    /**
     * Exact gradients of a forward pass run with {@code save = true}.
     *
     * @param dY {@code [B, L, H, P]} or null
     * @param dFinalState {@code [B, H, P, N]} or null
     */
    public static Grads backward(Result fwd, INDArray dY, INDArray dFinalState) {
        if (!(fwd.saved() instanceof Saved s)) {
            throw new IllegalArgumentException("backward needs a forward pass run with save=true");
        }
        INDArray dS = null;
        if (dFinalState != null) {
            Shapes.require("dFinalState", dFinalState, "[B, H, P, N]", fwd.finalState().shape());
            dS = dFinalState.castTo(fwd.y().dataType()).permute(0, 1, 3, 2).dup('c');
        }
        LinearGrads gr = LinearOps.backward(s.fwd(), dY, dS);
        return new Grads(gr.dv(), gr.dg(), toGroups(gr.dk(), s.groups()), toGroups(gr.dq(), s.groups()),
                gr.dInitialState().permute(0, 1, 3, 2).dup('c'));
    }

    /**
     * One token.
     *
     * @param x {@code [B, H, P]}, a {@code [B, H]}, b and c {@code [B, G, N]}
     * @param state {@code [B, H, P, N]} or null for zeros
     * @return y {@code [B, 1, H, P]} and the next state
     */
    public static Result step(INDArray x, INDArray a, INDArray b, INDArray c, INDArray state, Backend backend) {
        Shapes.requireRank("X", x, "[B, H, P]", 3);
        Shapes.requireRank("A", a, "[B, H]", 2);
        Shapes.requireRank("B", b, "[B, G, N]", 3);
        Shapes.requireRank("C", c, "[B, G, N]", 3);
        return forward(x.reshape(x.size(0), 1, x.size(1), x.size(2)), a.reshape(a.size(0), 1, a.size(1)),
                b.reshape(b.size(0), 1, b.size(1), b.size(2)), c.reshape(c.size(0), 1, c.size(1), c.size(2)), 1,
                state, backend, false);
    }

    /** {@code [B, L, G, N]} → {@code [B, L, H, N]}, head h taking group h / (H/G). */
    static INDArray toHeads(INDArray bg, long h) {
        long g = bg.size(2);
        if (g == h) {
            return bg;
        }
        long rep = h / g;
        INDArray out = Nd4j.create(bg.dataType(), bg.size(0), bg.size(1), g, rep, bg.size(3));
        for (long j = 0; j < rep; j++) {
            out.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(j),
                    NDArrayIndex.all()).assign(bg);
        }
        return out.reshape(bg.size(0), bg.size(1), h, bg.size(3));
    }

    /** {@code [B, L, H, N]} → {@code [B, L, G, N]}, summing the heads of each group. */
    static INDArray toGroups(INDArray bh, int g) {
        long h = bh.size(2);
        if (g == h) {
            return bh;
        }
        return bh.reshape(bh.size(0), bh.size(1), g, h / g, bh.size(3)).sum(3);
    }
}
