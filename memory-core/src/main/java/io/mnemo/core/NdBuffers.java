package io.mnemo.core;

import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Moves data between {@link INDArray}s and the {@code float[]}/{@code double[]} that kernels work on.
 *
 * <p>Reads use the array's direct NIO view and a bulk get (a memcpy), not {@code asFloat()}
 * (DESIGN.md §2, item 6). The array is kept reachable until the copy is done: a buffer from
 * {@code asNio()} does not keep its memory alive.
 */
public final class NdBuffers {
    private NdBuffers() {}

    /** True when {@code a} is c-ordered with default strides, so its elements are contiguous. */
    public static boolean isContiguous(INDArray a) {
        // c layout, checked on the strides themselves: ND4J may give size-1 dimensions non-default
        // strides (they do not affect the layout), and an 'f' array has default strides of its own
        long[] shape = a.shape();
        long[] stride = a.stride();
        long expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && stride[i] != expected) {
                return false;
            }
            expected *= shape[i];
        }
        return true;
    }

    private static INDArray contiguous(INDArray a) {
        return isContiguous(a) ? a : a.dup('c');
    }

    /** Copies the elements of {@code a} (any floating type, any layout) in c order into a new float[]. */
    public static float[] toFloats(INDArray a) {
        INDArray c = contiguous(a);
        long n = c.length();
        if (n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("array with " + n + " elements is too large for a kernel buffer");
        }
        float[] out = new float[(int) n];
        if (n == 0) {
            return out;
        }
        if (c.dataType() == DataType.FLOAT) {
            ByteBuffer bb = c.data().asNio().order(ByteOrder.nativeOrder());
            bb.asFloatBuffer().position((int) c.offset()).get(out, 0, (int) n);
        } else if (c.dataType() == DataType.DOUBLE) {
            double[] d = toDoubles(c);
            for (int i = 0; i < d.length; i++) {
                out[i] = (float) d[i];
            }
        } else {
            float[] f = toFloats(c.castTo(DataType.FLOAT));
            System.arraycopy(f, 0, out, 0, f.length);
        }
        Reference.reachabilityFence(c);
        return out;
    }

    /** Copies the elements of {@code a} in c order into a new double[] (widening floats). */
    public static double[] toDoubles(INDArray a) {
        INDArray c = contiguous(a);
        long n = c.length();
        if (n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("array with " + n + " elements is too large for a kernel buffer");
        }
        double[] out = new double[(int) n];
        if (n == 0) {
            return out;
        }
        if (c.dataType() == DataType.DOUBLE) {
            ByteBuffer bb = c.data().asNio().order(ByteOrder.nativeOrder());
            bb.asDoubleBuffer().position((int) c.offset()).get(out, 0, (int) n);
        } else if (c.dataType() == DataType.FLOAT) {
            float[] f = toFloats(c);
            for (int i = 0; i < f.length; i++) {
                out[i] = f[i];
            }
        } else {
            return toDoubles(c.castTo(DataType.DOUBLE));
        }
        Reference.reachabilityFence(c);
        return out;
    }

    /**
     * {@code head [B, n0, inner]} followed by {@code tail [B, t, inner]} along the token axis, as a
     * c-ordered {@code [B, n0 + t, inner]} double[] (a carried open chunk in front of a call's tokens).
     *
     * @param head the first {@code n0} tokens, ignored (may be null) when {@code n0 == 0}
     * @param tail the next {@code t} tokens (may be empty)
     */
    public static double[] concatTokens(INDArray head, int n0, INDArray tail, int t, int b, int inner) {
        double[] xs = tail.length() == 0 ? new double[0] : toDoubles(tail);
        if (n0 == 0) {
            return xs;
        }
        double[] hs = toDoubles(head);
        double[] out = new double[b * (n0 + t) * inner];
        for (int i = 0; i < b; i++) {
            System.arraycopy(hs, i * n0 * inner, out, i * (n0 + t) * inner, n0 * inner);
            System.arraycopy(xs, i * t * inner, out, (i * (n0 + t) + n0) * inner, t * inner);
        }
        return out;
    }

    /**
     * Tokens {@code [from, from + n)} of a c-ordered {@code [B, tokens, inner]} double[] as
     * {@code [B, n, inner]}.
     */
    public static double[] tokenRange(double[] a, int b, int tokens, int from, int n, int inner) {
        double[] out = new double[b * n * inner];
        for (int i = 0; i < b; i++) {
            System.arraycopy(a, (i * tokens + from) * inner, out, i * n * inner, n * inner);
        }
        return out;
    }

    /**
     * A new c-ordered FLOAT array holding {@code data}. Filled by one bulk copy through the NIO view:
     * {@code Nd4j.create(float[], …)} writes element by element (JFR: ~10 % of the Java samples of a
     * training run went to that per-element put).
     */
    public static INDArray ofFloats(float[] data, long... shape) {
        INDArray a = Nd4j.create(DataType.FLOAT, shape);
        if (data.length != a.length()) {
            throw new IllegalArgumentException(data.length + " values do not fill shape " + java.util.Arrays.toString(shape));
        }
        if (data.length > 0) {
            copyInto(data, a);
        }
        return a;
    }

    /** A new c-ordered DOUBLE array holding {@code data}, filled by one bulk copy. */
    public static INDArray ofDoubles(double[] data, long... shape) {
        INDArray a = Nd4j.create(DataType.DOUBLE, shape);
        if (data.length != a.length()) {
            throw new IllegalArgumentException(data.length + " values do not fill shape " + java.util.Arrays.toString(shape));
        }
        if (data.length > 0) {
            ByteBuffer bb = a.data().asNio().order(ByteOrder.nativeOrder());
            bb.asDoubleBuffer().position((int) a.offset()).put(data, 0, data.length);
            Reference.reachabilityFence(a);
        }
        return a;
    }

    /** A new array of data type {@code type} (FLOAT or DOUBLE) holding {@code data}. */
    public static INDArray of(DataType type, double[] data, long... shape) {
        if (type == DataType.DOUBLE) {
            return ofDoubles(data, shape);
        }
        float[] f = new float[data.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) data[i];
        }
        return ofFloats(f, shape);
    }

    /** A new array of data type {@code type} (FLOAT or DOUBLE) holding {@code data}. */
    public static INDArray of(DataType type, float[] data, long... shape) {
        if (type == DataType.FLOAT) {
            return ofFloats(data, shape);
        }
        double[] d = new double[data.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = data[i];
        }
        return ofDoubles(d, shape);
    }

    /**
     * Copies {@code src} into the contiguous FLOAT array {@code dst} (same element count) without
     * allocating: the write path of kernels with preallocated outputs.
     */
    public static void copyInto(float[] src, INDArray dst) {
        if (dst.dataType() != DataType.FLOAT || !isContiguous(dst) || dst.length() != src.length) {
            throw new IllegalArgumentException("destination must be a contiguous FLOAT array of " + src.length
                    + " elements, got " + dst.dataType() + " " + java.util.Arrays.toString(dst.shape()) + " order "
                    + dst.ordering());
        }
        ByteBuffer bb = dst.data().asNio().order(ByteOrder.nativeOrder());
        bb.asFloatBuffer().position((int) dst.offset()).put(src, 0, src.length);
        Reference.reachabilityFence(dst);
    }

    /** Copies the contiguous FLOAT array {@code a} into the existing {@code dst} (same element count). */
    public static void copyFrom(INDArray a, float[] dst) {
        INDArray c = contiguous(a);
        if (c.dataType() != DataType.FLOAT || c.length() != dst.length) {
            float[] f = toFloats(a);
            if (f.length != dst.length) {
                throw new IllegalArgumentException("array has " + f.length + " elements, expected " + dst.length);
            }
            System.arraycopy(f, 0, dst, 0, f.length);
            return;
        }
        ByteBuffer bb = c.data().asNio().order(ByteOrder.nativeOrder());
        bb.asFloatBuffer().position((int) c.offset()).get(dst, 0, dst.length);
        Reference.reachabilityFence(c);
    }
}
