package io.mnemo.modules.titans;

/**
 * The weights of one head's memory MLP, flattened: layer {@code l} (0-based) is a row-major matrix
 * {@code W_l [rows(l), cols(l)]} starting at {@link #offset(int)}; {@code W_0 [H1, D]}, hidden layers
 * {@code [H1, H1]}, the last {@code [D, H1]} (depth 1: one {@code [D, D]} matrix). No biases.
 *
 * @param depth number of layers L
 * @param d input and output dimension D
 * @param hidden hidden width (E·D; equals D for depth 1)
 */
public record MemoryLayout(int depth, int d, int hidden) {
    public MemoryLayout {
        if (depth < 1 || d < 1 || hidden < 1) {
            throw new IllegalArgumentException("invalid memory layout depth=" + depth + ", D=" + d + ", hidden="
                    + hidden);
        }
    }

    /** Output size of layer l. */
    public int rows(int l) {
        return l == depth - 1 ? d : hidden;
    }

    /** Input size of layer l. */
    public int cols(int l) {
        return l == 0 ? d : hidden;
    }

    /** Offset of layer l in the flat weights. */
    public int offset(int l) {
        int o = 0;
        for (int i = 0; i < l; i++) {
            o += rows(i) * cols(i);
        }
        return o;
    }

    /** Number of weights P of one head's memory. */
    public int size() {
        return offset(depth);
    }

    /** True for depth ≥ 2, where the memory adds its input: {@code M(x) = x + MLP(x)}. */
    public boolean residual() {
        return depth >= 2;
    }

    /** Largest layer width (scratch size). */
    public int maxWidth() {
        return Math.max(d, hidden);
    }
}
