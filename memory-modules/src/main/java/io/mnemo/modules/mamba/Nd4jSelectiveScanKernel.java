package io.mnemo.modules.mamba;

import org.nd4j.linalg.api.ndarray.INDArray;

/** The {@code nd4j} backend of the selective scan (chunked form in large ND4J ops). */
public final class Nd4jSelectiveScanKernel implements SelectiveScanKernel {
    @Override
    public SelectiveScanForward forward(SelectiveScanConfig cfg, ScanDims dims, SelectiveScanInputs in, boolean save) {
        throw new UnsupportedOperationException("the nd4j backend of selective_scan is not implemented yet; "
                + "use backend cpu or reference");
    }

    @Override
    public SelectiveScanGrads backward(SelectiveScanForward fwd, INDArray dOut, INDArray dLastState) {
        throw new UnsupportedOperationException("the nd4j backend of selective_scan is not implemented yet");
    }
}
