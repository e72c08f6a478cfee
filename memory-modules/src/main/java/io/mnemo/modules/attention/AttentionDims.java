package io.mnemo.modules.attention;

/**
 * Sizes of an attention call: q {@code [B, Tq, H, Dk]}, k {@code [B, Tk, H, Dk]}, v {@code [B, Tk, H, Dv]},
 * all c-ordered, with {@code Tk = P + Tq}.
 *
 * @param b batch size
 * @param tq queries (0 allowed)
 * @param tk keys and values, the first {@code tk − tq} of them the carried prefix
 * @param h heads
 * @param dk query/key dimension per head
 * @param dv value dimension per head
 */
public record AttentionDims(int b, int tq, int tk, int h, int dk, int dv) {
    public AttentionDims {
        if (b <= 0 || tq < 0 || tk < tq || h <= 0 || dk <= 0 || dv <= 0) {
            throw new IllegalArgumentException("invalid sizes B=" + b + ", Tq=" + tq + ", Tk=" + tk + ", H=" + h
                    + ", Dk=" + dk + ", Dv=" + dv + " (need Tq >= 0, Tk >= Tq, the others > 0)");
        }
    }

    /** P, the number of prefix keys before the first query's own key. */
    public int prefix() {
        return tk - tq;
    }

    /** Offset of query row (bi, i, hi) in a {@code [B, Tq, H]} array. */
    int qrow(int bi, int i, int hi) {
        return (bi * tq + i) * h + hi;
    }

    /** Offset of key row (bi, j, hi) in a {@code [B, Tk, H]} array. */
    int krow(int bi, int j, int hi) {
        return (bi * tk + j) * h + hi;
    }
}
