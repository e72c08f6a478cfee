package io.mnemo.core.nn;

import io.mnemo.core.NdBuffers;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The constant {@code C × C} masks of the chunked (intra-chunk) forms that the {@code nd4j} kernels write as batched
 * ND4J ops, each {@code [1, C, C]} so that it broadcasts over a leading batch axis ({@code reshape(C, C)} for a plain
 * matrix product). Row i is the query position, column j the key position.
 *
 * @param incl causal mask with the diagonal: 1 where {@code j ≤ i}
 * @param strict strictly causal: 1 where {@code j < i}
 * @param negInf 0 where {@code j ≤ i}, −∞ above the diagonal (added before {@code exp})
 * @param eye the identity
 * @param upperOnes 1 where {@code i ≤ j}: {@code x · upperOnes} is the inclusive cumulative sum of the rows of x
 * @param lowerOnes 1 where {@code i ≥ j}: {@code x · lowerOnes} is the reverse inclusive cumulative sum
 */
public record ChunkMasks(INDArray incl, INDArray strict, INDArray negInf, INDArray eye, INDArray upperOnes,
        INDArray lowerOnes) {

    /** The masks of chunk width {@code c} in data type {@code dt}. */
    public static ChunkMasks of(int c, DataType dt) {
        if (c < 1) {
            throw new IllegalArgumentException("chunk width must be >= 1, got " + c);
        }
        double[] incl = new double[c * c];
        double[] strict = new double[c * c];
        double[] negInf = new double[c * c];
        double[] eye = new double[c * c];
        double[] upper = new double[c * c];
        double[] lower = new double[c * c];
        for (int i = 0; i < c; i++) {
            for (int j = 0; j < c; j++) {
                int ij = i * c + j;
                incl[ij] = j <= i ? 1 : 0;
                strict[ij] = j < i ? 1 : 0;
                negInf[ij] = j <= i ? 0 : Double.NEGATIVE_INFINITY;
                eye[ij] = i == j ? 1 : 0;
                upper[ij] = i <= j ? 1 : 0;
                lower[ij] = i >= j ? 1 : 0;
            }
        }
        return new ChunkMasks(NdBuffers.of(dt, incl, 1, c, c), NdBuffers.of(dt, strict, 1, c, c),
                NdBuffers.of(dt, negInf, 1, c, c), NdBuffers.of(dt, eye, 1, c, c), NdBuffers.of(dt, upper, 1, c, c),
                NdBuffers.of(dt, lower, 1, c, c));
    }
}
