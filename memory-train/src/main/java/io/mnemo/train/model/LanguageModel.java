package io.mnemo.train.model;

import io.mnemo.core.MemoryState;
import io.mnemo.core.Mixer;
import io.mnemo.core.NdBuffers;
import io.mnemo.core.Parameter;
import io.mnemo.core.Shapes;
import io.mnemo.core.nn.Fn;
import io.mnemo.core.nn.Init;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A stack of memory mixers as a language model (pre-norm, as in the Gated DeltaNet / Mamba LMs):
 * <pre>
 *   h₀ = E[tokens]                                        [B, T, D]
 *   for each layer l:  h = h + mixer_l(RMSNorm(h));  h = h + SwiGLU(RMSNorm(h))
 *   logits = RMSNorm(h) W_out  (W_out = Eᵀ when tied)     [B, T, V]
 * </pre>
 * {@link #backward} runs the modules' hand-written backward passes in reverse order; every parameter's
 * gradient is added into its {@link Parameter#grad()}. Not thread-safe.
 */
public final class LanguageModel {
    private static final double EPS = 1e-6;

    private final ModelConfig cfg;
    private final DataType type;
    private final List<Parameter> params = new ArrayList<>();
    private final Parameter embed;
    private final Parameter headW;
    private final Parameter finalNorm;
    private final List<Layer> layers = new ArrayList<>();

    private record Layer(Mixer<MemoryState> mixer, Parameter norm1, Parameter norm2, Parameter w1, Parameter w3,
            Parameter w2) {}

    /** Builds the model in FLOAT. */
    public LanguageModel(ModelConfig cfg) {
        this(cfg, DataType.FLOAT);
    }

    /**
     * @param type FLOAT, or DOUBLE for gradient checks (with mixers on the reference backend)
     */
    public LanguageModel(ModelConfig cfg, DataType type) {
        this.cfg = cfg;
        this.type = type;
        Random rng = new Random(cfg.seed());
        int d = cfg.dModel();
        embed = add("embed", Init.normal(type, rng, 1.0, cfg.vocabSize(), d));
        for (int i = 0; i < cfg.layers().size(); i++) {
            MixerSpec spec = cfg.layers().get(i);
            Mixer<MemoryState> mixer = Mixers.create(spec, d, i, cfg.seed(), type);
            String p = "layers." + i + ".";
            Parameter n1 = add(p + "norm1", Nd4j.ones(type, d));
            for (Parameter mp : mixer.parameters()) {
                params.add(new Parameter(p + "mixer." + mp.name(), mp.value(), mp.grad()));
            }
            Parameter n2 = null;
            Parameter w1 = null;
            Parameter w3 = null;
            Parameter w2 = null;
            int f = cfg.mlpHidden();
            if (f > 0) {
                n2 = add(p + "norm2", Nd4j.ones(type, d));
                w1 = add(p + "mlp.w1", Init.normal(type, rng, 1 / Math.sqrt(d), d, f));
                w3 = add(p + "mlp.w3", Init.normal(type, rng, 1 / Math.sqrt(d), d, f));
                // residual branches start small (GPT-2 style 1/sqrt(2L) scaling)
                w2 = add(p + "mlp.w2", Init.normal(type, rng, 1 / Math.sqrt(f) / Math.sqrt(2.0 * cfg.layers().size()),
                        f, d));
            }
            layers.add(new Layer(mixer, n1, n2, w1, w3, w2));
        }
        finalNorm = add("final_norm", Nd4j.ones(type, d));
        headW = cfg.tieEmbeddings() ? null : add("head", Init.normal(type, rng, 1 / Math.sqrt(d), d, cfg.vocabSize()));
    }

    private Parameter add(String name, INDArray v) {
        Parameter p = Parameter.of(name, v);
        params.add(p);
        return p;
    }

    public ModelConfig config() {
        return cfg;
    }

    public DataType dataType() {
        return type;
    }

    /** All parameters with their dotted names, in a fixed order. */
    public List<Parameter> parameters() {
        return List.copyOf(params);
    }

    /** Number of scalar parameters. */
    public long parameterCount() {
        return params.stream().mapToLong(p -> p.value().length()).sum();
    }

    /** Zeroes every gradient accumulator. */
    public void zeroGrad() {
        for (Parameter p : params) {
            p.grad().assign(0);
        }
    }

    /** Zero state for a batch. */
    public ModelState initialState(int batch) {
        List<MemoryState> s = new ArrayList<>();
        for (Layer l : layers) {
            s.add(l.mixer().initialState(batch));
        }
        return new ModelState(s);
    }

    /** Result of {@link #forward}; {@code saved} is for {@link #backward}. */
    public record Output(INDArray logits, ModelState state, Object saved) {}

    private record LayerSaved(INDArray xIn, INDArray r1, INDArray n1, Mixer.Forward<MemoryState> mix, INDArray h,
            INDArray r2, INDArray n2, INDArray a, INDArray c, INDArray m) {}

    private record Saved(int[] ids, int b, int t, List<LayerSaved> layers, INDArray hLast, INDArray rF,
            INDArray nF) {}

    /**
     * @param tokens {@code [B, T]} integer token ids
     * @param state carried state, or null for zeros
     * @param training keep what backward needs
     * @return logits {@code [B, T, V]} and the state after the last token
     */
    public Output forward(INDArray tokens, ModelState state, boolean training) {
        Shapes.requireRank("tokens", tokens, "[B, T]", 2);
        int b = (int) tokens.size(0);
        int t = (int) tokens.size(1);
        int d = cfg.dModel();
        long n = (long) b * t;
        ModelState s = state == null ? initialState(b) : state;
        if (s.layers().size() != layers.size()) {
            throw new IllegalArgumentException("state has " + s.layers().size() + " layers, the model has "
                    + layers.size());
        }
        int[] ids = toIds(tokens);
        INDArray h = Nd4j.pullRows(embed.value(), 1, ids).reshape(n, d);
        List<LayerSaved> saved = new ArrayList<>();
        List<MemoryState> next = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            INDArray xIn = h;
            INDArray[] r1 = Fn.rmsNormRows(h, l.norm1().value(), EPS);
            Mixer.Forward<MemoryState> mix = l.mixer().forward(r1[0].reshape(b, t, d), s.layers().get(i), training);
            next.add(mix.state());
            h = h.add(mix.y().reshape(n, d));
            INDArray r2 = null;
            INDArray n2 = null;
            INDArray a = null;
            INDArray c = null;
            INDArray m = null;
            INDArray hMid = h;
            if (l.w1() != null) {
                INDArray[] rr = Fn.rmsNormRows(h, l.norm2().value(), EPS);
                n2 = rr[0];
                r2 = rr[1];
                a = n2.mmul(l.w1().value());
                c = n2.mmul(l.w3().value());
                m = Fn.silu(a).muli(c);
                h = h.add(m.mmul(l.w2().value()));
            }
            if (training) {
                saved.add(new LayerSaved(xIn, r1[1], r1[0], mix, hMid, r2, n2, a, c, m));
            }
        }
        INDArray[] rf = Fn.rmsNormRows(h, finalNorm.value(), EPS);
        INDArray logits = rf[0].mmul(headMatrix()).reshape(b, t, cfg.vocabSize());
        return new Output(logits, new ModelState(next), training ? new Saved(ids, b, t, saved, h, rf[1], rf[0]) : null);
    }

    private INDArray headMatrix() {
        return headW != null ? headW.value() : embed.value().transpose();
    }

    /**
     * Back-propagates {@code dLogits [B, T, V]} (and optionally a gradient w.r.t. the returned state).
     *
     * @return the gradient w.r.t. the incoming state
     */
    public ModelState backward(Output out, INDArray dLogits, ModelState dState) {
        if (!(out.saved() instanceof Saved s)) {
            throw new IllegalArgumentException("backward needs a forward pass run with training=true");
        }
        int d = cfg.dModel();
        long n = (long) s.b() * s.t();
        Shapes.require("dLogits", dLogits, "[B, T, V]", s.b(), s.t(), cfg.vocabSize());
        INDArray dz = dLogits.dup('c').reshape(n, cfg.vocabSize());
        INDArray nF = s.nF();
        if (headW != null) {
            headW.grad().addi(nF.transpose().mmul(dz));
        } else {
            embed.grad().addi(dz.transpose().mmul(nF));
        }
        INDArray dnF = dz.mmul(headMatrix().transpose());
        INDArray[] fb = Fn.rmsNormRowsBackward(s.hLast(), finalNorm.value(), s.rF(), dnF);
        finalNorm.grad().addi(fb[1].reshape(d));
        INDArray dh = fb[0];
        List<MemoryState> dIn = new ArrayList<>();
        for (int i = layers.size() - 1; i >= 0; i--) {
            Layer l = layers.get(i);
            LayerSaved ls = s.layers().get(i);
            if (l.w1() != null) {
                // h_out = h_mid + SwiGLU(RMSNorm(h_mid))
                l.w2().grad().addi(ls.m().transpose().mmul(dh));
                INDArray dm = dh.mmul(l.w2().value().transpose());
                INDArray da = Fn.siluBackward(ls.a(), dm.mul(ls.c()));
                INDArray dc = dm.mul(Fn.silu(ls.a()));
                l.w1().grad().addi(ls.n2().transpose().mmul(da));
                l.w3().grad().addi(ls.n2().transpose().mmul(dc));
                INDArray dn2 = da.mmul(l.w1().value().transpose()).addi(dc.mmul(l.w3().value().transpose()));
                INDArray[] nb = Fn.rmsNormRowsBackward(ls.h(), l.norm2().value(), ls.r2(), dn2);
                l.norm2().grad().addi(nb[1].reshape(d));
                dh = dh.add(nb[0]);
            }
            // h_mid = x + mixer(RMSNorm(x))
            MemoryState ds = dState == null ? null : dState.layers().get(i);
            Mixer.Backward<MemoryState> mb = l.mixer().backward(ls.mix(), dh.reshape(s.b(), s.t(), d), ds);
            dIn.add(0, mb.dState());
            INDArray[] nb = Fn.rmsNormRowsBackward(ls.xIn(), l.norm1().value(), ls.r1(), mb.dx().reshape(n, d));
            l.norm1().grad().addi(nb[1].reshape(d));
            dh = dh.add(nb[0]);
        }
        scatterEmbedding(s.ids(), dh);
        return new ModelState(dIn);
    }

    private void scatterEmbedding(int[] ids, INDArray dh) {
        int d = cfg.dModel();
        double[] g = NdBuffers.toDoubles(dh);
        double[] acc = new double[cfg.vocabSize() * d];
        for (int i = 0; i < ids.length; i++) {
            int o = ids[i] * d;
            for (int j = 0; j < d; j++) {
                acc[o + j] += g[i * d + j];
            }
        }
        embed.grad().addi(NdBuffers.of(type, acc, cfg.vocabSize(), d));
    }

    /**
     * One token per sequence.
     *
     * @param tokens {@code [B]} or {@code [B, 1]} token ids
     * @return logits {@code [B, 1, V]} and the next state
     */
    public Output step(INDArray tokens, ModelState state) {
        INDArray t2 = tokens.rank() == 1 ? tokens.reshape(tokens.size(0), 1) : tokens;
        Shapes.require("tokens", t2, "[B, 1]", Shapes.ANY, 1);
        return forward(t2, state, false);
    }

    private int[] toIds(INDArray tokens) {
        double[] v = NdBuffers.toDoubles(tokens);
        int[] ids = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            int id = (int) v[i];
            if (id < 0 || id >= cfg.vocabSize() || id != v[i]) {
                throw new IllegalArgumentException("token " + v[i] + " at flat position " + i
                        + " is outside the vocabulary [0, " + cfg.vocabSize() + ")");
            }
            ids[i] = id;
        }
        return ids;
    }
}
