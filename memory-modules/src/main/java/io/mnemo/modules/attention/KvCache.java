package io.mnemo.modules.attention;

import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;

import io.mnemo.core.MemoryState;
import io.mnemo.core.Shapes;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The KV cache of causal softmax attention: the (already rotated) keys and the values of the tokens a later
 * query can still see, and the absolute position of the next token.
 *
 * <p>What it holds, for {@code position = p} tokens seen:
 * <ul>
 *   <li>full attention ({@code window = 0}): all p tokens;
 *   <li>window {@code w > 0}: the first {@code g = min(G, p)} tokens (globally visible, {@code G = globalTokens})
 *       followed by the last {@code min(w − 1, p − g)} tokens after them. The next query sees its own token
 *       plus those, which is exactly its window. Memory is O(G + w).
 * </ul>
 * {@link #keys()} lists them in that order, so {@code concat(keys(), kNew)} is the {@code k} of an
 * {@link AttentionOps} call with prefix {@code P = size()} and {@code globalKeys = G}; index and position agree
 * wherever the window can reach (when a gap opens between the global tokens and the window, exactly
 * {@code w − 1} tokens follow the gap, so {@code P + i − w + 1 = G + i} never reaches back across it).
 *
 * <p>Storage is an append-only buffer shared between a state and the states appended from it: appending to the
 * newest state writes into free slots of the buffer (amortised doubling for full attention; for a window, the
 * buffer holds {@code G + 2(w − 1)} slots and is compacted into a new one when full, O(1) amortised per token);
 * appending to an older state, or when the buffer is full, copies. Written slots are never rewritten, so every
 * state keeps its contents: states are immutable to callers, as {@link MemoryState} requires.
 *
 * <p>Shapes: keys {@code [B, L, H, Dk]}, values {@code [B, L, H, Dv]} with {@code L = size()}.
 */
public final class KvCache implements MemoryState {
    private static final int MIN_CAPACITY = 16;

    /** Append-only storage; slots {@code [0, used)} are written and never change. */
    private static final class Buf {
        final INDArray k;
        final INDArray v;
        final int cap;
        int used;

        Buf(DataType t, int b, int cap, int h, int dk, int dv) {
            this.k = Nd4j.create(t, b, cap, h, dk);
            this.v = Nd4j.create(t, b, cap, h, dv);
            this.cap = cap;
        }
    }

    private final int b;
    private final int h;
    private final int dk;
    private final int dv;
    private final DataType type;
    private final int window;
    private final int globalTokens;
    private final long position;
    private final Buf buf;
    private final int globals;
    private final int start;
    private final int len;

    private KvCache(int b, int h, int dk, int dv, DataType type, int window, int globalTokens, long position, Buf buf,
            int globals, int start, int len) {
        this.b = b;
        this.h = h;
        this.dk = dk;
        this.dv = dv;
        this.type = type;
        this.window = window;
        this.globalTokens = window == 0 ? 0 : globalTokens;
        this.position = position;
        this.buf = buf;
        this.globals = globals;
        this.start = start;
        this.len = len;
    }

    /**
     * An empty cache.
     *
     * @param window 0 for full attention, else the attention window w (the cache keeps w − 1 recent tokens)
     * @param globalTokens leading tokens kept forever (only with a window)
     */
    public static KvCache empty(int batch, int heads, int dk, int dv, DataType type, int window, int globalTokens) {
        Shapes.requirePositive("batch", batch);
        Shapes.requirePositive("heads", heads);
        Shapes.requirePositive("dk", dk);
        Shapes.requirePositive("dv", dv);
        checkWindow(window, globalTokens);
        if (type != DataType.FLOAT && type != DataType.DOUBLE) {
            throw new IllegalArgumentException("type must be FLOAT or DOUBLE, got " + type);
        }
        return new KvCache(batch, heads, dk, dv, type, window, globalTokens, 0, null, 0, 0, 0);
    }

    /**
     * A cache holding given keys and values (copied), e.g. a gradient with respect to a cache.
     *
     * @param keys {@code [B, L, H, Dk]}
     * @param values {@code [B, L, H, Dv]}
     * @param position tokens seen; L must be what a cache of this window keeps after that many tokens
     */
    public static KvCache of(INDArray keys, INDArray values, long position, int window, int globalTokens) {
        checkWindow(window, globalTokens);
        Shapes.requireRank("keys", keys, "[B, L, H, Dk]", 4);
        Shapes.requireFloating("keys", keys);
        Shapes.requireRank("values", values, "[B, L, H, Dv]", 4);
        Shapes.require("values", values, "[B, L, H, Dv]", keys.size(0), keys.size(1), keys.size(2), Shapes.ANY);
        if (values.dataType() != keys.dataType()) {
            throw new IllegalArgumentException("values have data type " + values.dataType() + ", keys "
                    + keys.dataType());
        }
        if (position < 0) {
            throw new IllegalArgumentException("position must be >= 0, got " + position);
        }
        int g = window == 0 ? 0 : (int) Math.min(globalTokens, position);
        int r = window == 0 ? (int) Math.min(position, Integer.MAX_VALUE) : (int) Math.min(window - 1, position - g);
        int l = (int) keys.size(1);
        if (l != g + r) {
            throw new IllegalArgumentException("keys hold L=" + l + " tokens, but a cache with window=" + window
                    + ", globalTokens=" + globalTokens + " holds " + (g + r) + " after position=" + position);
        }
        KvCache e = empty((int) keys.size(0), (int) keys.size(2), (int) keys.size(3), (int) values.size(3),
                keys.dataType(), window, globalTokens);
        if (l == 0) {
            return new KvCache(e.b, e.h, e.dk, e.dv, e.type, window, globalTokens, position, null, 0, 0, 0);
        }
        Buf nb = new Buf(e.type, e.b, l, e.h, e.dk, e.dv);
        nb.k.assign(keys);
        nb.v.assign(values);
        nb.used = l;
        return new KvCache(e.b, e.h, e.dk, e.dv, e.type, window, globalTokens, position, nb, g, g, r);
    }

    private static void checkWindow(int window, int globalTokens) {
        if (window < 0) {
            throw new IllegalArgumentException("window must be >= 0 (0 = full attention), got " + window);
        }
        if (globalTokens < 0) {
            throw new IllegalArgumentException("globalTokens must be >= 0, got " + globalTokens);
        }
    }

    /**
     * The cache after {@code n} more tokens; this cache is unchanged.
     *
     * @param kNew {@code [B, n, H, Dk]} (rotated) keys of the new tokens
     * @param vNew {@code [B, n, H, Dv]}
     */
    public KvCache append(INDArray kNew, INDArray vNew) {
        Shapes.require("kNew", kNew, "[B, n, H, Dk]", b, Shapes.ANY, h, dk);
        int n = (int) kNew.size(1);
        Shapes.require("vNew", vNew, "[B, n, H, Dv]", b, n, h, dv);
        if (kNew.dataType() != type || vNew.dataType() != type) {
            throw new IllegalArgumentException("kNew/vNew have data types " + kNew.dataType() + "/" + vNew.dataType()
                    + ", the cache holds " + type);
        }
        if (n == 0) {
            return this;
        }
        int keep = window == 0 ? Integer.MAX_VALUE : window - 1;
        int ng = window == 0 ? 0 : (int) Math.max(0, Math.min(n, globalTokens - position));
        int end = len == 0 ? globals : start + len;
        if (buf != null && (ng == 0 || (len == 0 && start == globals))) {
            synchronized (buf) {
                if (buf.used == end && end + n <= buf.cap) {
                    buf.k.get(all(), interval(end, end + n), all(), all()).assign(kNew);
                    buf.v.get(all(), interval(end, end + n), all(), all()).assign(vNew);
                    buf.used = end + n;
                    int g2 = globals + ng;
                    int s2 = ng > 0 || len == 0 ? end + ng : start;
                    int l2 = end + n - s2;
                    if (l2 > keep) {
                        s2 = end + n - keep;
                        l2 = keep;
                    }
                    return new KvCache(b, h, dk, dv, type, window, globalTokens, position + n, buf, g2, s2, l2);
                }
            }
        }
        // copy: gather what survives (globals, then the last `keep` tokens) into a new buffer
        INDArray kAll = size() == 0 ? kNew : Nd4j.concat(1, keysView(), kNew);
        INDArray vAll = size() == 0 ? vNew : Nd4j.concat(1, valuesView(), vNew);
        int total = size() + n;
        int g2 = globals + ng;
        int r = (int) Math.min(keep, (long) total - g2);
        int cap = window == 0 ? Math.max(MIN_CAPACITY, 2 * total) : g2 + Math.max(MIN_CAPACITY, 2 * keep);
        Buf nb = new Buf(type, b, cap, h, dk, dv);
        if (g2 > 0) {
            nb.k.get(all(), interval(0, g2), all(), all()).assign(kAll.get(all(), interval(0, g2), all(), all()));
            nb.v.get(all(), interval(0, g2), all(), all()).assign(vAll.get(all(), interval(0, g2), all(), all()));
        }
        if (r > 0) {
            nb.k.get(all(), interval(g2, g2 + r), all(), all())
                    .assign(kAll.get(all(), interval(total - r, total), all(), all()));
            nb.v.get(all(), interval(g2, g2 + r), all(), all())
                    .assign(vAll.get(all(), interval(total - r, total), all(), all()));
        }
        nb.used = g2 + r;
        return new KvCache(b, h, dk, dv, type, window, globalTokens, position + n, nb, g2, g2, r);
    }

    /** The cached keys {@code [B, L, H, Dk]} (a copy). */
    public INDArray keys() {
        return keysView().dup('c');
    }

    /** The cached values {@code [B, L, H, Dv]} (a copy). */
    public INDArray values() {
        return valuesView().dup('c');
    }

    /** Keys as a view of the buffer where possible; callers must not write into it. */
    INDArray keysView() {
        return view(true);
    }

    /** Values as a view of the buffer where possible; callers must not write into it. */
    INDArray valuesView() {
        return view(false);
    }

    private INDArray view(boolean keys) {
        int d = keys ? dk : dv;
        if (size() == 0) {
            return Nd4j.create(type, b, 0, h, d);
        }
        INDArray a = keys ? buf.k : buf.v;
        if (len == 0) {
            return a.get(all(), interval(0, globals), all(), all());
        }
        if (globals == 0 || start == globals) {
            return a.get(all(), interval(globals == 0 ? start : 0, start + len), all(), all());
        }
        return Nd4j.concat(1, a.get(all(), interval(0, globals), all(), all()),
                a.get(all(), interval(start, start + len), all(), all()));
    }

    /** Tokens seen so far; the absolute position of the next token. */
    public long position() {
        return position;
    }

    /** L, the number of cached tokens. */
    public int size() {
        return globals + len;
    }

    /** How many of the cached tokens are the globally visible leading ones (the first of {@link #keys()}). */
    public int globalCount() {
        return globals;
    }

    /** Slots of the storage buffer this state uses (O(G + w) with a window). */
    public int capacity() {
        return buf == null ? 0 : buf.cap;
    }

    /** 0 for full attention, else the attention window. */
    public int window() {
        return window;
    }

    /** Leading tokens kept forever (0 for full attention). */
    public int globalTokens() {
        return globalTokens;
    }

    /** B, the batch size. */
    public int batch() {
        return b;
    }

    /** H, the number of heads. */
    public int heads() {
        return h;
    }

    /** Dk, the key width per head. */
    public int keyDim() {
        return dk;
    }

    /** Dv, the value width per head. */
    public int valueDim() {
        return dv;
    }

    /** FLOAT or DOUBLE, the type of the cached arrays. */
    public DataType dataType() {
        return type;
    }

    @Override
    public KvCache copy() {
        return of(keysView(), valuesView(), position, window, globalTokens);
    }

    /** Arrays carry no autodiff history here, so detaching is a copy. */
    @Override
    public KvCache detach() {
        return copy();
    }

    @Override
    public String toString() {
        return "KvCache[B=" + b + ", H=" + h + ", Dk=" + dk + ", Dv=" + dv + ", position=" + position + ", size="
                + size() + ", window=" + window + ", globalTokens=" + globalTokens + "]";
    }
}
