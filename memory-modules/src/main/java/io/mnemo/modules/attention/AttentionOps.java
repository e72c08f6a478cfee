package io.mnemo.modules.attention;

import io.mnemo.core.NdBuffers;
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
        checkAgainstCache(cfg, q, k, v, cache, "[B, T, H, Dk]", "[B, T, H, Dv]");
        boolean none = q.size(1) == 0;
        INDArray kAll = cache.size() == 0 ? k : none ? cache.keysView() : Nd4j.concat(1, cache.keysView(), k);
        INDArray vAll = cache.size() == 0 ? v : none ? cache.valuesView() : Nd4j.concat(1, cache.valuesView(), v);
        AttentionForward f = forward(cfg, new AttentionInputs(q, kAll, vAll), save);
        return new Extended(f, cache.append(k, v));
    }

    /**
     * One token over a KV cache. The cpu backend reads the cache's arrays directly (one score row, no
     * concatenation); the others run {@link #extend} with T = 1.
     *
     * @param q {@code [B, H, Dk]}, k {@code [B, H, Dk]}, v {@code [B, H, Dv]}
     * @return {@code o [B, H, Dv]} and the next cache
     */
    public static Step step(AttentionOpConfig cfg, INDArray q, INDArray k, INDArray v, KvCache cache) {
        checkWindow(cfg, cache);
        Shapes.require("q", q, "[B, H, Dk]", cache.batch(), cache.heads(), cache.keyDim());
        Shapes.require("k", k, "[B, H, Dk]", cache.batch(), cache.heads(), cache.keyDim());
        Shapes.require("v", v, "[B, H, Dv]", cache.batch(), cache.heads(), cache.valueDim());
        if (cfg.backend().resolve() == Backend.CPU) {
            // decode straight from the cache's arrays, without concatenating the new token to them
            if (q.dataType() != cache.dataType() || k.dataType() != cache.dataType()
                    || v.dataType() != cache.dataType()) {
                throw new IllegalArgumentException("q, k, v have data types " + q.dataType() + ", " + k.dataType()
                        + ", " + v.dataType() + "; the cache holds " + cache.dataType());
            }
            if (cfg.checkFinite()) {
                Shapes.requireFinite("q", q);
                Shapes.requireFinite("k", k);
                Shapes.requireFinite("v", v);
            }
            OpenBlasCheck.checkOnce();
            int p = cache.size();
            float[] o = new CpuAttentionKernel().decode(cfg, cache.batch(), cache.heads(), cache.keyDim(),
                    cache.valueDim(), p, NdBuffers.toFloats(q), NdBuffers.toFloats(k), NdBuffers.toFloats(v),
                    p == 0 ? new float[0] : NdBuffers.toFloats(cache.keysView()),
                    p == 0 ? new float[0] : NdBuffers.toFloats(cache.valuesView()));
            return new Step(NdBuffers.of(q.dataType(), o, cache.batch(), cache.heads(), cache.valueDim()),
                    cache.append(t1(k), t1(v)));
        }
        Extended e = extend(cfg, t1(q), t1(k), t1(v), cache, false);
        INDArray o = e.forward().o();
        return new Step(o.reshape(o.size(0), o.size(2), o.size(3)), e.cache());
    }

    /** Checks the window settings of the cache against the op and q, k, v {@code [B, T, H, D]} against the cache. */
    private static void checkAgainstCache(AttentionOpConfig cfg, INDArray q, INDArray k, INDArray v, KvCache cache,
            String qkDims, String vDims) {
        checkWindow(cfg, cache);
        Shapes.requireRank("q", q, qkDims, 4);
        Shapes.require("q", q, qkDims, cache.batch(), Shapes.ANY, cache.heads(), cache.keyDim());
        Shapes.require("k", k, qkDims, cache.batch(), q.size(1), cache.heads(), cache.keyDim());
        Shapes.require("v", v, vDims, cache.batch(), q.size(1), cache.heads(), cache.valueDim());
    }

    private static void checkWindow(AttentionOpConfig cfg, KvCache cache) {
        if (cache == null) {
            throw new IllegalArgumentException("cache is missing; use KvCache.empty(...)");
        }
        if (cache.window() != cfg.window() || (cfg.window() > 0 && cache.globalTokens() != cfg.globalKeys())) {
            throw new IllegalArgumentException("cache has window=" + cache.window() + ", globalTokens="
                    + cache.globalTokens() + " but the op has window=" + cfg.window() + ", globalKeys=" + cfg.globalKeys());
        }
    }

    private static INDArray t1(INDArray a) {
        return a.dup('c').reshape('c', a.size(0), 1, a.size(1), a.size(2));
    }
}
