package io.mnemo.modules.memmamba;

/**
 * What the note pools did during one training forward of a {@link MemMambaStack}, per inner layer
 * (index = layer): a diagnostic for users (is τ₁ too high? does anything read?) and for tests (did the
 * case under test actually write, evict and read?). Counts are summed over the batch.
 *
 * @param writes notes stored (into a free slot or by evicting one)
 * @param evictions notes that replaced an existing entry of a full pool
 * @param drops notes rejected by a full PRIORITY pool (score not above the lowest stored one)
 * @param reads tokens whose gated cross-token read was on ({@code j_t > τ₂}) with a non-empty pool
 * @param crossReads tokens of a cross-layer layer that attended to at least one earlier-layer entry
 * @param maxFill the largest fill count any pool snapshot reached (never above K)
 * @param margin the smallest distance of a discrete decision's input from what it was compared with:
 *     {@code |i_t − τ₁|}, {@code |j_t − τ₂|} (finite thresholds only) and, for PRIORITY evictions,
 *     {@code |i_t − min score|} and the gap between the lowest stored score and the others. A
 *     perturbation smaller than this cannot change a decision (finite-difference tests use it).
 */
public record MemMambaTrace(int[] writes, int[] evictions, int[] drops, int[] reads, int[] crossReads,
        int[] maxFill, double[] margin) {
    /** Sum over layers of one of the arrays. */
    public static int total(int[] perLayer) {
        int s = 0;
        for (int v : perLayer) {
            s += v;
        }
        return s;
    }
}
