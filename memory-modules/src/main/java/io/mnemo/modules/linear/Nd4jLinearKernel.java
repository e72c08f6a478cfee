package io.mnemo.modules.linear;

import io.mnemo.core.memory.SeqDims;
import org.nd4j.linalg.api.ndarray.INDArray;

/** The {@code nd4j} backend: chunked forms as large ND4J ops (being written). */
public final class Nd4jLinearKernel implements LinearKernel {
    @Override
    public LinearForward forward(LinearOpConfig cfg, SeqDims dims, LinearInputs in, boolean save) {
        throw new UnsupportedOperationException("the nd4j backend of the linear ops is not available yet");
    }

    @Override
    public LinearGrads backward(LinearForward fwd, INDArray dO, INDArray dFinalState) {
        throw new UnsupportedOperationException("the nd4j backend of the linear ops is not available yet");
    }
}
