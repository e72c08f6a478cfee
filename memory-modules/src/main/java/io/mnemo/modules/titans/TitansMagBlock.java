package io.mnemo.modules.titans;

import io.mnemo.core.MemoryState;
import io.mnemo.core.Mixer;
import io.mnemo.core.Parameter;
import io.mnemo.core.Shapes;
import io.mnemo.core.nn.Fn;
import io.mnemo.core.nn.Init;
import io.mnemo.modules.attention.AttentionBlock;
import io.mnemo.modules.attention.AttentionBlockConfig;
import io.mnemo.modules.attention.KvCache;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Titans "memory as a gate" (MAG; Behrouz et al. 2024, §4.2): a sliding-window attention branch and a
 * neural-memory branch over the same input, combined by a non-linear gate:
 * <pre>
 *   a = SWA([P ‖ x])[N_p:]             sliding-window attention; the N_p persistent tokens P lead the
 *                                      sequence and stay visible to every query (global keys)
 *   m = LMM(x)                         {@link TitansBlock}
 *   y = (RMSNorm_{w_a}(a) ⊙ σ(RMSNorm_{w_m}(m))) W_o
 * </pre>
 * Choices where the paper is brief: P is prepended only to the attention branch (the memory learns from
 * the data tokens; P needs no storing), and only at the start of a sequence — the attention cache keeps
 * P as its global tokens afterwards; the gate "normalises both outputs with learnable vector weights, then
 * σ" is read as above with {@code w_a, w_m [D]} initialised to 1. Shapes: x and y {@code [B, T, D]}.
 */
public final class TitansMagBlock implements Mixer<TitansMagBlock.State> {
    private static final double EPS = 1e-6;

    /**
     * State: the attention cache (holding P as global tokens once the sequence has started) and the memory
     * layer's state.
     */
    public record State(KvCache attention, TitansBlockState memory) implements MemoryState {
        @Override
        public State copy() {
            return new State(attention.copy(), memory.copy());
        }

        @Override
        public State detach() {
            return new State(attention.detach(), memory.detach());
        }
    }

    private final int dModel;
    private final int persistent;
    private final DataType type;
    private final AttentionBlock attn;
    private final TitansBlock mem;
    private final List<Parameter> params = new ArrayList<>();
    private final Parameter pTokens;
    private final Parameter normA;
    private final Parameter normM;
    private final Parameter wo;

    /**
     * @param attention the attention branch (its {@code globalTokens} must equal {@code persistentTokens}
     *     when it has a window, so that P stays visible)
     * @param memory the memory branch (same dModel and data type)
     * @param persistentTokens N_p ≥ 0 learned tokens leading the attention branch
     * @param seed initialisation seed of P and W_o
     */
    public TitansMagBlock(AttentionBlockConfig attention, TitansBlockConfig memory, int persistentTokens, long seed) {
        if (attention.dModel() != memory.dModel()) {
            throw new IllegalArgumentException("attention dModel=" + attention.dModel() + " differs from memory dModel="
                    + memory.dModel());
        }
        if (attention.dataType() != memory.dataType()) {
            throw new IllegalArgumentException("attention dataType " + attention.dataType()
                    + " differs from memory dataType " + memory.dataType());
        }
        if (persistentTokens < 0) {
            throw new IllegalArgumentException("persistentTokens must be >= 0, got " + persistentTokens);
        }
        if (attention.window() > 0 && attention.globalTokens() != persistentTokens) {
            throw new IllegalArgumentException("a windowed attention branch must keep the " + persistentTokens
                    + " persistent tokens as global tokens, got globalTokens=" + attention.globalTokens());
        }
        this.dModel = memory.dModel();
        this.persistent = persistentTokens;
        this.type = memory.dataType();
        this.attn = new AttentionBlock(attention);
        this.mem = new TitansBlock(memory);
        Random rng = new Random(seed);
        for (Parameter p : attn.parameters()) {
            params.add(new Parameter("attn." + p.name(), p.value(), p.grad()));
        }
        for (Parameter p : mem.parameters()) {
            params.add(new Parameter("mem." + p.name(), p.value(), p.grad()));
        }
        pTokens = persistentTokens > 0 ? add("persistent", Init.normal(type, rng, 1.0, persistentTokens, dModel))
                : null;
        normA = add("norm_a", Nd4j.ones(type, dModel));
        normM = add("norm_m", Nd4j.ones(type, dModel));
        wo = add("w_o", Init.normal(type, rng, 1 / Math.sqrt(dModel), dModel, dModel));
    }

    private Parameter add(String name, INDArray v) {
        Parameter p = Parameter.of(name, v);
        params.add(p);
        return p;
    }

    @Override
    public int dModel() {
        return dModel;
    }

    @Override
    public List<Parameter> parameters() {
        return List.copyOf(params);
    }

    @Override
    public State initialState(int batch) {
        return new State(attn.initialState(batch), mem.initialState(batch));
    }

    private record Saved(Forward<KvCache> fa, Forward<TitansBlockState> fm, boolean prefixed, INDArray a,
            INDArray m, INDArray ra, INDArray rm, INDArray na, INDArray g, INDArray u, int b, int t) {}

    @Override
    public Forward<State> forward(INDArray x, State state, boolean training) {
        Shapes.require("x", x, "[B, T, D]", Shapes.ANY, Shapes.ANY, dModel);
        int b = (int) x.size(0);
        int t = (int) x.size(1);
        State s = state == null ? initialState(b) : state;
        boolean prefixed = pTokens != null && s.attention().position() == 0;
        INDArray xa = x;
        if (prefixed) {
            INDArray p = pTokens.value().reshape(1, persistent, dModel).broadcast(b, persistent, dModel);
            xa = Nd4j.concat(1, p, x);
        }
        Forward<KvCache> fa = attn.forward(xa, s.attention(), training);
        Forward<TitansBlockState> fm = mem.forward(x, s.memory(), training);
        long n = (long) b * t;
        if (t == 0) {
            return new Forward<>(x.dup(), new State(fa.state(), fm.state()), null);
        }
        INDArray a = (prefixed ? fa.y().get(NDArrayIndex.all(), NDArrayIndex.interval(persistent, persistent + t),
                NDArrayIndex.all()) : fa.y()).dup('c').reshape(n, dModel);
        INDArray m = fm.y().dup('c').reshape(n, dModel);
        INDArray[] ra = Fn.rmsNormRows(a, normA.value(), EPS);
        INDArray[] rm = Fn.rmsNormRows(m, normM.value(), EPS);
        INDArray g = Fn.sigmoid(rm[0]);
        INDArray u = ra[0].mul(g);
        INDArray y = u.mmul(wo.value()).reshape(b, t, dModel);
        Saved saved = training ? new Saved(fa, fm, prefixed, a, m, ra[1], rm[1], ra[0], g, u, b, t) : null;
        return new Forward<>(y, new State(fa.state(), fm.state()), saved);
    }

    @Override
    public Backward<State> backward(Forward<State> fwd, INDArray dy, State dState) {
        if (!(fwd.saved() instanceof Saved s)) {
            throw new IllegalArgumentException("backward needs a forward pass run with training=true (and T > 0)");
        }
        int b = s.b();
        int t = s.t();
        long n = (long) b * t;
        Shapes.require("dy", dy, "[B, T, D]", b, t, dModel);
        INDArray dy2 = dy.dup('c').reshape(n, dModel);
        wo.grad().addi(s.u().transpose().mmul(dy2));
        INDArray du = dy2.mmul(wo.value().transpose());
        INDArray dna = du.mul(s.g());
        INDArray dnm = du.mul(s.na()).muli(s.g().rsub(1).muli(s.g()));
        INDArray[] ba = Fn.rmsNormRowsBackward(s.a(), normA.value(), s.ra(), dna);
        INDArray[] bm = Fn.rmsNormRowsBackward(s.m(), normM.value(), s.rm(), dnm);
        normA.grad().addi(ba[1].reshape(dModel));
        normM.grad().addi(bm[1].reshape(dModel));
        Backward<TitansBlockState> bwm = mem.backward(s.fm(), bm[0].reshape(b, t, dModel),
                dState == null ? null : dState.memory());
        INDArray daAll = ba[0].reshape(b, t, dModel);
        if (s.prefixed()) {
            daAll = Nd4j.concat(1, Nd4j.zeros(type, b, persistent, dModel), daAll);
        }
        Backward<KvCache> bwa = attn.backward(s.fa(), daAll, dState == null ? null : dState.attention());
        INDArray dx = bwm.dx().add(s.prefixed()
                ? bwa.dx().get(NDArrayIndex.all(), NDArrayIndex.interval(persistent, persistent + t), NDArrayIndex.all())
                : bwa.dx());
        if (s.prefixed()) {
            pTokens.grad().addi(bwa.dx().get(NDArrayIndex.all(), NDArrayIndex.interval(0, persistent),
                    NDArrayIndex.all()).sum(0));
        }
        return new Backward<>(dx, new State(bwa.dState(), bwm.dState()));
    }

    @Override
    public Step<State> step(INDArray x, State state) {
        Shapes.require("x", x, "[B, D]", Shapes.ANY, dModel);
        Forward<State> f = forward(x.reshape(x.size(0), 1, dModel), state, false);
        return new Step<>(f.y().reshape(x.size(0), dModel), f.state());
    }
}
