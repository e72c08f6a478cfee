package io.mnemo.core.nn;

import io.mnemo.core.NdBuffers;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Seeded parameter initialisation from a {@link Random} the caller owns, independent of ND4J's global
 * generator, so that a model built twice with the same seed is identical on any ND4J backend.
 */
public final class Init {
    private Init() {}

    /** N(0, std²) entries of the given shape, in data type {@code t}. */
    public static INDArray normal(DataType t, Random rng, double std, long... shape) {
        double[] d = new double[count(shape)];
        for (int i = 0; i < d.length; i++) {
            d[i] = rng.nextGaussian() * std;
        }
        return NdBuffers.of(t, d, shape);
    }

    /** U[0, 1) entries of the given shape, in data type {@code t}. */
    public static INDArray uniform(DataType t, Random rng, long... shape) {
        double[] d = new double[count(shape)];
        for (int i = 0; i < d.length; i++) {
            d[i] = rng.nextDouble();
        }
        return NdBuffers.of(t, d, shape);
    }

    private static int count(long[] shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        if (n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("parameter of " + n + " elements is too large");
        }
        return (int) n;
    }
}
