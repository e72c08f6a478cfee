package io.mnemo.train.model;

import io.mnemo.core.NdBuffers;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Seeded parameter initialisation independent of ND4J's global RNG (so runs are reproducible). */
final class Init {
    private Init() {}

    static INDArray normal(DataType t, Random rng, double std, long... shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        double[] d = new double[(int) n];
        for (int i = 0; i < d.length; i++) {
            d[i] = rng.nextGaussian() * std;
        }
        return NdBuffers.of(t, d, shape);
    }
}
