package io.mnemo.modules.linear;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.memory.MatrixMemoryReference;
import io.mnemo.core.memory.SeqDims;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The {@code reference} backend: the generic per-token recurrence of the op's components
 * ({@link MatrixMemoryReference}) in double precision. Slow and exact; the ground truth of tests.
 */
public final class ReferenceLinearKernel implements LinearKernel {
    @Override
    public LinearForward forward(LinearOpConfig cfg, SeqDims d, LinearInputs in, boolean save) {
        MatrixMemoryReference.Inputs ri = toReference(cfg, d, in);
        MatrixMemoryReference.Output out = MatrixMemoryReference.forward(cfg.op().memory(), d, ri);
        DataType t = in.q().dataType();
        return new LinearForward(NdBuffers.of(t, out.o(), d.b(), d.t(), d.h(), d.dv()),
                NdBuffers.of(t, out.finalState(), d.b(), d.h(), d.dk(), d.dv()), cfg, d, in, save ? ri : null);
    }

    @Override
    public LinearGrads backward(LinearForward fwd, INDArray dO, INDArray dFinalState) {
        if (!(fwd.saved() instanceof MatrixMemoryReference.Inputs ri)) {
            throw new IllegalArgumentException("backward needs a forward run by the reference backend with save=true");
        }
        SeqDims d = fwd.dims();
        LinearOp op = fwd.config().op();
        MatrixMemoryReference.Grads g = MatrixMemoryReference.backward(op.memory(), d, ri,
                dO == null ? null : NdBuffers.toDoubles(dO), dFinalState == null ? null : NdBuffers.toDoubles(dFinalState));
        DataType t = fwd.inputs().q().dataType();
        return new LinearGrads(
                NdBuffers.of(t, g.dq(), d.b(), d.t(), d.h(), d.dk()),
                NdBuffers.of(t, g.dk(), d.b(), d.t(), d.h(), d.dk()),
                NdBuffers.of(t, g.dv(), d.b(), d.t(), d.h(), d.dv()),
                op.scalarGate() ? NdBuffers.of(t, g.dGate(), d.b(), d.t(), d.h()) : null,
                op.vectorGate() ? NdBuffers.of(t, g.dGate(), d.b(), d.t(), d.h(), d.dk()) : null,
                op.delta() ? NdBuffers.of(t, g.dBeta(), d.b(), d.t(), d.h()) : null,
                NdBuffers.of(t, g.dInitialState(), d.b(), d.h(), d.dk(), d.dv()));
    }

    static MatrixMemoryReference.Inputs toReference(LinearOpConfig cfg, SeqDims d, LinearInputs in) {
        LinearOp op = cfg.op();
        double[] gate = op.scalarGate() ? NdBuffers.toDoubles(in.g()) : op.vectorGate() ? NdBuffers.toDoubles(in.gk()) : null;
        return new MatrixMemoryReference.Inputs(NdBuffers.toDoubles(in.q()), NdBuffers.toDoubles(in.k()),
                NdBuffers.toDoubles(in.v()), gate, op.delta() ? NdBuffers.toDoubles(in.beta()) : null,
                cfg.scaleFor(d.dk()), in.initialState() == null ? null : NdBuffers.toDoubles(in.initialState()));
    }
}
