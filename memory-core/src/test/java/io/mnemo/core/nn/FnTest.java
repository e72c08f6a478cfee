package io.mnemo.core.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class FnTest {
    @Test
    void softplusAndLogSigmoidStayFiniteAndExact() {
        double[] xs = {-200, -100, -30, -1, 0, 0.5, 30, 100, 200};
        INDArray x = Nd4j.createFromArray(xs).castTo(DataType.FLOAT);
        INDArray sp = Fn.softplus(x);
        INDArray ls = Fn.logSigmoid(x);
        for (int i = 0; i < xs.length; i++) {
            // double-precision references: log1p(e^x) and −log1p(e^−x), written stably
            double refSp = Math.max(xs[i], 0) + Math.log1p(Math.exp(-Math.abs(xs[i])));
            double refLs = Math.min(xs[i], 0) - Math.log1p(Math.exp(-Math.abs(xs[i])));
            assertEquals(refSp, sp.getDouble(i), 1e-5 * Math.max(1, Math.abs(refSp)), "softplus(" + xs[i] + ")");
            assertEquals(refLs, ls.getDouble(i), 1e-5 * Math.max(1, Math.abs(refLs)), "logsigmoid(" + xs[i] + ")");
        }
    }
}
