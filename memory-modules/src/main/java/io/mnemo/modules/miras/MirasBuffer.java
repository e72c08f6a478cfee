package io.mnemo.modules.miras;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The inputs of the open (not yet committed) chunk, {@code 0 < n < C} tokens, carried in a
 * {@link MirasState}. The same record holds their gradients.
 *
 * @param k {@code [B, n, H, Dk]}
 * @param v {@code [B, n, H, Dv]}
 * @param theta {@code [B, n, H]}
 * @param eta {@code [B, n, H]}, null unless the rule has momentum
 * @param decay {@code [B, n, H]} or {@code [B, n, H, Dk]}, null for a retention without gate input
 * @param param {@code [B, n, H]}, null unless the bias reads a token parameter
 */
public record MirasBuffer(INDArray k, INDArray v, INDArray theta, INDArray eta, INDArray decay, INDArray param) {
    /** Number of buffered tokens n. */
    public int size() {
        return k == null ? 0 : (int) k.size(1);
    }
}
