package io.mnemo.modules.miras;

import java.util.Arrays;

/**
 * The weights of one head's memory, flattened: layer {@code l} is a row-major matrix
 * {@code W_l [rows(l), cols(l)]} starting at {@link #offset(int)}; the memory reads {@code W_l x}.
 * A {@link MemoryArchitecture} says which shapes it has; a {@link RetentionGate} works per layer.
 */
public final class MemoryShape {
    private final int[] rows;
    private final int[] cols;
    private final int[] offsets;

    /**
     * @param rows output size of each layer (all > 0)
     * @param cols input size of each layer (all > 0, same count as rows)
     */
    public MemoryShape(int[] rows, int[] cols) {
        if (rows == null || cols == null || rows.length == 0 || rows.length != cols.length) {
            throw new IllegalArgumentException("rows and cols must be non-empty and of equal length, got rows="
                    + Arrays.toString(rows) + ", cols=" + Arrays.toString(cols));
        }
        this.rows = rows.clone();
        this.cols = cols.clone();
        this.offsets = new int[rows.length + 1];
        for (int l = 0; l < rows.length; l++) {
            if (rows[l] <= 0 || cols[l] <= 0) {
                throw new IllegalArgumentException("layer " + l + " has shape [" + rows[l] + ", " + cols[l]
                        + "], expected positive sizes");
            }
            offsets[l + 1] = offsets[l] + rows[l] * cols[l];
        }
    }

    /** Number of layers. */
    public int depth() {
        return rows.length;
    }

    /** Output size of layer l. */
    public int rows(int l) {
        return rows[l];
    }

    /** Input size of layer l. */
    public int cols(int l) {
        return cols[l];
    }

    /** Offset of layer l in the flat weights. */
    public int offset(int l) {
        return offsets[l];
    }

    /** Number of weights P of one head. */
    public int size() {
        return offsets[rows.length];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MemoryShape m && Arrays.equals(rows, m.rows) && Arrays.equals(cols, m.cols);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(rows) + Arrays.hashCode(cols);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("MemoryShape[");
        for (int l = 0; l < rows.length; l++) {
            sb.append(l == 0 ? "" : ", ").append(rows[l]).append('x').append(cols[l]);
        }
        return sb.append(']').toString();
    }
}
