package io.mnemo.core;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Argument checks whose messages name the argument, the expected and the actual shape, e.g.
 * {@code "q has shape [2, 100, 4, 64], expected [B, T, H, Dk] = [2, 100, 4, 32]"}.
 */
public final class Shapes {
    private Shapes() {}

    /** Placeholder in an expected shape for "any size". */
    public static final long ANY = -1;

    /**
     * Checks that {@code a} is non-null and has the expected shape.
     *
     * @param name argument name used in the message
     * @param a the array
     * @param dims dimension names, e.g. {@code "[B, T, H, Dk]"}
     * @param expected expected sizes, {@link #ANY} for a free dimension
     * @return {@code a}
     */
    public static INDArray require(String name, INDArray a, String dims, long... expected) {
        if (a == null) {
            throw new IllegalArgumentException(name + " is missing, expected shape " + dims + " = "
                    + fmt(expected));
        }
        long[] s = a.shape();
        boolean ok = s.length == expected.length;
        for (int i = 0; ok && i < s.length; i++) {
            ok = expected[i] == ANY || expected[i] == s[i];
        }
        if (!ok) {
            throw new IllegalArgumentException(name + " has shape " + Arrays.toString(s) + ", expected "
                    + dims + " = " + fmt(expected));
        }
        return a;
    }

    /** Checks the rank only. */
    public static INDArray requireRank(String name, INDArray a, String dims, int rank) {
        long[] any = new long[rank];
        Arrays.fill(any, ANY);
        return require(name, a, dims, any);
    }

    /** Checks that a floating-point array holds no NaN or infinity. */
    public static void requireFinite(String name, INDArray a) {
        if (a == null || a.length() == 0) {
            return;
        }
        if (!a.dataType().isFPType()) {
            throw new IllegalArgumentException(name + " has data type " + a.dataType()
                    + ", expected FLOAT or DOUBLE");
        }
        double s = a.sumNumber().doubleValue();
        if (!Double.isFinite(s)) {
            // The sum is not enough (overflow); find the first bad element for the message.
            INDArray flat = a.reshape(a.length());
            for (long i = 0; i < flat.length(); i++) {
                double x = flat.getDouble(i);
                if (!Double.isFinite(x)) {
                    throw new IllegalArgumentException(name + " contains " + x + " at flat index " + i
                            + " (shape " + Arrays.toString(a.shape()) + ")");
                }
            }
        }
    }

    /** Checks that the data type is FLOAT or DOUBLE and returns it. */
    public static DataType requireFloating(String name, INDArray a) {
        DataType t = a.dataType();
        if (t != DataType.FLOAT && t != DataType.DOUBLE) {
            throw new IllegalArgumentException(name + " has data type " + t + ", expected FLOAT or DOUBLE");
        }
        return t;
    }

    /** Throws if {@code value <= 0}. */
    public static int requirePositive(String name, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be > 0, got " + value);
        }
        return value;
    }

    static String fmt(long[] e) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < e.length; i++) {
            b.append(i == 0 ? "" : ", ").append(e[i] == ANY ? "*" : Long.toString(e[i]));
        }
        return b.append(']').toString();
    }
}
