package io.mnemo.core.memory;

/**
 * Sizes of a batch of multi-head sequences in flash-linear-attention's layout: q/k {@code [B, T, H, Dk]},
 * v {@code [B, T, H, Dv]}, scalar gates {@code [B, T, H]}, states {@code [B, H, Dk, Dv]}; all c-ordered.
 *
 * @param b batch size
 * @param t sequence length (0 allowed)
 * @param h heads
 * @param dk key (and query) dimension per head
 * @param dv value dimension per head
 */
public record SeqDims(int b, int t, int h, int dk, int dv) {
    public SeqDims {
        if (b <= 0 || t < 0 || h <= 0 || dk <= 0 || dv <= 0) {
            throw new IllegalArgumentException("invalid sizes B=" + b + ", T=" + t + ", H=" + h + ", Dk=" + dk
                    + ", Dv=" + dv + " (T may be 0, the others must be > 0)");
        }
    }

    /** Offset of token (bi, ti, hi) in a {@code [B, T, H]} array. */
    public int tok(int bi, int ti, int hi) {
        return (bi * t + ti) * h + hi;
    }

    /** Size of one state {@code [Dk, Dv]}. */
    public int stateSize() {
        return dk * dv;
    }
}
