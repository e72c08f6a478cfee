package io.mnemo.train;

import io.mnemo.train.model.LanguageModel;
import io.mnemo.train.model.Loss;
import io.mnemo.train.tasks.Batch;
import io.mnemo.train.tasks.Task;

/** Loss, bits per token and accuracy of a model on a task's batches. */
public final class Evaluator {
    /** Batch indices used for evaluation start here, far from the training indices. */
    public static final long EVAL_OFFSET = 1L << 40;

    private Evaluator() {}

    /**
     * @param loss mean loss in nats per masked token
     * @param bitsPerToken {@code loss / ln 2} (bits per byte for byte-level tasks)
     * @param accuracy masked-token accuracy
     * @param tokens masked tokens scored
     */
    public record Result(double loss, double bitsPerToken, double accuracy, long tokens) {}

    /** Evaluates on {@code batches} batches of {@code batchSize} starting at batch index {@code EVAL_OFFSET + first}. */
    public static Result evaluate(LanguageModel model, Task task, int batches, int batchSize, long first) {
        double lossSum = 0;
        long correct = 0;
        long count = 0;
        for (int i = 0; i < batches; i++) {
            Batch b = task.batch(EVAL_OFFSET + first + i, batchSize);
            LanguageModel.Output out = model.forward(b.inputs(), null, false);
            Loss.Result r = Loss.crossEntropy(out.logits(), b.targets(), b.mask(), false);
            lossSum += r.loss() * r.count();
            correct += r.correct();
            count += r.count();
        }
        double loss = count == 0 ? Double.NaN : lossSum / count;
        return new Result(loss, loss / Math.log(2), count == 0 ? Double.NaN : (double) correct / count, count);
    }
}
