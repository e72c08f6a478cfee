package io.mnemo.train.optim;

import org.nd4j.linalg.schedule.ISchedule;

/**
 * Linear warm-up from 0 to {@code peak} over {@code warmup} steps, then cosine decay to
 * {@code peak · minRatio} at {@code total} steps (held there afterwards). An ND4J {@link ISchedule}, so
 * it plugs into ND4J's updaters; {@code iteration} is the 0-based optimizer step.
 *
 * @param peak peak learning rate
 * @param warmup warm-up steps (0 = none)
 * @param total total steps
 * @param minRatio final learning rate as a fraction of the peak
 */
public record WarmupCosine(double peak, int warmup, int total, double minRatio) implements ISchedule {
    public WarmupCosine {
        if (!(peak > 0) || !Double.isFinite(peak)) {
            throw new IllegalArgumentException("learning rate must be > 0, got " + peak);
        }
        if (warmup < 0 || total <= 0) {
            throw new IllegalArgumentException("warmup must be >= 0 and total > 0, got warmup=" + warmup + ", total="
                    + total);
        }
        if (minRatio < 0 || minRatio > 1) {
            throw new IllegalArgumentException("minRatio must be in [0, 1], got " + minRatio);
        }
    }

    @Override
    public double valueAt(int iteration, int epoch) {
        if (iteration < warmup) {
            return peak * (iteration + 1) / warmup;
        }
        int span = Math.max(1, total - warmup);
        double p = Math.min(1.0, (double) (iteration - warmup) / span);
        return peak * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * p)));
    }

    @Override
    public ISchedule clone() {
        return new WarmupCosine(peak, warmup, total, minRatio);
    }
}
