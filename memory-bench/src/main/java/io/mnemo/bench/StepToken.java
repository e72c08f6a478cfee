package io.mnemo.bench;

import io.mnemo.core.NdBuffers;
import io.mnemo.modules.linear.LinearInputs;
import io.mnemo.modules.linear.LinearOp;
import io.mnemo.modules.linear.LinearStepper;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One token of inputs for every sequence and head, in the layouts of {@link LinearStepper#step}:
 * q, k {@code [B, H, Dk]}, v {@code [B, H, Dv]}, g and beta {@code [B, H]}, gk {@code [B, H, Dk]};
 * arrays the op does not take are null.
 */
record StepToken(INDArray q, INDArray k, INDArray v, INDArray g, INDArray gk, INDArray beta) {
    /** Token 0 of {@link BenchData#inputs} at the benchmark sizes. */
    static StepToken random(LinearOp op, long seed) {
        LinearInputs in = BenchData.inputs(op, BenchConfig.B, 1, BenchConfig.H, BenchConfig.D, BenchConfig.D, false, seed);
        return new StepToken(Parity.token(in.q(), 0), Parity.token(in.k(), 0), Parity.token(in.v(), 0),
                Parity.token(in.g(), 0), Parity.token(in.gk(), 0), Parity.token(in.beta(), 0));
    }

    /** Copies the token into the stepper's own input buffers, for {@link LinearStepper#stepArrays}. */
    void fill(LinearStepper s) {
        float[][] bufs = s.inputs();
        NdBuffers.copyFrom(q, bufs[0]);
        NdBuffers.copyFrom(k, bufs[1]);
        NdBuffers.copyFrom(v, bufs[2]);
        if (bufs[3] != null) {
            NdBuffers.copyFrom(g != null ? g : gk, bufs[3]);
        }
        if (bufs[4] != null) {
            NdBuffers.copyFrom(beta, bufs[4]);
        }
    }
}
