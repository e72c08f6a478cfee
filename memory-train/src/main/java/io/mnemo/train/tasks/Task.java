package io.mnemo.train.tasks;

/** A deterministic source of batches: {@code batch(i, n)} depends only on the task's config, i and n. */
public interface Task {
    String name();

    int vocabSize();

    int seqLen();

    Batch batch(long index, int batchSize);

    String describe();
}
