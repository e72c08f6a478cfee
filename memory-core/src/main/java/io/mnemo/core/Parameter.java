package io.mnemo.core;

import java.util.Objects;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A trainable tensor and its gradient accumulator of the same shape. {@code backward} calls add into
 * {@link #grad()}; the optimizer reads it and the trainer zeroes it.
 *
 * @param name a dotted path unique within a model, e.g. {@code "layers.0.mixer.w_q"}
 * @param value the parameter
 * @param grad the gradient accumulator, same shape and type as {@code value}
 */
public record Parameter(String name, INDArray value, INDArray grad) {
    public Parameter {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(value, "value");
        Objects.requireNonNull(grad, "grad");
        if (!java.util.Arrays.equals(value.shape(), grad.shape())) {
            throw new IllegalArgumentException("parameter " + name + ": grad shape "
                    + java.util.Arrays.toString(grad.shape()) + " differs from value shape "
                    + java.util.Arrays.toString(value.shape()));
        }
    }

    /** A parameter with a zeroed gradient accumulator. */
    public static Parameter of(String name, INDArray value) {
        return new Parameter(name, value, value.ulike().assign(0));
    }
}
