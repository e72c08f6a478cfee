package io.mnemo.train;

import java.nio.file.Path;

/** Receives progress from a {@link Trainer}; every method has an empty default. */
public interface TrainingListener {
    /**
     * One optimizer step.
     *
     * @param step 1-based step just completed
     * @param totalSteps steps of the run
     * @param loss mean training loss of the step (nats per masked token)
     * @param accuracy masked-token accuracy of the step's batches
     * @param lr learning rate used
     * @param gradNorm global gradient norm before clipping
     * @param tokensPerSecond input tokens processed per second over the run so far (this process)
     * @param etaSeconds estimated seconds to the end of the run
     */
    record StepReport(int step, int totalSteps, double loss, double accuracy, double lr, double gradNorm,
            double tokensPerSecond, double etaSeconds) {}

    default void onStep(StepReport r) {}

    default void onEval(int step, Evaluator.Result r) {}

    default void onCheckpoint(int step, Path dir) {}

    /** Called once when the loss or gradient stops being finite; the run then stops. */
    default void onDivergence(int step, String what) {}
}
