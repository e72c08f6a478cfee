package io.mnemo.modules.titans;

import io.mnemo.core.OpenBlasCheck;
import io.mnemo.core.Shapes;
import io.mnemo.core.kernel.Backend;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Entry point of the Titans neural long-term memory op (the memory core, as {@code LinearOps} is for
 * the linear family): validates, picks the backend, runs it. A block (projections, convolution, gates,
 * MAC/MAG/MAL) drives it with per-token q, k, v and squashed gates and carries its {@link TitansState}.
 *
 * <pre>{@code
 * TitansOpConfig cfg = TitansOpConfig.defaults().withChunkSize(16);
 * TitansState s0 = TitansState.ofMemory(cfg, List.of(w1, w2));          // [B, H, 4D, D], [B, H, D, 4D]
 * TitansForward f = TitansOps.forward(cfg, new TitansInputs(q, k, v, theta, eta, alpha, s0), true);
 * TitansGrads g = TitansOps.backward(f, dY, null);
 * }</pre>
 *
 * <p>Guarantee: one forward over T tokens equals forwards over pieces with the state carried, and T
 * calls of {@link #step}, for every chunk size (the open chunk travels in the state).
 *
 * <p>Backends ({@link TitansOpConfig#backend()}): {@code reference}, {@code cpu} and {@code nd4j} implement
 * every option of {@link TitansOpConfig} with the same semantics (see {@link #kernel}).
 */
public final class TitansOps {
    private TitansOps() {}

    /**
     * The kernel of a backend: {@code reference} ({@link ReferenceTitansKernel}, double, per token),
     * {@code cpu} ({@link CpuTitansKernel}, float, chunked matrix form with the Vector API) or {@code nd4j}
     * ({@link Nd4jTitansKernel}, the chunked form as batched ND4J ops in the inputs' data type, which runs on
     * ND4J's CUDA backend). {@link Backend#AUTO} follows {@link Backend#resolve()}: the cpu kernel on ND4J's
     * CPU backend, the nd4j kernel on CUDA (unless {@code mnemo.backend} overrides it).
     */
    public static TitansKernel kernel(Backend backend) {
        return switch (backend.resolve()) {
            case REFERENCE -> new ReferenceTitansKernel();
            case CPU -> new CpuTitansKernel();
            case ND4J -> new Nd4jTitansKernel();
            case AUTO -> throw new IllegalStateException("unresolved backend");
        };
    }

    /**
     * Runs the memory over a sequence.
     *
     * @param save keep what {@link #backward} needs
     * @return {@code y [B, T, H, D]} and the state to carry on
     */
    public static TitansForward forward(TitansOpConfig cfg, TitansInputs in, boolean save) {
        OpenBlasCheck.checkOnce();
        TitansDims d = in.validate(cfg);
        return kernel(cfg.backend()).forward(cfg, d, in, save);
    }

    /**
     * Gradients of {@code Σ y·dY + ⟨finalState, dFinalState⟩} with respect to every input and the
     * initial state.
     *
     * @param dY {@code [B, T, H, D]} or null
     * @param dFinalState shaped like {@code fwd.finalState()}; any array (or the whole state) may be null
     */
    public static TitansGrads backward(TitansForward fwd, INDArray dY, TitansState dFinalState) {
        TitansDims d = fwd.dims();
        if (dY != null) {
            Shapes.require("dY", dY, "[B, T, H, D]", d.b(), d.t(), d.h(), d.d());
        }
        if (dFinalState != null) {
            checkLike("dFinalState", dFinalState, fwd.finalState());
        }
        if (fwd.saved() == null) {
            throw new IllegalArgumentException("backward needs a forward pass run with save=true");
        }
        return kernel(fwd.config().backend()).backward(fwd, dY, dFinalState);
    }

    /**
     * One token: {@code forward} with T = 1 (the open chunk is buffered in the state and committed when
     * it fills). Costs up to one chunk of recomputation in {@link TitansReadMode#PER_TOKEN} mode.
     *
     * @param q {@code [B, H, D]}, k {@code [B, H, D]}, v {@code [B, H, D]}
     * @param theta {@code [B, H]}, eta {@code [B, H]} (null without momentum), alpha {@code [B, H]}
     * @param state the carried state or null for zeros
     * @return {@code y [B, 1, H, D]} and the next state
     */
    public static TitansForward step(TitansOpConfig cfg, INDArray q, INDArray k, INDArray v, INDArray theta,
            INDArray eta, INDArray alpha, TitansState state) {
        Shapes.requireRank("q", q, "[B, H, D]", 3);
        Shapes.requireRank("k", k, "[B, H, D]", 3);
        Shapes.requireRank("v", v, "[B, H, D]", 3);
        Shapes.requireRank("theta", theta, "[B, H]", 2);
        Shapes.requireRank("alpha", alpha, "[B, H]", 2);
        if (eta != null) {
            Shapes.requireRank("eta", eta, "[B, H]", 2);
        }
        return forward(cfg, new TitansInputs(t1(q), t1(k), t1(v), t1(theta), t1(eta), t1(alpha), state), false);
    }

    /**
     * Retrieval without any write: {@code y_t = M(q_t)} with the given weights for every token (e.g. a
     * state's committed {@code memory()}; the open chunk's buffered writes are not included). For a MAC
     * block: retrieve for a segment before its writes, and again after them.
     *
     * @param q {@code [B, T, H, D]}
     * @param memory one array per layer {@code [B, H, rows(l), cols(l)]}
     * @return y {@code [B, T, H, D]}
     */
    public static INDArray read(TitansOpConfig cfg, INDArray q, List<INDArray> memory) {
        return TitansRead.forward(cfg, q, memory);
    }

    /**
     * Gradients of {@code Σ read(cfg, q, memory)·dY}.
     *
     * @param dY {@code [B, T, H, D]}
     * @return {@code [dq [B, T, H, D], dMemory layer 0, dMemory layer 1, …]}
     */
    public static INDArray[] readBackward(TitansOpConfig cfg, INDArray q, List<INDArray> memory, INDArray dY) {
        return TitansRead.backward(cfg, q, memory, dY);
    }

    private static void checkLike(String name, TitansState g, TitansState s) {
        checkLayers(name + ".memory", g.memory(), s.memory());
        if (g.momentum() != null) {
            if (s.momentum() == null) {
                throw new IllegalArgumentException(name + ".momentum given but the op runs without momentum");
            }
            checkLayers(name + ".momentum", g.momentum(), s.momentum());
        }
        checkBuf(name + ".bufK", g.bufK(), s.bufK());
        checkBuf(name + ".bufV", g.bufV(), s.bufV());
        checkBuf(name + ".bufTheta", g.bufTheta(), s.bufTheta());
        checkBuf(name + ".bufEta", g.bufEta(), s.bufEta());
        checkBuf(name + ".bufAlpha", g.bufAlpha(), s.bufAlpha());
    }

    private static void checkLayers(String name, List<INDArray> g, List<INDArray> s) {
        if (g.size() != s.size()) {
            throw new IllegalArgumentException(name + " has " + g.size() + " layers, expected " + s.size());
        }
        for (int l = 0; l < g.size(); l++) {
            if (g.get(l) != null) {
                Shapes.require(name + "[" + l + "]", g.get(l), "[B, H, rows, cols]", s.get(l).shape());
            }
        }
    }

    private static void checkBuf(String name, INDArray g, INDArray s) {
        if (g == null) {
            return;
        }
        if (s == null) {
            throw new IllegalArgumentException(name + " given but the final state has no such buffer (empty open chunk)");
        }
        Shapes.require(name, g, s.rank() == 4 ? "[B, n, H, D]" : "[B, n, H]", s.shape());
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
