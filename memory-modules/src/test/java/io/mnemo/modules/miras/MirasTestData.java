package io.mnemo.modules.miras;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.fail;

import io.mnemo.core.NdBuffers;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** Random Miras inputs and states, slicing into pieces, and comparisons that name what differs. */
final class MirasTestData {
    private MirasTestData() {}

    /**
     * q and k L2-normalised, v ~ N(0, 0.5²), θ = 0.5·sigmoid(N − 1), η = sigmoid(N + 1), decay = 1 − 0.2·sigmoid(N − 1),
     * param (Huber δ_t) = 0.2 + 0.5·sigmoid(N); a random state (memory N(0, 0.5²/cols) per layer, momentum N(0, 0.1²),
     * {@code buffered} open-chunk tokens) when {@code randomState}.
     */
    static MirasInputs random(MirasConfig cfg, int b, int t, int h, int dk, int dv, boolean randomState, int buffered,
            DataType type, long seed) {
        Random r = new Random(seed);
        Tokens x = tokens(cfg, r, b, t, h, dk, dv, type);
        MirasState s = randomState ? randomState(cfg, r, b, h, dk, dv, buffered, type) : null;
        return new MirasInputs(x.q, x.k, x.v, x.theta, x.eta, x.decay, x.param, s);
    }

    record Tokens(INDArray q, INDArray k, INDArray v, INDArray theta, INDArray eta, INDArray decay, INDArray param) {}

    static Tokens tokens(MirasConfig cfg, Random r, int b, int t, int h, int dk, int dv, DataType type) {
        int n = b * t * h;
        INDArray q = arr(type, unitRows(r, n, dk), b, t, h, dk);
        INDArray k = arr(type, unitRows(r, n, dk), b, t, h, dk);
        INDArray v = arr(type, gauss(r, n * dv, 0.5), b, t, h, dv);
        INDArray theta = arr(type, gates(r, n, 0.5, -1, 0), b, t, h);
        INDArray eta = cfg.rule().momentum() ? arr(type, gates(r, n, 1, 1, 0), b, t, h) : null;
        INDArray decay = switch (cfg.retention().gateShape()) {
            case NONE -> null;
            case SCALAR -> arr(type, oneMinus(gates(r, n, 0.2, -1, 0)), b, t, h);
            case PER_KEY -> arr(type, oneMinus(gates(r, n * dk, 0.3, -1, 0)), b, t, h, dk);
        };
        INDArray param = cfg.bias().tokenParameter() ? arr(type, gates(r, n, 0.5, 0, 0.2), b, t, h) : null;
        return new Tokens(q, k, v, theta, eta, decay, param);
    }

    static MirasState randomState(MirasConfig cfg, Random r, int b, int h, int dk, int dv, int n, DataType type) {
        MemoryShape m = cfg.shape(dk, dv);
        List<INDArray> mem = new ArrayList<>();
        List<INDArray> mom = cfg.rule().momentum() ? new ArrayList<>() : null;
        for (int l = 0; l < m.depth(); l++) {
            int sz = b * h * m.rows(l) * m.cols(l);
            mem.add(arr(type, gauss(r, sz, 0.5 / Math.sqrt(m.cols(l))), b, h, m.rows(l), m.cols(l)));
            if (mom != null) {
                mom.add(arr(type, gauss(r, sz, 0.1), b, h, m.rows(l), m.cols(l)));
            }
        }
        if (n == 0) {
            return new MirasState(mem, mom, null);
        }
        Tokens x = tokens(cfg, r, b, n, h, dk, dv, type);
        return new MirasState(mem, mom, new MirasBuffer(x.k, x.v, x.theta, x.eta, x.decay, x.param));
    }

    /** Tokens [from, to) of a per-token array {@code [B, T, …]}, or null. */
    static INDArray slice(INDArray a, int from, int to) {
        if (a == null) {
            return null;
        }
        return a.rank() == 3 ? a.get(NDArrayIndex.all(), NDArrayIndex.interval(from, to), NDArrayIndex.all()).dup('c')
                : a.get(NDArrayIndex.all(), NDArrayIndex.interval(from, to), NDArrayIndex.all(), NDArrayIndex.all())
                        .dup('c');
    }

    /** Tokens [from, to) of the inputs, with the given initial state. */
    static MirasInputs slice(MirasInputs in, int from, int to, MirasState s) {
        return new MirasInputs(slice(in.q(), from, to), slice(in.k(), from, to), slice(in.v(), from, to),
                slice(in.theta(), from, to), slice(in.eta(), from, to), slice(in.decay(), from, to),
                slice(in.param(), from, to), s);
    }

    /** Token t of a per-token array as {@code [B, …]} without the token axis, or null. */
    static INDArray token(INDArray a, int t) {
        if (a == null) {
            return null;
        }
        INDArray x = slice(a, t, t + 1);
        long[] s = x.shape();
        long[] n = new long[s.length - 1];
        n[0] = s[0];
        System.arraycopy(s, 2, n, 1, s.length - 2);
        return x.reshape('c', n);
    }

    static void assertClose(String what, INDArray a, INDArray b, double tol) {
        if (a == null || b == null) {
            if (a != b) {
                fail(what + ": one is null (" + a + " vs " + b + ")");
            }
            return;
        }
        assertEquals(java.util.Arrays.toString(b.shape()), java.util.Arrays.toString(a.shape()), what + " shape");
        double[] x = NdBuffers.toDoubles(a);
        double[] y = NdBuffers.toDoubles(b);
        double scale = 0;
        for (double e : y) {
            scale = Math.max(scale, Math.abs(e));
        }
        for (int i = 0; i < x.length; i++) {
            double err = Math.abs(x[i] - y[i]);
            if (!(err <= tol * Math.max(1, scale))) {
                fail(what + " differs at flat index " + i + ": " + x[i] + " vs " + y[i] + " (|err|=" + err + ", tol="
                        + tol + ", scale " + scale + ")");
            }
        }
    }

    static void assertStateClose(String what, MirasState a, MirasState b, double tol) {
        for (int l = 0; l < b.memory().size(); l++) {
            assertClose(what + ".memory[" + l + "]", a.memory().get(l), b.memory().get(l), tol);
        }
        if (b.momentum() != null) {
            for (int l = 0; l < b.momentum().size(); l++) {
                assertClose(what + ".momentum[" + l + "]", a.momentum().get(l), b.momentum().get(l), tol);
            }
        }
        if (b.buffer() == null) {
            assertNull(a.buffer(), what + ".buffer");
            return;
        }
        MirasBuffer x = a.buffer();
        MirasBuffer y = b.buffer();
        assertClose(what + ".buffer.k", x.k(), y.k(), tol);
        assertClose(what + ".buffer.v", x.v(), y.v(), tol);
        assertClose(what + ".buffer.theta", x.theta(), y.theta(), tol);
        assertClose(what + ".buffer.eta", x.eta(), y.eta(), tol);
        assertClose(what + ".buffer.decay", x.decay(), y.decay(), tol);
        assertClose(what + ".buffer.param", x.param(), y.param(), tol);
    }

    static INDArray randn(DataType type, long seed, long... shape) {
        Random r = new Random(seed);
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        return arr(type, gauss(r, (int) n, 1), shape);
    }

    /** A random gradient shaped like {@code s} (every array present). */
    static MirasState randomLike(MirasState s, long seed) {
        long[] k = {seed};
        java.util.function.Function<INDArray, INDArray> f = a -> a == null ? null
                : randn(a.dataType(), k[0]++, a.shape());
        List<INDArray> mem = s.memory().stream().map(f).toList();
        List<INDArray> mom = s.momentum() == null ? null : s.momentum().stream().map(f).toList();
        MirasBuffer b = s.buffer();
        MirasBuffer gb = b == null ? null : new MirasBuffer(f.apply(b.k()), f.apply(b.v()), f.apply(b.theta()),
                f.apply(b.eta()), f.apply(b.decay()), f.apply(b.param()));
        return new MirasState(mem, mom, gb);
    }

    static INDArray arr(DataType type, double[] x, long... shape) {
        return NdBuffers.of(type, x, shape);
    }

    static double[] gauss(Random r, int n, double s) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = s * r.nextGaussian();
        }
        return x;
    }

    static double[] unitRows(Random r, int rows, int d) {
        double[] x = gauss(r, rows * d, 1);
        for (int i = 0; i < rows; i++) {
            double n = 0;
            for (int j = 0; j < d; j++) {
                n += x[i * d + j] * x[i * d + j];
            }
            n = Math.sqrt(n);
            for (int j = 0; j < d; j++) {
                x[i * d + j] /= n;
            }
        }
        return x;
    }

    /** {@code scale · sigmoid(N + shift) + offset}. */
    static double[] gates(Random r, int n, double scale, double shift, double offset) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = offset + scale / (1 + Math.exp(-(r.nextGaussian() + shift)));
        }
        return x;
    }

    static double[] oneMinus(double[] x) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = 1 - x[i];
        }
        return y;
    }
}
