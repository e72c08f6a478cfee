package io.mnemo.modules.titans;

/**
 * Sizes of one call of the Titans op.
 *
 * @param b batch size
 * @param t tokens in this call (0 allowed)
 * @param h heads
 * @param d key/value dimension per head
 * @param buffered tokens of the open chunk carried in by the initial state (0 ≤ n < C)
 */
public record TitansDims(int b, int t, int h, int d, int buffered) {
    public TitansDims {
        if (b <= 0 || t < 0 || h <= 0 || d <= 0 || buffered < 0) {
            throw new IllegalArgumentException("invalid sizes B=" + b + ", T=" + t + ", H=" + h + ", D=" + d
                    + ", buffered=" + buffered);
        }
    }

    /** Length of the virtual sequence: buffered tokens followed by this call's tokens. */
    public int virtualLength() {
        return buffered + t;
    }
}
