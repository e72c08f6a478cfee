package io.mnemo.bench;

import io.mnemo.modules.linear.LinearInputs;
import io.mnemo.modules.linear.LinearOp;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Random inputs shaped and distributed like flash-linear-attention's tests: q, k, v ~ N(0, 1); k
 * L2-normalised over Dk for the delta rules (as their callers do, otherwise the recurrence is not
 * contractive); log decays {@code logsigmoid(N(0, 1) + 2)}; step sizes {@code β = sigmoid(N(0, 1))}.
 * Everything is drawn in double and cast, so a seed gives the same values for every data type.
 */
public final class BenchData {
    private BenchData() {}

    /** Inputs for {@code op} in FLOAT, shapes {@code [B, T, H, D]}, with an optional random initial state. */
    public static LinearInputs inputs(LinearOp op, int b, int t, int h, int dk, int dv, boolean withInit, long seed) {
        Nd4j.getRandom().setSeed(seed);
        INDArray q = Nd4j.randn(DataType.DOUBLE, b, t, h, dk);
        INDArray k = Nd4j.randn(DataType.DOUBLE, b, t, h, dk);
        INDArray v = Nd4j.randn(DataType.DOUBLE, b, t, h, dv);
        if (op.delta()) {
            INDArray norm = Transforms.sqrt(k.mul(k).sum(true, 3).addi(1e-6), false);
            k = k.div(norm);
        }
        INDArray g = op.scalarGate() ? logSigmoid(Nd4j.randn(DataType.DOUBLE, b, t, h).addi(2)) : null;
        INDArray gk = op.vectorGate() ? logSigmoid(Nd4j.randn(DataType.DOUBLE, b, t, h, dk).addi(2)) : null;
        INDArray beta = op.delta() ? Transforms.sigmoid(Nd4j.randn(DataType.DOUBLE, b, t, h), false) : null;
        INDArray init = withInit ? Nd4j.randn(DataType.DOUBLE, b, h, dk, dv) : null;
        return new LinearInputs(f(q), f(k), f(v), f(g), f(gk), f(beta), f(init));
    }

    /** A FLOAT array of N(0, 1) values, e.g. an upstream gradient. */
    public static INDArray randn(long seed, long... shape) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.randn(DataType.DOUBLE, shape).castTo(DataType.FLOAT);
    }

    /** {@code log σ(x) = −softplus(−x)}. */
    static INDArray logSigmoid(INDArray x) {
        return Transforms.softPlus(x.neg(), false).negi();
    }

    private static INDArray f(INDArray a) {
        return a == null ? null : a.castTo(DataType.FLOAT);
    }
}
