package io.mnemo.train;

/**
 * Optimisation settings of a {@link Trainer} run (stored in every checkpoint).
 *
 * @param steps optimizer steps in total
 * @param batchSize sequences per micro-batch
 * @param accumSteps micro-batches whose gradients are summed per step (gradient accumulation)
 * @param lr peak learning rate
 * @param warmup linear warm-up steps
 * @param minLrRatio final learning rate of the cosine decay, as a fraction of {@code lr}
 * @param weightDecay decoupled (AdamW) weight decay on matrices
 * @param beta1 Adam β₁
 * @param beta2 Adam β₂
 * @param eps Adam ε
 * @param clipNorm global gradient-norm clip (0 = off)
 * @param segmentLen truncated back-propagation: sequences are processed in segments of this many tokens
 *     with the memory state carried (detached) between them; 0 = whole sequences
 * @param logEvery report every this many steps
 * @param evalEvery evaluate every this many steps (0 = only at the end)
 * @param evalBatches batches per evaluation
 * @param checkpointEvery checkpoint every this many steps (0 = only at the end)
 * @param keepLast checkpoints to keep
 */
public record TrainConfig(int steps, int batchSize, int accumSteps, double lr, int warmup, double minLrRatio,
        double weightDecay, double beta1, double beta2, double eps, double clipNorm, int segmentLen, int logEvery,
        int evalEvery, int evalBatches, int checkpointEvery, int keepLast) {
    public TrainConfig {
        positive("steps", steps);
        positive("batchSize", batchSize);
        positive("accumSteps", accumSteps);
        positive("logEvery", logEvery);
        positive("evalBatches", evalBatches);
        positive("keepLast", keepLast);
        if (!(lr > 0) || !Double.isFinite(lr)) {
            throw new IllegalArgumentException("lr must be > 0, got " + lr);
        }
        if (warmup < 0 || segmentLen < 0 || evalEvery < 0 || checkpointEvery < 0) {
            throw new IllegalArgumentException("warmup, segmentLen, evalEvery and checkpointEvery must be >= 0");
        }
        if (clipNorm < 0 || weightDecay < 0) {
            throw new IllegalArgumentException("clipNorm and weightDecay must be >= 0");
        }
        if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1 && eps > 0)) {
            throw new IllegalArgumentException("need 0 <= beta1, beta2 < 1 and eps > 0, got " + beta1 + ", " + beta2
                    + ", " + eps);
        }
    }

    private static void positive(String name, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(name + " must be > 0, got " + v);
        }
    }

    /** Defaults for small recall tasks: AdamW 3e-3, 10 % warm-up, cosine to 10 %, clip 1, wd 0.1. */
    public static TrainConfig defaults(int steps, int batchSize) {
        return new TrainConfig(steps, batchSize, 1, 3e-3, Math.max(1, steps / 10), 0.1, 0.1, 0.9, 0.95, 1e-8, 1.0, 0,
                Math.max(1, steps / 20), 0, 4, 0, 2);
    }

    public TrainConfig withSteps(int s) {
        return new TrainConfig(s, batchSize, accumSteps, lr, warmup, minLrRatio, weightDecay, beta1, beta2, eps,
                clipNorm, segmentLen, logEvery, evalEvery, evalBatches, checkpointEvery, keepLast);
    }

    public TrainConfig withLr(double l) {
        return new TrainConfig(steps, batchSize, accumSteps, l, warmup, minLrRatio, weightDecay, beta1, beta2, eps,
                clipNorm, segmentLen, logEvery, evalEvery, evalBatches, checkpointEvery, keepLast);
    }

    public TrainConfig withCheckpointEvery(int c) {
        return new TrainConfig(steps, batchSize, accumSteps, lr, warmup, minLrRatio, weightDecay, beta1, beta2, eps,
                clipNorm, segmentLen, logEvery, evalEvery, evalBatches, c, keepLast);
    }

    public TrainConfig withAccumSteps(int a) {
        return new TrainConfig(steps, batchSize, a, lr, warmup, minLrRatio, weightDecay, beta1, beta2, eps,
                clipNorm, segmentLen, logEvery, evalEvery, evalBatches, checkpointEvery, keepLast);
    }

    public TrainConfig withSegmentLen(int s) {
        return new TrainConfig(steps, batchSize, accumSteps, lr, warmup, minLrRatio, weightDecay, beta1, beta2, eps,
                clipNorm, s, logEvery, evalEvery, evalBatches, checkpointEvery, keepLast);
    }

    public TrainConfig withEvalEvery(int e) {
        return new TrainConfig(steps, batchSize, accumSteps, lr, warmup, minLrRatio, weightDecay, beta1, beta2, eps,
                clipNorm, segmentLen, logEvery, e, evalBatches, checkpointEvery, keepLast);
    }
}
