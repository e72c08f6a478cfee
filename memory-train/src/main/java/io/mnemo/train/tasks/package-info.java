/**
 * Synthetic recall tasks, generated from a seed with no files: {@link io.mnemo.train.tasks.MqarTask}
 * (Zoology's multi-query associative recall), {@link io.mnemo.train.tasks.PasskeyTask},
 * {@link io.mnemo.train.tasks.NeedleTask} (RULER S-NIAH), {@link io.mnemo.train.tasks.SelectiveCopyTask}
 * and {@link io.mnemo.train.tasks.InductionTask} (Mamba's synthetics).
 *
 * <p>Every task yields {@link io.mnemo.train.tasks.Batch}es of {@code [B, T]} INT32 inputs and
 * targets and a FLOAT mask of the positions that count, and is deterministic in the batch index, so
 * training resumes exactly and evaluation sets need no storage. {@link io.mnemo.train.tasks.Tasks}
 * builds them by name from command-line options.
 */
package io.mnemo.train.tasks;
