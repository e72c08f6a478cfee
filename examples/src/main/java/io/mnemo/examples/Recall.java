package io.mnemo.examples;

import io.mnemo.train.Evaluator;
import io.mnemo.train.model.LanguageModel;
import io.mnemo.train.model.Loss;
import io.mnemo.train.tasks.Batch;
import io.mnemo.train.tasks.Task;

/** Scores a model on held-out batches of a task: token accuracy, example accuracy and loss. */
final class Recall {
    private Recall() {}

    /**
     * @param accuracy masked-token accuracy
     * @param exampleAccuracy fraction of examples with every masked token right
     * @param loss mean loss over masked tokens (nats)
     */
    record Score(double accuracy, double exampleAccuracy, double loss) {}

    static Score score(LanguageModel m, Task task, int batches, int batchSize) {
        double acc = 0;
        double ex = 0;
        double loss = 0;
        for (int i = 0; i < batches; i++) {
            Batch b = task.batch(Evaluator.EVAL_OFFSET + i, batchSize);
            LanguageModel.Output out = m.forward(b.inputs(), null, false);
            Loss.Result r = Loss.crossEntropy(out.logits(), b.targets(), b.mask(), false);
            var pred = Loss.argmax(out.logits());
            acc += Task.accuracy(b, pred);
            ex += Task.exampleAccuracy(b, pred);
            loss += r.loss();
        }
        return new Score(acc / batches, ex / batches, loss / batches);
    }
}
