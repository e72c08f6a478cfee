package io.mnemo.modules.miras;

/**
 * Sizes of one call of the Miras op.
 *
 * @param b batch size
 * @param t tokens in this call (0 allowed)
 * @param h heads
 * @param dk key (and query) size per head
 * @param dv value size per head
 * @param buffered tokens of the open chunk carried in by the initial state (0 ≤ n < C)
 */
public record MirasDims(int b, int t, int h, int dk, int dv, int buffered) {
    public MirasDims {
        if (b <= 0 || t < 0 || h <= 0 || dk <= 0 || dv <= 0 || buffered < 0) {
            throw new IllegalArgumentException("invalid sizes B=" + b + ", T=" + t + ", H=" + h + ", Dk=" + dk + ", Dv="
                    + dv + ", buffered=" + buffered);
        }
    }

    /** Buffered tokens followed by this call's tokens. */
    public int virtualLength() {
        return buffered + t;
    }
}
