package io.mnemo.modules.titans;

import static io.mnemo.modules.titans.TitansTestData.assertClose;

import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.linear.LinearForward;
import io.mnemo.modules.linear.LinearGrads;
import io.mnemo.modules.linear.LinearInputs;
import io.mnemo.modules.linear.LinearOp;
import io.mnemo.modules.linear.LinearOpConfig;
import io.mnemo.modules.linear.LinearOps;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Cross-family check: the linear Titans memory (depth 1) without momentum, with chunk size 1 and
 * per-token reads, is Gated DeltaNet up to parameterisation. Titans writes
 * {@code M_t = (1−α) M_{t−1} − θ (M_{t−1}k − v) kᵀ}; the gated delta rule decays first,
 * {@code M_t = a M_{t−1} − β (a M_{t−1}k − v') kᵀ}, which matches with {@code a = 1−α},
 * {@code β = θ/a}, {@code v' = a v}, log decay {@code g = log a}, scale 1 and the state {@code S = Mᵀ}.
 * Outputs, final memory and every gradient (mapped back by the chain rule) must agree.
 */
class GatedDeltaNetEquivalenceTest {
    private static final int B = 2;
    private static final int H = 3;
    private static final int D = 5;

    @ParameterizedTest(name = "T={0}")
    @ValueSource(ints = {1, 7, 63})
    void linearTitansWithoutMomentumIsGatedDeltaNet(int t) {
        TitansOpConfig cfg = TitansOpConfig.defaults().withBackend(Backend.REFERENCE).withDepth(1).withMomentum(false)
                .withChunkSize(1).withReadMode(TitansReadMode.PER_TOKEN);
        TitansInputs in = TitansTestData.random(cfg, B, t, H, D, true, 0, DataType.DOUBLE, 77);
        INDArray w0 = in.initialState().memory().get(0);
        TitansForward ft = TitansOps.forward(cfg, in, true);

        INDArray a = in.alpha().rsub(1.0);
        INDArray beta = in.theta().div(a);
        INDArray aD = a.reshape(B, t, H, 1).broadcast(B, t, H, D);
        INDArray vPrime = in.v().mul(aD);
        LinearOpConfig lc = LinearOpConfig.of(LinearOp.GATED_DELTA_RULE).withBackend(Backend.REFERENCE).withScale(1.0);
        LinearInputs li = new LinearInputs(in.q(), in.k(), vPrime, Transforms.log(a, true), null, beta,
                w0.permute(0, 1, 3, 2).dup('c'));
        LinearForward fl = LinearOps.forward(lc, li, true);

        String ctx = "T=" + t;
        assertClose(ctx + " y", ft.y(), fl.o(), 1e-12);
        assertClose(ctx + " final memory", ft.finalState().memory().get(0), fl.finalState().permute(0, 1, 3, 2).dup('c'),
                1e-12);

        INDArray dY = TitansTestData.randn(DataType.DOUBLE, 78, B, t, H, D);
        INDArray dW = TitansTestData.randn(DataType.DOUBLE, 79, B, H, D, D);
        TitansGrads gt = TitansOps.backward(ft, dY, new TitansState(List.of(dW), null, null, null, null, null, null));
        LinearGrads gl = LinearOps.backward(fl, dY, dW.permute(0, 1, 3, 2).dup('c'));

        assertClose(ctx + " dq", gt.dq(), gl.dq(), 1e-10);
        assertClose(ctx + " dk", gt.dk(), gl.dk(), 1e-10);
        // v' = a v
        assertClose(ctx + " dv", gt.dv(), gl.dv().mul(aD), 1e-10);
        // β = θ / a
        assertClose(ctx + " dTheta", gt.dTheta(), gl.dbeta().div(a), 1e-10);
        // α enters through g = log a (dg/dα = −1/a), β = θ/a (dβ/dα = θ/a²) and v' = a v (dv'/dα = −v)
        INDArray dAlpha = gl.dg().div(a).neg()
                .add(gl.dbeta().mul(in.theta()).div(a.mul(a)))
                .sub(gl.dv().mul(in.v()).sum(3));
        assertClose(ctx + " dAlpha", gt.dAlpha(), dAlpha, 1e-10);
        assertClose(ctx + " dInitialState", gt.dInitialState().memory().get(0),
                gl.dInitialState().permute(0, 1, 3, 2).dup('c'), 1e-10);
    }
}
