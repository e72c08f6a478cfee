package io.mnemo.modules.attention;

import io.mnemo.core.OpenBlasCheck;
import io.mnemo.core.Shapes;
import io.mnemo.core.kernel.Backend;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Entry point of causal softmax attention: validates, picks the backend, runs it.
 *
 * <pre>{@code
 * AttentionOpConfig cfg = AttentionOpConfig.of().withWindow(256);
 * AttentionForward f = AttentionOps.forward(cfg, new AttentionInputs(q, k, v), true);  // q [B,Tq,H,Dk], k/v [B,P+Tq,H,D]
 * AttentionGrads g = AttentionOps.backward(f, dO);                                       // dq, dk, dv (prefix rows too)
 *
 * KvCache c = KvCache.empty(B, H, Dk, Dv, DataType.FLOAT, 256, 0);
 * AttentionOps.Step s = AttentionOps.step(cfg, q1, k1, v1, c);                           // o [B,H,Dv], next cache
 * }</pre>
 */
public final class AttentionOps {
    private AttentionOps() {}

    /** Result of {@link #extend}: the forward over the new tokens and the cache after them. */
    public record Extended(AttentionForward forward, KvCache cache) {}

    /** Result of {@link #step}: {@code o [B, H, Dv]} and the cache after the token. */
    public record Step(INDArray o, KvCache cache) {}

    /** The kernel of a backend ({@link Backend#AUTO} resolved). */
    public static AttentionKernel kernel(Backend backend) {
        return switch (backend.resolve()) {
            case REFERENCE -> new ReferenceAttentionKernel();
            case CPU -> new CpuAttentionKernel();
            case ND4J -> new Nd4jAttentionKernel();
            case AUTO -> throw new IllegalStateException("unresolved backend");
        };
    }

    /**
     * Causal (windowed) softmax attention of {@code Tq} queries over {@code P + Tq} keys.
     *
     * @param save keep what {@link #backward} needs
     * @return {@code o [B, Tq, H, Dv]} and {@code lse [B, Tq, H]}
     */
    public static AttentionForward forward(AttentionOpConfig cfg, AttentionInputs in, boolean save) {
        OpenBlasCheck.checkOnce();
        AttentionDims d = in.validate(cfg.checkFinite());
        return kernel(cfg.backend()).forward(cfg, d, in, save);
    }

    /**
     * Gradients of {@code Σ o·dO} with respect to q, k and v (the prefix rows of k and v included).
     *
     * @param dO {@code [B, Tq, H, Dv]}
     */
    public static AttentionGrads backward(AttentionForward fwd, INDArray dO) {
        AttentionDims d = fwd.dims();
        Shapes.require("dO", dO, "[B, Tq, H, Dv]", d.b(), d.tq(), d.h(), d.dv());
        if (fwd.saved() == null) {
            throw new IllegalArgumentException("backward needs a forward pass run with save=true");
        }
        return kernel(fwd.config().backend()).backward(fwd, dO);
    }

    /**
     * Attention of new tokens over a KV cache and themselves: {@link #forward} with
     * {@code k = concat(cache.keys(), k)}, then the cache after the new tokens.
     *
     * @param q {@code [B, T, H, Dk]}, k {@code [B, T, H, Dk]}, v {@code [B, T, H, Dv]} (rotated already, if RoPE)
     * @param cache its window and global tokens must match {@code cfg}
     */
    public static Extended extend(AttentionOpConfig cfg, INDArray q, INDArray k, INDArray v, KvCache cache,
            boolean save) {
        if (cache == null) {
            throw new IllegalArgumentException("cache is missing; use KvCache.empty(...)");
        }
        if (cache.window() != cfg.window() || (cfg.window() > 0 && cache.globalTokens() != cfg.globalKeys())) {
            throw new IllegalArgumentException("cache has window=" + cache.window() + ", globalTokens="
                    + cache.globalTokens() + " but the op has window=" + cfg.window() + ", globalKeys=" + cfg.globalKeys());
        }
        Shapes.requireRank("q", q, "[B, T, H, Dk]", 4);
        Shapes.require("q", q, "[B, T, H, Dk]", cache.batch(), Shapes.ANY, cache.heads(), cache.keyDim());
        Shapes.require("k", k, "[B, T, H, Dk]", cache.batch(), q.size(1), cache.heads(), cache.keyDim());
        Shapes.require("v", v, "[B, T, H, Dv]", cache.batch(), q.size(1), cache.heads(), cache.valueDim());
        boolean none = q.size(1) == 0;
        INDArray kAll = cache.size() == 0 ? k : none ? cache.keysView() : Nd4j.concat(1, cache.keysView(), k);
        INDArray vAll = cache.size() == 0 ? v : none ? cache.valuesView() : Nd4j.concat(1, cache.valuesView(), v);
        AttentionForward f = forward(cfg, new AttentionInputs(q, kAll, vAll), save);
        return new Extended(f, cache.append(k, v));
    }

    /**
     * One token over a KV cache.
     *
     * @param q {@code [B, H, Dk]}, k {@code [B, H, Dk]}, v {@code [B, H, Dv]}
     * @return {@code o [B, H, Dv]} and the next cache
     */
    public static Step step(AttentionOpConfig cfg, INDArray q, INDArray k, INDArray v, KvCache cache) {
        Shapes.requireRank("q", q, "[B, H, Dk]", 3);
        Shapes.requireRank("k", k, "[B, H, Dk]", 3);
        Shapes.requireRank("v", v, "[B, H, Dv]", 3);
        Extended e = extend(cfg, t1(q), t1(k), t1(v), cache, false);
        INDArray o = e.forward().o();
        return new Step(o.reshape(o.size(0), o.size(2), o.size(3)), e.cache());
    }

    private static INDArray t1(INDArray a) {
        return a.dup('c').reshape('c', a.size(0), 1, a.size(1), a.size(2));
    }
}
