package io.mnemo.modules.mamba;

/**
 * Sizes of a selective scan and the layout of its B and C operands.
 *
 * @param batch B
 * @param dim D (channels)
 * @param len L (tokens)
 * @param dstate N (state size per channel)
 * @param bMode how B is given
 * @param cMode how C is given
 */
public record ScanDims(int batch, int dim, int len, int dstate, Operand bMode, Operand cMode) {

    /**
     * The layout of B or C: {@code rank 2} = shared {@code [D, N]}; {@code rank 3} = input-dependent
     * {@code [B, N, L]} (one group); {@code rank 4} = grouped {@code [B, G, N, L]}.
     *
     * @param rank 2, 3 or 4
     * @param groups G (1 for rank 3, 0 for shared)
     */
    public record Operand(int rank, int groups) {
        /** True for the shared {@code [D, N]} form. */
        public boolean shared() {
            return rank == 2;
        }
    }

    /** The group of channel {@code d} for an input-dependent operand: {@code d / (D / G)}. */
    public int group(Operand o, int d) {
        return d / (dim / o.groups());
    }

    /** Elements of a state {@code [B, D, N]}. */
    public int stateSize() {
        return batch * dim * dstate;
    }
}
