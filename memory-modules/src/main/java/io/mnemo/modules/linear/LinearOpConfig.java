package io.mnemo.modules.linear;

import io.mnemo.core.kernel.Backend;
import java.util.Objects;

/**
 * How to run a linear-family op.
 *
 * @param op which op
 * @param backend implementation; {@link Backend#AUTO} picks the fastest for the ND4J backend
 * @param scale multiplies q; {@code NaN} means the default {@code Dk^-1/2}
 * @param chunkSize tokens per chunk of the chunked forms (nd4j) and per checkpoint of the
 *     recurrent backward (cpu); any value gives the same result up to rounding
 * @param checkFinite reject NaN/Inf inputs with a message naming the input
 */
public record LinearOpConfig(LinearOp op, Backend backend, double scale, int chunkSize, boolean checkFinite) {
    public LinearOpConfig {
        Objects.requireNonNull(op, "op");
        Objects.requireNonNull(backend, "backend");
        if (chunkSize <= 0) {
            throw new IllegalArgumentException("chunkSize must be > 0, got " + chunkSize);
        }
        if (!Double.isNaN(scale) && !Double.isFinite(scale)) {
            throw new IllegalArgumentException("scale must be finite (or NaN for Dk^-1/2), got " + scale);
        }
    }

    /** Defaults: automatic backend, scale {@code Dk^-1/2}, chunk 64, no finiteness check. */
    public static LinearOpConfig of(LinearOp op) {
        return new LinearOpConfig(op, Backend.AUTO, Double.NaN, 64, false);
    }

    public LinearOpConfig withBackend(Backend b) {
        return new LinearOpConfig(op, b, scale, chunkSize, checkFinite);
    }

    public LinearOpConfig withScale(double s) {
        return new LinearOpConfig(op, backend, s, chunkSize, checkFinite);
    }

    public LinearOpConfig withChunkSize(int c) {
        return new LinearOpConfig(op, backend, scale, c, checkFinite);
    }

    public LinearOpConfig withCheckFinite(boolean c) {
        return new LinearOpConfig(op, backend, scale, chunkSize, c);
    }

    /** The scale for key dimension {@code dk}. */
    public double scaleFor(int dk) {
        return Double.isNaN(scale) ? 1.0 / Math.sqrt(dk) : scale;
    }
}
