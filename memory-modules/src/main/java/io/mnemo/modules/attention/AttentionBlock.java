package io.mnemo.modules.attention;

import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;

import io.mnemo.core.Mixer;
import io.mnemo.core.Parameter;
import io.mnemo.core.Shapes;
import io.mnemo.core.kernel.LoopWorkspace;
import io.mnemo.core.nn.Init;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Multi-head causal softmax attention as a {@link Mixer} (Vaswani et al. 2017; rotary positions after Su et al.
 * 2021; sliding window as in Longformer/Mistral; optional leading tokens that stay visible, as the attention
 * sinks of StreamingLLM and the persistent tokens of Titans):
 * <pre>
 *   q, k, v = x W_q, x W_k, x W_v                              per head [Dh]; no biases
 *   q, k    = RoPE(q, p), RoPE(k, p)                           p = absolute position (cache position + t)
 *   o       = attention(q, [K_cache ‖ k], [V_cache ‖ v])       causal, window w, G global tokens
 *   y       = o W_o
 * </pre>
 * Shapes: x and y {@code [B, T, D]}. The state is the {@link KvCache} of rotated keys and values, so one forward
 * over T tokens equals forward over pieces with the state carried and equals T calls of {@link #step}.
 * {@link #backward} also returns the gradient with respect to the incoming cache and accepts one for the
 * returned cache (a {@link KvCache} whose keys and values are gradients). Initialisation: projections
 * N(0, 1/fan_in), as {@code LinearAttentionBlock}.
 */
public final class AttentionBlock implements Mixer<KvCache> {
    private final AttentionBlockConfig cfg;
    private final AttentionOpConfig opCfg;
    private final List<Parameter> params = new ArrayList<>();
    private final Parameter wq;
    private final Parameter wk;
    private final Parameter wv;
    private final Parameter wo;

    public AttentionBlock(AttentionBlockConfig cfg) {
        this.cfg = cfg;
        this.opCfg = cfg.opConfig();
        Random rng = new Random(cfg.seed());
        DataType t = cfg.dataType();
        int d = cfg.dModel();
        int hd = cfg.heads() * cfg.headDim();
        wq = add("w_q", Init.normal(t, rng, 1 / Math.sqrt(d), d, hd));
        wk = add("w_k", Init.normal(t, rng, 1 / Math.sqrt(d), d, hd));
        wv = add("w_v", Init.normal(t, rng, 1 / Math.sqrt(d), d, hd));
        wo = add("w_o", Init.normal(t, rng, 1 / Math.sqrt(hd), hd, d));
    }

    private Parameter add(String name, INDArray v) {
        Parameter p = Parameter.of(name, v);
        params.add(p);
        return p;
    }

    /** The configuration. */
    public AttentionBlockConfig config() {
        return cfg;
    }

    @Override
    public int dModel() {
        return cfg.dModel();
    }

    @Override
    public List<Parameter> parameters() {
        return List.copyOf(params);
    }

    /** An empty KV cache at position 0. */
    @Override
    public KvCache initialState(int batch) {
        return KvCache.empty(batch, cfg.heads(), cfg.headDim(), cfg.headDim(), cfg.dataType(), cfg.window(),
                cfg.window() == 0 ? 0 : cfg.globalTokens());
    }

    /** What backward needs. */
    private record Saved(INDArray x2, INDArray o2, AttentionForward att, KvCache in, KvCache out, int b, int t) {}

    @Override
    public Forward<KvCache> forward(INDArray x, KvCache state, boolean training) {
        Shapes.require("x", x, "[B, T, D]", Shapes.ANY, Shapes.ANY, cfg.dModel());
        if (x.dataType() != cfg.dataType()) {
            throw new IllegalArgumentException("x has data type " + x.dataType() + ", the block was built for "
                    + cfg.dataType());
        }
        int b = (int) x.size(0);
        int t = (int) x.size(1);
        KvCache s = state == null ? initialState(b) : state;
        checkState("state", s, b);
        if (t == 0) {
            return new Forward<>(x.dup(), s, training ? new Saved(null, null, null, s, s, b, 0) : null);
        }
        int h = cfg.heads();
        int hd = cfg.headDim();
        long n = (long) b * t;
        INDArray x2 = x.dup('c').reshape(n, cfg.dModel());
        INDArray q = x2.mmul(wq.value()).reshape('c', b, t, h, hd);
        INDArray k = x2.mmul(wk.value()).reshape('c', b, t, h, hd);
        INDArray v = x2.mmul(wv.value()).reshape('c', b, t, h, hd);
        if (cfg.rope()) {
            q = Rope.apply(q, s.position(), cfg.ropeBase());
            k = Rope.apply(k, s.position(), cfg.ropeBase());
        }
        AttentionOps.Extended e = AttentionOps.extend(opCfg, q, k, v, s, training);
        INDArray o2 = e.forward().o().reshape(n, (long) h * hd);
        INDArray y = o2.mmul(wo.value()).reshape(b, t, cfg.dModel());
        return new Forward<>(y, e.cache(), training ? new Saved(x2, o2, e.forward(), s, e.cache(), b, t) : null);
    }

    private void checkState(String name, KvCache s, int b) {
        if (s.batch() != b || s.heads() != cfg.heads() || s.keyDim() != cfg.headDim() || s.valueDim() != cfg.headDim()
                || s.dataType() != cfg.dataType() || s.window() != cfg.window()
                || s.globalTokens() != (cfg.window() == 0 ? 0 : cfg.globalTokens())) {
            throw new IllegalArgumentException(name + " is " + s + ", expected B=" + b + ", H=" + cfg.heads() + ", Dk=Dv="
                    + cfg.headDim() + ", " + cfg.dataType() + ", window=" + cfg.window() + ", globalTokens="
                    + (cfg.window() == 0 ? 0 : cfg.globalTokens()));
        }
    }

    @Override
    public Backward<KvCache> backward(Forward<KvCache> fwd, INDArray dy, KvCache dState) {
        if (!(fwd.saved() instanceof Saved s)) {
            throw new IllegalArgumentException("backward needs a forward pass run with training=true");
        }
        int b = s.b();
        int t = s.t();
        Shapes.require("dy", dy, "[B, T, D]", b, t, cfg.dModel());
        if (dState != null) {
            checkState("dState", dState, b);
            if (dState.position() != s.out().position() || dState.size() != s.out().size()) {
                throw new IllegalArgumentException("dState holds " + dState.size() + " tokens at position "
                        + dState.position() + ", the returned state " + s.out().size() + " at " + s.out().position());
            }
        }
        if (t == 0) {
            return new Backward<>(dy.dup(), dState == null ? zerosLike(s.in()) : dState.copy());
        }
        int h = cfg.heads();
        int hd = cfg.headDim();
        long n = (long) b * t;
        INDArray dy2 = dy.dup('c').reshape(n, cfg.dModel());
        wo.grad().addi(s.o2().transpose().mmul(dy2));
        INDArray dO = dy2.mmul(wo.value().transpose()).reshape('c', b, t, h, hd);
        AttentionGrads g = AttentionOps.backward(s.att(), dO);
        INDArray dkAll = g.dk();
        INDArray dvAll = g.dv();
        int lAll = (int) dkAll.size(1);
        if (dState != null && dState.size() > 0) {
            // the returned cache holds k_all[0, G') followed by the last L'−G' rows of k_all
            int gOut = s.out().globalCount();
            int rOut = s.out().size() - gOut;
            INDArray dks = dState.keysView();
            INDArray dvs = dState.valuesView();
            if (gOut > 0) {
                rows(dkAll, 0, gOut).addi(rows(dks, 0, gOut));
                rows(dvAll, 0, gOut).addi(rows(dvs, 0, gOut));
            }
            if (rOut > 0) {
                rows(dkAll, lAll - rOut, lAll).addi(rows(dks, gOut, gOut + rOut));
                rows(dvAll, lAll - rOut, lAll).addi(rows(dvs, gOut, gOut + rOut));
            }
        }
        int p = s.in().size();
        KvCache dIn = p == 0 ? zerosLike(s.in())
                : KvCache.of(rows(dkAll, 0, p), rows(dvAll, 0, p), s.in().position(), s.in().window(),
                        s.in().globalTokens());
        INDArray dq = g.dq();
        INDArray dk = rows(dkAll, p, lAll).dup('c');
        INDArray dv = rows(dvAll, p, lAll).dup('c');
        if (cfg.rope()) {
            dq = Rope.backward(dq, s.in().position(), cfg.ropeBase());
            dk = Rope.backward(dk, s.in().position(), cfg.ropeBase());
        }
        INDArray dx2 = Nd4j.zeros(cfg.dataType(), n, cfg.dModel());
        INDArray[] d = {dq, dk, dv};
        Parameter[] w = {wq, wk, wv};
        for (int i = 0; i < 3; i++) {
            INDArray d2 = d[i].reshape('c', n, (long) h * hd);
            w[i].grad().addi(s.x2().transpose().mmul(d2));
            dx2.addi(d2.mmul(w[i].value().transpose()));
        }
        return new Backward<>(dx2.reshape(b, t, cfg.dModel()), dIn);
    }

    private static INDArray rows(INDArray a, int from, int to) {
        return a.get(all(), interval(from, to), all(), all());
    }

    private static KvCache zerosLike(KvCache c) {
        return KvCache.of(LoopWorkspace.zeros(c.dataType(), c.batch(), c.size(), c.heads(), c.keyDim()),
                LoopWorkspace.zeros(c.dataType(), c.batch(), c.size(), c.heads(), c.valueDim()), c.position(), c.window(),
                c.globalTokens());
    }

    /** One token: projections, RoPE at the cache's position, {@link AttentionOps#step}, output projection. */
    @Override
    public Step<KvCache> step(INDArray x, KvCache state) {
        Shapes.require("x", x, "[B, D]", Shapes.ANY, cfg.dModel());
        if (x.dataType() != cfg.dataType()) {
            throw new IllegalArgumentException("x has data type " + x.dataType() + ", the block was built for "
                    + cfg.dataType());
        }
        int b = (int) x.size(0);
        KvCache s = state == null ? initialState(b) : state;
        checkState("state", s, b);
        int h = cfg.heads();
        int hd = cfg.headDim();
        INDArray q = x.mmul(wq.value()).reshape('c', b, 1, h, hd);
        INDArray k = x.mmul(wk.value()).reshape('c', b, 1, h, hd);
        INDArray v = x.mmul(wv.value()).reshape('c', b, h, hd);
        if (cfg.rope()) {
            q = Rope.apply(q, s.position(), cfg.ropeBase());
            k = Rope.apply(k, s.position(), cfg.ropeBase());
        }
        AttentionOps.Step st = AttentionOps.step(opCfg, q.reshape('c', b, h, hd), k.reshape('c', b, h, hd), v, s);
        INDArray y = st.o().reshape('c', b, (long) h * hd).mmul(wo.value());
        return new Step<>(y, st.cache());
    }
}
