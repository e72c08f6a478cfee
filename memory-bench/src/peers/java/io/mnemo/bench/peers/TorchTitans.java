package io.mnemo.bench.peers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.mnemo.modules.titans.TitansActivation;
import io.mnemo.modules.titans.TitansGateGranularity;
import io.mnemo.modules.titans.TitansOpConfig;
import io.mnemo.modules.titans.TitansReadMode;
import java.util.ArrayList;
import java.util.List;

/**
 * The PyTorch peer of Mnemo's Titans memory op ({@code TitansOps}, docs/modules/titans.md; Behrouz, Zhong,
 * Mirrokni, "Titans: Learning to Memorize at Test Time", 2024, §3 and the §3.2 chunked form) for the
 * configuration the benchmarks run: depth 2 (the MLP memory {@code M(x) = x + W_2 silu(W_1 x)},
 * {@code W_1 [E·D, D]}, {@code W_2 [D, E·D]}, no biases), L2 inner loss {@code ½‖M(k) − v‖²}, momentum
 * {@code S_t = η_t S_{t−1} − θ_t g_t}, forgetting {@code M_t = (1 − α_t) M_{t−1} + S_t}, per-token gates,
 * inner gradients of every token of a chunk taken at the chunk-start memory {@code M_0}, per-token reads
 * {@code y_t = M_t(q_t)} (after the token's own write), no gradient clamp. Written in libtorch ops through
 * DJL's NDArray; autograd gives the outer backward.
 *
 * <p><b>The inner gradient is written out in tensor ops</b> (DJL exposes no {@code torch.autograd.grad}
 * with {@code create_graph}): with {@code z = W_1 k}, {@code a = silu(z)},
 * <pre>
 *   δ_2 = k + W_2 a − v,   δ_1 = (W_2ᵀ δ_2) ⊙ silu'(z),   g_t = (δ_1 kᵀ, δ_2 aᵀ)     (rank one per token)
 * </pre>
 * so autograd differentiates through it, second-order terms included ({@code silu'} is itself
 * differentiated).
 *
 * <p><b>Chunked form.</b> Inside a chunk the recurrence is linear with scalar coefficients, so with
 * {@code Λ_a[t,s] = Π_{s<j≤t}(1 − α_j)}, {@code Λ_η[s,i] = Π_{i<j≤s} η_j} (lower-triangular C×C, from
 * masked differences of cumulative log sums, as flash-linear-attention's chunked references handle decays),
 * <pre>
 *   M_t = A_t M_0 + B_t S_0 − Σ_{i≤t} c_{t,i} θ_i g_i,   A_t = Π_{j≤t}(1 − α_j),  B = Λ_a · (Π_{j≤s} η_j)_s,
 *   c = Λ_a Λ_η,                                             S_t = P_t S_0 − Σ_{i≤t} Λ_η[t,i] θ_i g_i
 * </pre>
 * and the reads of all C tokens are matrix products (as in chunked linear attention):
 * <pre>
 *   U = A ⊙ (Q W_1ᵀ) + B ⊙ (Q S_1ᵀ) − ((c θ) ⊙ Q Kᵀ) Δ_1,   H = silu(U)
 *   Y = Q + A ⊙ (H W_2ᵀ) + B ⊙ (H S_2ᵀ) − ((c θ) ⊙ H Aᵀ_act) Δ_2
 * </pre>
 * The chunk-end memory and momentum (row C of the coefficients) become the next chunk's {@code M_0},
 * {@code S_0}: a loop over chunks, as the gated forms of {@link TorchLinearOps}. A last incomplete chunk is
 * padded (θ = 0, η = 1, α = 0; its outputs are cut) and, as in Mnemo, its writes are not committed: the
 * returned memory and momentum are those at the last chunk boundary. Gates are floored at 1e-30 before
 * their logarithm ({@code η = 0} or {@code α = 1} would give −∞; the benchmarks' gates are far from it).
 *
 * <p>Results attach to the manager of {@code q}; run each call in a sub-manager.
 */
public final class TorchTitans {
    /** Floor of η and 1 − α before the logarithm. */
    static final float LOG_FLOOR = 1e-30f;

    private TorchTitans() {}

    /** Forward result: {@code y [B, T, H, D]}, committed memory {@code [W1, W2]} and momentum {@code [S1, S2]}. */
    public record Result(NDArray y, List<NDArray> memory, List<NDArray> momentum) {}

    /** Throws unless {@code cfg} is the configuration implemented here. */
    public static void requireSupported(TitansOpConfig cfg) {
        if (cfg.depth() != 2 || cfg.activation() != TitansActivation.SILU || !cfg.momentum() || cfg.clamp()
                || cfg.gates() != TitansGateGranularity.TOKEN || cfg.readMode() != TitansReadMode.PER_TOKEN) {
            throw new UnsupportedOperationException("the PyTorch Titans peer implements depth 2, SiLU, momentum, "
                    + "no clamp, TOKEN gates and PER_TOKEN reads; got " + cfg);
        }
    }

    /**
     * The chunked forward.
     *
     * @param q {@code [B, T, H, D]}
     * @param k {@code [B, T, H, D]}
     * @param v {@code [B, T, H, D]}
     * @param theta {@code [B, T, H]}
     * @param eta {@code [B, T, H]}
     * @param alpha {@code [B, T, H]}
     * @param memory {@code W1 [B, H, E·D, D]}, {@code W2 [B, H, D, E·D]}
     * @param momentum {@code [S1, S2]} shaped like {@code memory}, or null for zeros
     * @param chunk chunk size C
     */
    public static Result forward(NDArray q, NDArray k, NDArray v, NDArray theta, NDArray eta, NDArray alpha,
            List<NDArray> memory, List<NDArray> momentum, int chunk) {
        if (chunk <= 0) {
            throw new IllegalArgumentException("chunk must be > 0, got " + chunk);
        }
        long[] s = requireRank("q", q, 4).getShape().getShape();
        int b = (int) s[0];
        int t = (int) s[1];
        int h = (int) s[2];
        int d = (int) s[3];
        for (NDArray x : new NDArray[] {requireRank("k", k, 4), requireRank("v", v, 4)}) {
            if (!x.getShape().equals(q.getShape())) {
                throw new IllegalArgumentException("k and v must have q's shape " + q.getShape() + ", got "
                        + x.getShape());
            }
        }
        Shape gs = new Shape(b, t, h);
        for (NDArray x : new NDArray[] {theta, eta, alpha}) {
            if (x == null || !x.getShape().equals(gs)) {
                throw new IllegalArgumentException("theta, eta and alpha must be [B, T, H] = " + gs + ", got "
                        + (x == null ? "null" : x.getShape()));
            }
        }
        requireMemory(memory, momentum, b, h, d);
        if (t == 0) {
            throw new IllegalArgumentException("T = 0: nothing to compute");
        }
        int n = (t + chunk - 1) / chunk;
        int pad = n * chunk - t;
        NDManager m = q.getManager();

        NDArray qc = chunks(q, pad, n, chunk); // [B, H, N, C, D]
        NDArray kc = chunks(k, pad, n, chunk);
        NDArray vc = chunks(v, pad, n, chunk);
        NDArray th = gateChunks(theta, pad, n, chunk); // [B, H, N, C], θ = 0 in the padding
        // logs of η and 1 − α, 0 (a factor 1) in the padding
        // the floor as a tensor of m, not maximum(float), whose backward would read a freed number (Torch#scalar)
        NDArray floor = Torch.scalar(m, LOG_FLOOR);
        NDArray le = gateChunks(eta.maximum(floor).log(), pad, n, chunk);
        NDArray la = gateChunks(alpha.neg().add(1f).maximum(floor).log(), pad, n, chunk);
        NDArray cumA = la.cumSum(3);
        NDArray cumE = le.cumSum(3);
        NDArray incl = m.create(mask(chunk), new Shape(chunk, chunk));
        NDArray negBig = incl.sub(1).mul(1e30f);
        NDArray lamA = decayMatrix(cumA, incl, negBig); // Λ_a [B, H, N, C, C]
        NDArray lamE = decayMatrix(cumE, incl, negBig); // Λ_η
        NDArray coefA = cumA.exp().expandDims(4); // A_t [B, H, N, C, 1]
        NDArray coefB = lamA.matMul(cumE.exp().expandDims(4)); // B_t [B, H, N, C, 1]
        NDArray coef = lamA.matMul(lamE); // c_{t,i}
        NDArray cTheta = coef.mul(th.expandDims(3)); // c_{t,i} θ_i
        // chunk-end rows: c_{C,i} θ_i and Λ_η[C,i] θ_i [B, H, N, C, 1]; A_C, B_C, P_C [B, H, N, 1, 1]
        NDArray wMem = cTheta.get(":, :, :, -1").expandDims(4);
        NDArray wMom = lamE.get(":, :, :, -1").mul(th).expandDims(4);
        NDArray endA = coefA.get(":, :, :, -1:");
        NDArray endB = coefB.get(":, :, :, -1:");
        NDArray endP = cumE.get(":, :, :, -1:").exp().expandDims(4);

        List<NDArray> qs = TorchLinearOps.chunkList(qc);
        List<NDArray> ks = TorchLinearOps.chunkList(kc);
        List<NDArray> vs = TorchLinearOps.chunkList(vc);
        List<NDArray> cts = TorchLinearOps.chunkList(cTheta);
        List<NDArray> as = TorchLinearOps.chunkList(coefA);
        List<NDArray> bsC = TorchLinearOps.chunkList(coefB);
        List<NDArray> wm = TorchLinearOps.chunkList(wMem);
        List<NDArray> wp = TorchLinearOps.chunkList(wMom);
        List<NDArray> ea = TorchLinearOps.chunkList(endA);
        List<NDArray> eb = TorchLinearOps.chunkList(endB);
        List<NDArray> ep = TorchLinearOps.chunkList(endP);

        NDArray w1 = memory.get(0);
        NDArray w2 = memory.get(1);
        NDArray s1 = momentum != null ? momentum.get(0) : m.zeros(w1.getShape(), w1.getDataType());
        NDArray s2 = momentum != null ? momentum.get(1) : m.zeros(w2.getShape(), w2.getDataType());
        NDList ys = new NDList(n);
        List<NDArray> given = List.of(w1, w2, s1, s2);
        for (int i = 0; i < n; i++) {
            NDArray kk = ks.get(i); // [B, H, C, D]
            NDArray qq = qs.get(i);
            NDArray ct = cts.get(i); // [B, H, C, C]
            NDArray ca = as.get(i); // [B, H, C, 1]
            NDArray cb = bsC.get(i);
            boolean last = i == n - 1;
            NDArray y;
            NDArray[] next = null;
            // the chunk's temporaries live in a sub-manager closed at the chunk's end (Python frees them by reference
            // counting; autograd keeps what its backward needs), so memory does not grow with everything computed
            try (NDManager cm = m.newSubManager()) {
                cm.tempAttachAll(kk, qq, ct, ca, cb, vs.get(i), wm.get(i), wp.get(i), ea.get(i), eb.get(i), ep.get(i),
                        w1, w2, s1, s2);
                // inner gradient at the chunk-start memory, every token of the chunk
                NDArray w1t = w1.swapAxes(2, 3);
                NDArray w2t = w2.swapAxes(2, 3);
                NDArray z = kk.matMul(w1t); // [B, H, C, E·D]
                NDArray sig = z.getNDArrayInternal().sigmoid();
                NDArray act = z.mul(sig);
                NDArray d2 = kk.add(act.matMul(w2t)).sub(vs.get(i)); // δ_2 [B, H, C, D]
                NDArray dSilu = sig.mul(z.mul(sig.neg().add(1f)).add(1f)); // silu'(z) = σ(z)(1 + z(1 − σ(z)))
                NDArray d1 = d2.matMul(w2).mul(dSilu); // δ_1 [B, H, C, E·D]
                // per-token reads of M_t
                NDArray u1 = ca.mul(qq.matMul(w1t)).add(cb.mul(qq.matMul(s1.swapAxes(2, 3))))
                        .sub(ct.mul(qq.matMul(kk.swapAxes(2, 3))).matMul(d1));
                NDArray hid = u1.mul(u1.getNDArrayInternal().sigmoid());
                y = qq.add(ca.mul(hid.matMul(w2t))).add(cb.mul(hid.matMul(s2.swapAxes(2, 3))))
                        .sub(ct.mul(hid.matMul(act.swapAxes(2, 3))).matMul(d2));
                y.attach(m);
                if (!(last && pad > 0)) { // the open chunk is not committed
                    // chunk-end memory and momentum
                    NDArray d1m = d1.mul(wm.get(i)).swapAxes(2, 3); // [B, H, E·D, C]
                    NDArray d2m = d2.mul(wm.get(i)).swapAxes(2, 3);
                    NDArray d1p = d1.mul(wp.get(i)).swapAxes(2, 3);
                    NDArray d2p = d2.mul(wp.get(i)).swapAxes(2, 3);
                    next = new NDArray[] {w1.mul(ea.get(i)).add(s1.mul(eb.get(i))).sub(d1m.matMul(kk)),
                        w2.mul(ea.get(i)).add(s2.mul(eb.get(i))).sub(d2m.matMul(act)),
                        s1.mul(ep.get(i)).sub(d1p.matMul(kk)), s2.mul(ep.get(i)).sub(d2p.matMul(act))};
                    for (NDArray a : next) {
                        a.attach(m);
                    }
                }
            }
            ys.add(y);
            for (NDArray a : new NDArray[] {kk, qq, ct, ca, cb, vs.get(i), wm.get(i), wp.get(i), ea.get(i), eb.get(i),
                ep.get(i)}) {
                a.close();
            }
            if (next != null) {
                for (NDArray a : new NDArray[] {w1, w2, s1, s2}) {
                    if (given.stream().noneMatch(g -> g == a)) {
                        a.close(); // the previous chunk's state (not the caller's arrays)
                    }
                }
                w1 = next[0];
                w2 = next[1];
                s1 = next[2];
                s2 = next[3];
            }
        }
        // [B, H, N, C, D] -> [B, T, H, D]
        NDArray out = NDArrays.stack(ys, 2).reshape(b, h, (long) n * chunk, d);
        if (pad > 0) {
            out = out.get(":, :, :" + t);
        }
        return new Result(out.transpose(0, 2, 1, 3), List.of(w1, w2), List.of(s1, s2));
    }

    /**
     * The carried state of {@link #step}: committed memory and momentum (at the last chunk boundary), the
     * running memory and momentum (after the open chunk's writes) and the open chunk's length.
     */
    public record StepState(List<NDArray> memory, List<NDArray> momentum, List<NDArray> runMemory,
            List<NDArray> runMomentum, int buffered) {
        /** Every array of the state. */
        public NDArray[] arrays() {
            // distinct by identity (NDArray.equals compares contents)
            java.util.Set<NDArray> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
            List<NDArray> l = new ArrayList<>();
            for (List<NDArray> x : List.of(memory, momentum, runMemory, runMomentum)) {
                for (NDArray a : x) {
                    if (seen.add(a)) {
                        l.add(a);
                    }
                }
            }
            return l.toArray(new NDArray[0]);
        }
    }

    /** A state at a chunk boundary with the given memory and momentum (null for zeros). */
    public static StepState startState(List<NDArray> memory, List<NDArray> momentum) {
        List<NDArray> mom = momentum != null ? momentum : memory.stream()
                .map(w -> w.getManager().zeros(w.getShape(), w.getDataType())).toList();
        return new StepState(memory, mom, memory, mom, 0);
    }

    /** Output of {@link #step}: {@code y [B, H, D]} and the next state. */
    public record Step(NDArray y, StepState state) {}

    /**
     * One token for every sequence and head: the inner gradient at the committed memory, the momentum and
     * forgetting write into the running memory, the read {@code y = M_t(q)}; the running memory is committed
     * when the chunk fills. O(P) per token.
     *
     * @param q {@code [B, H, D]}
     * @param k {@code [B, H, D]}
     * @param v {@code [B, H, D]}
     * @param theta {@code [B, H]}
     * @param eta {@code [B, H]}
     * @param alpha {@code [B, H]}
     * @param chunk chunk size C
     */
    public static Step step(StepState st, NDArray q, NDArray k, NDArray v, NDArray theta, NDArray eta, NDArray alpha,
            int chunk) {
        NDArray w1 = st.memory().get(0);
        NDArray w2 = st.memory().get(1);
        NDArray kr = k.expandDims(2); // [B, H, 1, D]
        NDArray z = kr.matMul(w1.swapAxes(2, 3)); // [B, H, 1, E·D]
        NDArray sig = z.getNDArrayInternal().sigmoid();
        NDArray act = z.mul(sig);
        NDArray d2 = kr.add(act.matMul(w2.swapAxes(2, 3))).sub(v.expandDims(2)); // [B, H, 1, D]
        NDArray d1 = d2.matMul(w2).mul(sig.mul(z.mul(sig.neg().add(1f)).add(1f))); // [B, H, 1, E·D]
        NDArray thS = theta.expandDims(2).expandDims(3);
        NDArray etS = eta.expandDims(2).expandDims(3);
        NDArray keep = alpha.neg().add(1f).expandDims(2).expandDims(3);
        NDArray s1 = st.runMomentum().get(0).mul(etS).sub(d1.swapAxes(2, 3).matMul(kr).mul(thS));
        NDArray s2 = st.runMomentum().get(1).mul(etS).sub(d2.swapAxes(2, 3).matMul(act).mul(thS));
        NDArray m1 = st.runMemory().get(0).mul(keep).add(s1);
        NDArray m2 = st.runMemory().get(1).mul(keep).add(s2);
        NDArray qr = q.expandDims(2);
        NDArray u = qr.matMul(m1.swapAxes(2, 3));
        NDArray y = qr.add(u.mul(u.getNDArrayInternal().sigmoid()).matMul(m2.swapAxes(2, 3))).squeeze(2);
        List<NDArray> run = List.of(m1, m2);
        List<NDArray> runS = List.of(s1, s2);
        int nb = st.buffered() + 1;
        StepState next = nb == chunk ? new StepState(run, runS, run, runS, 0)
                : new StepState(st.memory(), st.momentum(), run, runS, nb);
        return new Step(y, next);
    }

    /** Λ[t,s] = exp(G_t − G_s) for s ≤ t, 0 above the diagonal (the exponent masked first). */
    private static NDArray decayMatrix(NDArray cum, NDArray incl, NDArray negBig) {
        return cum.expandDims(4).sub(cum.expandDims(3)).mul(incl).add(negBig).exp();
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

    /** Lower-triangular C×C mask of ones, j ≤ i. */
    private static float[] mask(int c) {
        float[] m = new float[c * c];
        for (int i = 0; i < c; i++) {
            for (int j = 0; j <= i; j++) {
                m[i * c + j] = 1f;
            }
        }
        return m;
    }

    private static NDArray requireRank(String name, NDArray a, int rank) {
        if (a == null) {
            throw new IllegalArgumentException(name + " is null");
        }
        if (a.getShape().dimension() != rank) {
            throw new IllegalArgumentException(name + " has shape " + a.getShape() + ", expected rank " + rank
                    + " [B, T, H, D]");
        }
        return a;
    }

    /** Checks the memory (and momentum) layers; returns the expansion E. */
    private static int requireMemory(List<NDArray> memory, List<NDArray> momentum, int b, int h, int d) {
        if (memory == null || memory.size() != 2) {
            throw new IllegalArgumentException("memory must hold the 2 layers [W1 [B, H, E·D, D], W2 [B, H, D, E·D]], "
                    + "got " + (memory == null ? "null" : memory.size() + " arrays"));
        }
        long hidden = memory.get(0).getShape().get(2);
        Shape s1 = new Shape(b, h, hidden, d);
        Shape s2 = new Shape(b, h, d, hidden);
        if (!memory.get(0).getShape().equals(s1) || !memory.get(1).getShape().equals(s2) || hidden % d != 0) {
            throw new IllegalArgumentException("memory layers must be W1 [B, H, E·D, D] and W2 [B, H, D, E·D] with B="
                    + b + ", H=" + h + ", D=" + d + ", got " + memory.get(0).getShape() + " and "
                    + memory.get(1).getShape());
        }
        if (momentum != null && (momentum.size() != 2 || !momentum.get(0).getShape().equals(s1)
                || !momentum.get(1).getShape().equals(s2))) {
            throw new IllegalArgumentException("momentum must be shaped like memory: " + s1 + ", " + s2);
        }
        return (int) (hidden / d);
    }
}
