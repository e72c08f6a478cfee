package io.mnemo.train.model;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.Shapes;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Softmax cross-entropy over the vocabulary at masked positions, with its gradient and accuracy. */
public final class Loss {
    private Loss() {}

    /**
     * Result.
     *
     * @param loss mean negative log-likelihood (nats) over positions with mask 1
     * @param dLogits gradient of {@code loss} w.r.t. the logits {@code [B, T, V]}
     * @param correct masked positions whose argmax equals the target
     * @param count masked positions
     */
    public record Result(double loss, INDArray dLogits, long correct, long count) {
        /** correct / count (NaN when nothing is masked). */
        public double accuracy() {
            return count == 0 ? Double.NaN : (double) correct / count;
        }
    }

    /**
     * @param logits {@code [B, T, V]}
     * @param targets {@code [B, T]} token ids
     * @param mask {@code [B, T]}, 1 where the loss counts; null for everywhere
     * @param withGrad compute {@code dLogits}
     */
    public static Result crossEntropy(INDArray logits, INDArray targets, INDArray mask, boolean withGrad) {
        Shapes.requireRank("logits", logits, "[B, T, V]", 3);
        int b = (int) logits.size(0);
        int t = (int) logits.size(1);
        int v = (int) logits.size(2);
        Shapes.require("targets", targets, "[B, T]", b, t);
        if (mask != null) {
            Shapes.require("mask", mask, "[B, T]", b, t);
        }
        double[] z = NdBuffers.toDoubles(logits);
        double[] tg = NdBuffers.toDoubles(targets);
        double[] m = mask == null ? null : NdBuffers.toDoubles(mask);
        double[] grad = withGrad ? new double[z.length] : null;
        double count = 0;
        for (int i = 0; i < b * t; i++) {
            count += m == null ? 1 : m[i];
        }
        double total = 0;
        long correct = 0;
        long n = 0;
        for (int i = 0; i < b * t; i++) {
            double w = m == null ? 1 : m[i];
            if (w == 0) {
                continue;
            }
            int target = (int) tg[i];
            if (target < 0 || target >= v) {
                throw new IllegalArgumentException("target " + target + " at flat position " + i
                        + " is outside the vocabulary [0, " + v + ")");
            }
            int o = i * v;
            double max = Double.NEGATIVE_INFINITY;
            int arg = 0;
            for (int j = 0; j < v; j++) {
                if (z[o + j] > max) {
                    max = z[o + j];
                    arg = j;
                }
            }
            double sum = 0;
            for (int j = 0; j < v; j++) {
                sum += Math.exp(z[o + j] - max);
            }
            double logZ = max + Math.log(sum);
            total += w * (logZ - z[o + target]);
            n++;
            if (arg == target) {
                correct++;
            }
            if (withGrad) {
                double scale = w / count;
                for (int j = 0; j < v; j++) {
                    grad[o + j] = scale * Math.exp(z[o + j] - logZ);
                }
                grad[o + target] -= scale;
            }
        }
        double loss = count == 0 ? 0 : total / count;
        INDArray d = withGrad ? NdBuffers.of(logits.dataType() == DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT,
                grad, b, t, v) : null;
        return new Result(loss, d, correct, n);
    }

    /** Argmax over the last axis of {@code logits [B, T, V]} as INT32 ids {@code [B, T]}. */
    public static INDArray argmax(INDArray logits) {
        return logits.argMax(2).castTo(DataType.INT32);
    }
}
