package io.mnemo.modules.memmamba;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.NdBuffers;
import io.mnemo.modules.mamba.Mamba1State;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Seeded inputs and comparisons for the MemMamba tests. */
final class MemMambaTestData {
    private MemMambaTestData() {}

    static INDArray randn(DataType t, long seed, long... shape) {
        Random r = new Random(seed);
        int n = 1;
        for (long s : shape) {
            n *= (int) s;
        }
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = r.nextGaussian();
        }
        return NdBuffers.of(t, v, shape);
    }

    /**
     * A random carried state: pools filled to {@code counts[b]} (random summaries and scores, zeros in
     * unused slots) and random Mamba states.
     */
    static MemMambaState randomState(MemMambaConfig c, int b, int[] counts, long seed) {
        List<NotePool> pools = new ArrayList<>();
        List<Mamba1State> ms = new ArrayList<>();
        int k = c.poolSize();
        int ds = c.summaryDim();
        for (int l = 0; l < c.layers(); l++) {
            INDArray sum = randn(c.dataType(), seed + 10L * l, b, k, ds);
            INDArray sc = randn(c.dataType(), seed + 10L * l + 1, b, k).muli(0.5).addi(0.8);
            for (int bi = 0; bi < b; bi++) {
                for (int slot = counts[bi]; slot < k; slot++) {
                    sc.putScalar(new long[] {bi, slot}, 0);
                    for (int j = 0; j < ds; j++) {
                        sum.putScalar(new long[] {bi, slot, j}, 0);
                    }
                }
            }
            pools.add(new NotePool(sum, sc, Nd4j.createFromArray(counts.clone())));
            ms.add(new Mamba1State(randn(c.dataType(), seed + 10L * l + 2, b, c.convKernel() - 1,
                    (long) c.expand() * c.dModel()).muli(0.5),
                    randn(c.dataType(), seed + 10L * l + 3, b, (long) c.expand() * c.dModel(), c.dState()).muli(0.5)));
        }
        return new MemMambaState(pools, ms);
    }

    static double dot(INDArray a, INDArray b) {
        double[] x = NdBuffers.toDoubles(a);
        double[] y = NdBuffers.toDoubles(b);
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += x[i] * y[i];
        }
        return s;
    }

    /** {@code max|a − e| / max(1e-6, max|e|)}; NaN anywhere fails. */
    static double relErr(INDArray actual, INDArray expected) {
        double[] a = NdBuffers.toDoubles(actual);
        double[] e = NdBuffers.toDoubles(expected);
        double diff = 0;
        double mag = 1e-6;
        for (int i = 0; i < a.length; i++) {
            if (Double.isNaN(a[i]) || Double.isNaN(e[i])) {
                return Double.NaN;
            }
            diff = Math.max(diff, Math.abs(a[i] - e[i]));
            mag = Math.max(mag, Math.abs(e[i]));
        }
        return diff / mag;
    }

    static void assertClose(String what, INDArray actual, INDArray expected, double tol) {
        assertTrue(Arrays.equals(expected.shape(), actual.shape()), what + " shape "
                + Arrays.toString(actual.shape()) + " vs " + Arrays.toString(expected.shape()));
        double err = relErr(actual, expected);
        assertTrue(err <= tol, what + ": relative error " + err + " > " + tol);
    }

    static void assertStatesClose(String what, MemMambaState a, MemMambaState e, double tol) {
        for (int l = 0; l < e.pools().size(); l++) {
            NotePool pa = a.pools().get(l);
            NotePool pe = e.pools().get(l);
            assertTrue(Arrays.equals(NdBuffers.toDoubles(pe.count()), NdBuffers.toDoubles(pa.count())),
                    what + " pool " + l + " counts " + pa.count() + " vs " + pe.count());
            assertClose(what + " pool " + l + " summaries", pa.summaries(), pe.summaries(), tol);
            assertClose(what + " pool " + l + " scores", pa.scores(), pe.scores(), tol);
            assertClose(what + " mamba " + l + " conv", a.mamba().get(l).conv(), e.mamba().get(l).conv(), tol);
            assertClose(what + " mamba " + l + " ssm", a.mamba().get(l).ssm(), e.mamba().get(l).ssm(), tol);
        }
    }
}
