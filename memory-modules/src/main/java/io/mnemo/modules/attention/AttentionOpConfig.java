package io.mnemo.modules.attention;

import io.mnemo.core.kernel.Backend;
import java.util.Objects;

/**
 * How to run causal softmax attention ({@link AttentionOps}).
 *
 * <p>Query {@code i} sits at absolute position {@code a = P + i} (P = Tk − Tq keys of carried prefix) and
 * sees key {@code j} iff
 * <pre>
 *   j ≤ a  and  (window = 0  or  j > a − window  or  j < globalKeys)
 * </pre>
 * i.e. causal, optionally restricted to the last {@code window} tokens including itself, with the first
 * {@code globalKeys} keys exempt from the window (attention sinks, Titans' persistent
 * tokens). Globally visible keys stay causal: put them in the prefix ({@code globalKeys ≤ P}) to make
 * them visible to every query.
 *
 * @param backend implementation; {@link Backend#AUTO} picks the fastest for the ND4J backend
 * @param scale multiplies {@code q·k}; {@code NaN} means the default {@code Dk^-1/2}
 * @param window 0 for full causal attention, else the number of most recent tokens each query sees
 *     (itself included)
 * @param globalKeys how many leading keys are exempt from the window (ignored when {@code window = 0})
 * @param queryBlock queries per block of the nd4j backend (bounds its memory to
 *     {@code B·H·queryBlock·visibleKeys}); any value gives the same result up to rounding
 * @param checkFinite reject NaN/Inf inputs with a message naming the input
 */
public record AttentionOpConfig(Backend backend, double scale, int window, int globalKeys, int queryBlock,
        boolean checkFinite) {
    public AttentionOpConfig {
        Objects.requireNonNull(backend, "backend");
        if (window < 0) {
            throw new IllegalArgumentException("window must be >= 0 (0 = full causal attention), got " + window);
        }
        if (globalKeys < 0) {
            throw new IllegalArgumentException("globalKeys must be >= 0, got " + globalKeys);
        }
        if (queryBlock <= 0) {
            throw new IllegalArgumentException("queryBlock must be > 0, got " + queryBlock);
        }
        if (!Double.isNaN(scale) && !Double.isFinite(scale)) {
            throw new IllegalArgumentException("scale must be finite (or NaN for Dk^-1/2), got " + scale);
        }
    }

    /** Defaults: automatic backend, scale {@code Dk^-1/2}, full causal attention, query blocks of 64. */
    public static AttentionOpConfig of() {
        return new AttentionOpConfig(Backend.AUTO, Double.NaN, 0, 0, 64, false);
    }

    public AttentionOpConfig withBackend(Backend b) {
        return new AttentionOpConfig(b, scale, window, globalKeys, queryBlock, checkFinite);
    }

    public AttentionOpConfig withScale(double s) {
        return new AttentionOpConfig(backend, s, window, globalKeys, queryBlock, checkFinite);
    }

    public AttentionOpConfig withWindow(int w) {
        return new AttentionOpConfig(backend, scale, w, globalKeys, queryBlock, checkFinite);
    }

    public AttentionOpConfig withGlobalKeys(int g) {
        return new AttentionOpConfig(backend, scale, window, g, queryBlock, checkFinite);
    }

    public AttentionOpConfig withQueryBlock(int qb) {
        return new AttentionOpConfig(backend, scale, window, globalKeys, qb, checkFinite);
    }

    public AttentionOpConfig withCheckFinite(boolean c) {
        return new AttentionOpConfig(backend, scale, window, globalKeys, queryBlock, c);
    }

    /** The scale for key dimension {@code dk}. */
    public double scaleFor(int dk) {
        return Double.isNaN(scale) ? 1.0 / Math.sqrt(dk) : scale;
    }

    /**
     * First key of the contiguous visible run of the query at absolute position {@code a}: 0 for full
     * attention, else {@code max(0, a − window + 1)}. Keys {@code [0, min(globalKeys, windowStart))} are
     * visible too.
     */
    int windowStart(int a) {
        return window == 0 ? 0 : Math.max(0, a - window + 1);
    }

    /** Number of leading globally visible keys before {@code windowStart} (0 when none). */
    int globalRun(int windowStart) {
        return Math.min(globalKeys, windowStart);
    }

    /** The visibility rule itself (used by the reference; the fast kernels iterate the two runs). */
    boolean visible(int a, int j) {
        return j <= a && (window == 0 || j > a - window || j < globalKeys);
    }
}
