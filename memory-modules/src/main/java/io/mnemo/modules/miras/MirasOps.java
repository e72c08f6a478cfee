package io.mnemo.modules.miras;

import io.mnemo.core.Shapes;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Entry point of the Miras memory op (as {@code TitansOps} is for Titans): any composition of the four
 * Miras choices ({@link MirasConfig}) run by the generic kernel, with exact gradients and step inference.
 *
 * <pre>{@code
 * MirasConfig cfg = MirasConfig.of(new MemoryArchitecture.Mlp(4, TitansActivation.SILU),
 *         new AttentionalBias.Lp(3, 1e-6), new RetentionGate.Lq(4, 1e-6), new UpdateRule.Gd()).withChunkSize(16);
 * MirasForward f = MirasOps.forward(cfg, new MirasInputs(q, k, v, theta, null, decay, null, null), true);
 * MirasGrads g = MirasOps.backward(f, dY, null);
 * }</pre>
 *
 * <p>Guarantee: one forward over T tokens equals forwards over pieces with the state carried, and T
 * calls of {@link #step}, for every chunk size (the open chunk travels in the state).
 */
public final class MirasOps {
    private MirasOps() {}

    /** The kernel: for now the generic double-precision kernel (outputs in the data type of q). */
    public static MirasKernel kernel(MirasConfig cfg) {
        return new GenericMirasKernel();
    }

    /**
     * Runs the memory over a sequence.
     *
     * @param save keep what {@link #backward} needs
     * @return {@code y [B, T, H, Dv]} and the state to carry on
     */
    public static MirasForward forward(MirasConfig cfg, MirasInputs in, boolean save) {
        MirasDims d = in.validate(cfg);
        return kernel(cfg).forward(cfg, d, in, save);
    }

    /**
     * Gradients of {@code Σ y·dY + ⟨finalState, dFinalState⟩} with respect to every input and the initial
     * state.
     *
     * @param dY {@code [B, T, H, Dv]} or null
     * @param dFinalState shaped like {@code fwd.finalState()}; any array (or the whole state) may be null
     */
    public static MirasGrads backward(MirasForward fwd, INDArray dY, MirasState dFinalState) {
        MirasDims d = fwd.dims();
        if (dY != null) {
            Shapes.require("dY", dY, "[B, T, H, Dv]", d.b(), d.t(), d.h(), d.dv());
        }
        if (dFinalState != null) {
            checkLike("dFinalState", dFinalState, fwd.finalState());
        }
        if (fwd.saved() == null) {
            throw new IllegalArgumentException("backward needs a forward pass run with save=true");
        }
        return kernel(fwd.config()).backward(fwd, dY, dFinalState);
    }

    /**
     * One token: {@link #forward} with T = 1.
     *
     * @param q {@code [B, H, Dk]}, k {@code [B, H, Dk]}, v {@code [B, H, Dv]}
     * @param theta {@code [B, H]}; eta {@code [B, H]} or null; decay {@code [B, H]}, {@code [B, H, Dk]} or null;
     *     param {@code [B, H]} or null
     * @param state the carried state or null for zeros
     * @return {@code y [B, 1, H, Dv]} and the next state
     */
    public static MirasForward step(MirasConfig cfg, INDArray q, INDArray k, INDArray v, INDArray theta, INDArray eta,
            INDArray decay, INDArray param, MirasState state) {
        Shapes.requireRank("q", q, "[B, H, Dk]", 3);
        Shapes.requireRank("k", k, "[B, H, Dk]", 3);
        Shapes.requireRank("v", v, "[B, H, Dv]", 3);
        Shapes.requireRank("theta", theta, "[B, H]", 2);
        return forward(cfg, new MirasInputs(t1(q), t1(k), t1(v), t1(theta), t1(eta), t1(decay), t1(param), state),
                false);
    }

    private static void checkLike(String name, MirasState g, MirasState s) {
        checkLayers(name + ".memory", g.memory(), s.memory());
        if (g.momentum() != null) {
            if (s.momentum() == null) {
                throw new IllegalArgumentException(name + ".momentum given but the rule has no momentum");
            }
            checkLayers(name + ".momentum", g.momentum(), s.momentum());
        }
        if (g.buffer() != null) {
            if (s.buffer() == null) {
                throw new IllegalArgumentException(name + ".buffer given but the final state has an empty open chunk");
            }
            MirasBuffer gb = g.buffer();
            MirasBuffer sb = s.buffer();
            checkBuf(name + ".buffer.k", gb.k(), sb.k());
            checkBuf(name + ".buffer.v", gb.v(), sb.v());
            checkBuf(name + ".buffer.theta", gb.theta(), sb.theta());
            checkBuf(name + ".buffer.eta", gb.eta(), sb.eta());
            checkBuf(name + ".buffer.decay", gb.decay(), sb.decay());
            checkBuf(name + ".buffer.param", gb.param(), sb.param());
        }
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
            throw new IllegalArgumentException(name + " given but the final state has no such buffer");
        }
        Shapes.require(name, g, "like the final state's buffer", s.shape());
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
