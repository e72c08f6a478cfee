package io.mnemo.core.nn;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Element-wise and per-row functions used by the blocks around the memories, each with its backward,
 * written as whole-array ND4J ops (a fixed, small number of ops per call, never one per token), so
 * they run in the arrays' data type and on any ND4J backend.
 *
 * <p>Row functions take 2-D arrays {@code [N, F]} and act on each row.
 */
public final class Fn {
    private Fn() {}

    /** {@code σ(x)}. */
    public static INDArray sigmoid(INDArray x) {
        return Transforms.sigmoid(x, true);
    }

    /** {@code silu(x) = x σ(x)}. */
    public static INDArray silu(INDArray x) {
        return Transforms.sigmoid(x, true).muli(x);
    }

    /** {@code dx = dy · silu'(x)}, with {@code silu'(x) = σ(x) (1 + x (1 − σ(x)))}. */
    public static INDArray siluBackward(INDArray x, INDArray dy) {
        INDArray s = Transforms.sigmoid(x, true);
        INDArray d = s.rsub(1.0).muli(x).addi(1.0).muli(s);
        return d.muli(dy);
    }

    /**
     * {@code softplus(x) = log(1 + e^x)} as {@code max(x, 0) + log(1 + e^{−|x|})}, finite for any finite x
     * (ND4J's own softplus overflows to +∞ in float above x ≈ 88).
     */
    public static INDArray softplus(INDArray x) {
        INDArray tail = Transforms.log(Transforms.exp(Transforms.abs(x, true).negi(), false).addi(1.0), false);
        return Transforms.relu(x, true).addi(tail);
    }

    /** {@code log σ(x) = −softplus(−x) = min(x, 0) − log(1 + e^{−|x|})}, finite for any finite x. */
    public static INDArray logSigmoid(INDArray x) {
        return softplus(x.neg()).negi();
    }

    /**
     * Row-wise L2 normalisation {@code y = x / sqrt(Σx² + eps)} (flash-linear-attention's in-kernel
     * q/k normalisation uses eps = 1e-6).
     *
     * @param x {@code [N, F]}
     * @return {@code {y, n}} with {@code n [N, 1]} the norms (kept for backward)
     */
    public static INDArray[] l2NormRows(INDArray x, double eps) {
        INDArray n = Transforms.sqrt(x.mul(x).sum(true, 1).addi(eps), false);
        return new INDArray[] {x.divColumnVector(n), n};
    }

    /** Backward of {@link #l2NormRows}: {@code dx = (dy − y ⟨dy, y⟩) / n}. */
    public static INDArray l2NormRowsBackward(INDArray y, INDArray n, INDArray dy) {
        INDArray dot = dy.mul(y).sum(true, 1);
        return dy.sub(y.mulColumnVector(dot)).diviColumnVector(n);
    }

    /**
     * Row-wise RMS normalisation {@code y = x · r · w}, {@code r = 1 / sqrt(mean(x²) + eps)}.
     *
     * @param x {@code [N, F]}
     * @param w {@code [F]} or {@code [1, F]} weight
     * @return {@code {y, r}} with {@code r [N, 1]}
     */
    public static INDArray[] rmsNormRows(INDArray x, INDArray w, double eps) {
        INDArray r = Transforms.pow(x.mul(x).mean(true, 1).addi(eps), -0.5, false);
        return new INDArray[] {x.mulColumnVector(r).muliRowVector(w.reshape(1, -1)), r};
    }

    /**
     * Backward of {@link #rmsNormRows}.
     *
     * @return {@code {dx, dw}} with {@code dw} shaped like {@code [1, F]}
     */
    public static INDArray[] rmsNormRowsBackward(INDArray x, INDArray w, INDArray r, INDArray dy) {
        long f = x.size(1);
        INDArray xr = x.mulColumnVector(r);
        INDArray dw = dy.mul(xr).sum(true, 0);
        INDArray u = dy.mulRowVector(w.reshape(1, -1));
        // dx = r u − r³ x ⟨u, x⟩ / F
        INDArray dot = u.mul(x).sum(true, 1);
        INDArray r3 = Transforms.pow(r, 3, true);
        INDArray dx = u.mulColumnVector(r).subi(x.mulColumnVector(r3.muli(dot).divi(f)));
        return new INDArray[] {dx, dw};
    }

    /**
     * Causal depthwise 1-D convolution over time, {@code y[b, t, c] = Σ_j w[j, c] · xe[b, t + j, c]}
     * where {@code xe = [state ‖ x]} along time holds the last {@code K − 1} inputs of the previous call.
     *
     * @param x {@code [B, T, C]}
     * @param w {@code [K, C]}
     * @param state {@code [B, K−1, C]} (zeros at the start of a sequence)
     * @return {@code {y [B, T, C], xe [B, T+K−1, C]}}; the next state is the last K−1 steps of xe
     */
    public static INDArray[] causalConv(INDArray x, INDArray w, INDArray state) {
        long b = x.size(0);
        long t = x.size(1);
        long c = x.size(2);
        int k = (int) w.size(0);
        INDArray xe = Nd4j.concat(1, state, x);
        INDArray y = Nd4j.zeros(x.dataType(), b * t, c);
        for (int j = 0; j < k; j++) {
            INDArray win = xe.get(NDArrayIndex.all(), NDArrayIndex.interval(j, j + t), NDArrayIndex.all()).dup('c')
                    .reshape(b * t, c);
            y.addi(win.muliRowVector(w.getRow(j).reshape(1, c)));
        }
        return new INDArray[] {y.reshape(b, t, c), xe};
    }

    /**
     * Backward of {@link #causalConv}.
     *
     * @param dNextState gradient with respect to the state the forward handed on (the last K−1 steps
     *     of xe), or null
     * @return {@code {dx [B, T, C], dw [K, C], dState [B, K−1, C]}}
     */
    public static INDArray[] causalConvBackward(INDArray xe, INDArray w, INDArray dy, INDArray dNextState) {
        long b = dy.size(0);
        long t = dy.size(1);
        long c = dy.size(2);
        int k = (int) w.size(0);
        INDArray dy2 = dy.reshape(b * t, c);
        INDArray dxe = Nd4j.zeros(dy.dataType(), b, t + k - 1, c);
        INDArray dw = Nd4j.zeros(dy.dataType(), k, c);
        for (int j = 0; j < k; j++) {
            INDArray win = xe.get(NDArrayIndex.all(), NDArrayIndex.interval(j, j + t), NDArrayIndex.all()).dup('c')
                    .reshape(b * t, c);
            dw.getRow(j).assign(win.mul(dy2).sum(0));
            INDArray target = dxe.get(NDArrayIndex.all(), NDArrayIndex.interval(j, j + t), NDArrayIndex.all());
            target.addi(dy2.mulRowVector(w.getRow(j).reshape(1, c)).reshape(b, t, c));
        }
        if (dNextState != null) {
            dxe.get(NDArrayIndex.all(), NDArrayIndex.interval(t, t + k - 1), NDArrayIndex.all()).addi(dNextState);
        }
        INDArray dState = dxe.get(NDArrayIndex.all(), NDArrayIndex.interval(0, k - 1), NDArrayIndex.all()).dup('c');
        INDArray dx = dxe.get(NDArrayIndex.all(), NDArrayIndex.interval(k - 1, t + k - 1), NDArrayIndex.all()).dup('c');
        return new INDArray[] {dx, dw, dState};
    }

    /** The last {@code n} time steps of {@code xe [B, L, C]} as a new array {@code [B, n, C]}. */
    public static INDArray lastSteps(INDArray xe, int n) {
        long l = xe.size(1);
        return xe.get(NDArrayIndex.all(), NDArrayIndex.interval(l - n, l), NDArrayIndex.all()).dup('c');
    }
}
