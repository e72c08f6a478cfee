package io.mnemo.train;

import io.mnemo.core.Parameter;
import io.mnemo.core.kernel.LoopWorkspace;
import io.mnemo.train.checkpoint.Checkpoints;
import io.mnemo.train.model.LanguageModel;
import io.mnemo.train.model.Loss;
import io.mnemo.train.model.ModelState;
import io.mnemo.train.optim.AdamW;
import io.mnemo.train.optim.WarmupCosine;
import io.mnemo.train.tasks.Batch;
import io.mnemo.train.tasks.Task;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Trains a {@link LanguageModel} on a {@link Task}: AdamW with warm-up and cosine decay, global-norm
 * clipping, gradient accumulation, loss at masked positions only, truncated back-propagation through
 * segments with the memory state carried, periodic evaluation and checkpoints, and a stop on NaN/Inf.
 *
 * <p>Determinism: the only randomness is the seeded parameter initialisation and the task's batches,
 * which are a function of their index; a checkpoint stores the step (and so the data position) and the
 * optimizer moments, so {@link #resume} continues exactly like an uninterrupted run.
 *
 * <p>Memory (opt-in): with {@link #useWorkspaces useWorkspaces(true)} or {@code -Dmnemo.workspaces=true} each
 * micro-batch's forward and backward run in an ND4J loop workspace ({@link LoopWorkspace}), so the activations, saved
 * tensors and temporaries of one step reuse one block of memory instead of a native allocation per op result; the
 * parameters, their gradient accumulators and the optimizer state live outside it. Every preset trains the same with
 * it (to float rounding; tested). Measured gain on the tiny presets: 0–10 % tokens/s (docs/results.md), so it is off
 * by default: a user mixer that kept an array created during forward or backward beyond the call (none of Mnemo's
 * do) would read overwritten memory.
 */
public final class Trainer {
    /**
     * System property that sets the default of {@link #useWorkspaces}: {@code -Dmnemo.workspaces=true} turns the
     * workspaces on (default off).
     */
    public static final String WORKSPACES_PROPERTY = "mnemo.workspaces";
    private static final String WS_STEP = "mnemo-train-step";

    private static final Logger LOG = LoggerFactory.getLogger(Trainer.class);

    private final LanguageModel model;
    private boolean workspaces = Boolean.parseBoolean(System.getProperty(WORKSPACES_PROPERTY, "false"));
    private final Task task;
    private final Map<String, String> taskOptions;
    private final TrainConfig cfg;
    private final Path runDir;
    private final AdamW opt;
    private final List<TrainingListener> listeners = new ArrayList<>();
    private int step;
    /** Index of the next training micro-batch (the data position). */
    private long dataIndex;
    private final List<Double> losses = new ArrayList<>();

    /**
     * @param taskOptions the task's name and options, stored in checkpoints (may be empty)
     * @param runDir where checkpoints go, or null for none
     */
    public Trainer(LanguageModel model, Task task, Map<String, String> taskOptions, TrainConfig cfg, Path runDir) {
        if (task.vocabSize() > model.config().vocabSize()) {
            throw new IllegalArgumentException("task " + task.name() + " uses " + task.vocabSize()
                    + " tokens but the model's vocabulary has " + model.config().vocabSize());
        }
        this.model = model;
        this.task = task;
        this.taskOptions = Map.copyOf(taskOptions);
        this.cfg = cfg;
        this.runDir = runDir;
        this.opt = new AdamW(model.parameters(), new WarmupCosine(cfg.lr(), cfg.warmup(), cfg.steps(),
                cfg.minLrRatio()), cfg.beta1(), cfg.beta2(), cfg.eps(), cfg.weightDecay());
    }

    /**
     * Whether each micro-batch's forward and backward run in an ND4J workspace (see the class comment).
     *
     * @return this trainer
     */
    public Trainer useWorkspaces(boolean on) {
        this.workspaces = on;
        return this;
    }

    /** Whether the training steps run in an ND4J workspace. */
    public boolean usesWorkspaces() {
        return workspaces;
    }

    /**
     * Continues the newest checkpoint of {@code runDir}: model, optimizer moments, step and data
     * position, with the run's own settings. Only the total number of steps may change (the cosine
     * schedule then stretches to the new total, so the learning rate moves at the resume point).
     *
     * @param task the run's task (rebuilt from the checkpoint's task record by the caller)
     * @param steps the new total, or 0 to keep the recorded one
     */
    public static Trainer resume(Path runDir, Task task, int steps) throws IOException {
        Path dir = Checkpoints.latest(runDir).orElseThrow(() -> new IOException("no checkpoint in " + runDir
                + "/checkpoints"));
        Checkpoints.Loaded l = Checkpoints.load(dir);
        LanguageModel m = new LanguageModel(l.config());
        Checkpoints.restore(m, l.params());
        TrainConfig cfg = steps > 0 ? l.state().train().withSteps(steps) : l.state().train();
        Trainer t = new Trainer(m, task, l.state().task(), cfg, runDir);
        t.opt.loadState(l.optimizer());
        t.step = l.state().step();
        t.dataIndex = l.state().dataIndex();
        LOG.info("resumed {} at step {}", dir, t.step);
        return t;
    }

    public Trainer addListener(TrainingListener l) {
        listeners.add(l);
        return this;
    }

    public LanguageModel model() {
        return model;
    }

    /** Optimizer steps completed. */
    public int step() {
        return step;
    }

    /** Training losses of the steps run by this object, in order. */
    public List<Double> losses() {
        return List.copyOf(losses);
    }

    /** Thrown when the loss or the gradient stops being finite. */
    public static final class DivergedException extends RuntimeException {
        public DivergedException(String msg) {
            super(msg);
        }
    }

    /** Runs until {@code cfg.steps()} steps are done. */
    public void run() {
        runUntil(cfg.steps());
    }

    /** Runs until {@code untilStep} steps are done (≤ {@code cfg.steps()}). */
    public void runUntil(int untilStep) {
        int last = Math.min(untilStep, cfg.steps());
        long t0 = System.nanoTime();
        long tokens = 0;
        int startStep = step;
        while (step < last) {
            model.zeroGrad();
            double lossSum = 0;
            long correct = 0;
            long count = 0;
            for (int micro = 0; micro < cfg.accumSteps(); micro++) {
                Batch b = task.trainingBatch(dataIndex++, cfg.batchSize());
                tokens += b.inputs().length();
                Loss.Result r;
                if (workspaces) {
                    try (MemoryWorkspace ws = LoopWorkspace.enter(WS_STEP)) {
                        r = trainOn(b);
                    }
                } else {
                    r = trainOn(b);
                }
                lossSum += r.loss();
                correct += r.correct();
                count += r.count();
            }
            double loss = lossSum / cfg.accumSteps();
            double norm = gradNorm();
            if (!Double.isFinite(loss) || !Double.isFinite(norm)) {
                String what = "step " + (step + 1) + ": loss " + loss + ", gradient norm " + norm
                        + "; stopping (the last checkpoint is kept)";
                listeners.forEach(l -> l.onDivergence(step + 1, what));
                throw new DivergedException("training diverged at " + what);
            }
            if (cfg.clipNorm() > 0 && norm > cfg.clipNorm()) {
                double s = cfg.clipNorm() / norm;
                for (Parameter p : model.parameters()) {
                    p.grad().muli(s);
                }
            }
            double lr = opt.learningRate(step);
            opt.step(step);
            step++;
            losses.add(loss);
            double secs = (System.nanoTime() - t0) / 1e9;
            double tps = tokens / Math.max(secs, 1e-9);
            double eta = secs / (step - startStep) * (cfg.steps() - step);
            TrainingListener.StepReport rep = new TrainingListener.StepReport(step, cfg.steps(), loss,
                    count == 0 ? Double.NaN : (double) correct / count, lr, norm, tps, eta);
            if (step % cfg.logEvery() == 0 || step == cfg.steps()) {
                listeners.forEach(l -> l.onStep(rep));
            }
            if ((cfg.evalEvery() > 0 && step % cfg.evalEvery() == 0) || step == cfg.steps()) {
                Evaluator.Result er = Evaluator.evaluate(model, task, cfg.evalBatches(), cfg.batchSize(), 0);
                listeners.forEach(l -> l.onEval(step, er));
            }
            if (runDir != null && ((cfg.checkpointEvery() > 0 && step % cfg.checkpointEvery() == 0)
                    || step == cfg.steps())) {
                checkpoint();
            }
        }
    }

    /** Writes a checkpoint of the current step now. */
    public Path checkpoint() {
        if (runDir == null) {
            throw new IllegalStateException("this trainer has no run directory");
        }
        try {
            Path p = Checkpoints.save(runDir, model, opt.state(), new Checkpoints.TrainerState(Checkpoints.FORMAT,
                    Checkpoints.VERSION, step, dataIndex, cfg, taskOptions), cfg.keepLast());
            listeners.forEach(l -> l.onCheckpoint(step, p));
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint to " + runDir, e);
        }
    }

    /** Forward and backward on one micro-batch (in segments when TBPTT is on); returns its loss. */
    private Loss.Result trainOn(Batch b) {
        int t = (int) b.inputs().size(1);
        int seg = cfg.segmentLen() == 0 ? t : cfg.segmentLen();
        double scale = 1.0 / cfg.accumSteps();
        ModelState state = null;
        double lossSum = 0;
        long correct = 0;
        long count = 0;
        double maskTotal = b.mask().sumNumber().doubleValue();
        for (int s0 = 0; s0 < t; s0 += seg) {
            int s1 = Math.min(t, s0 + seg);
            INDArray in = cut(b.inputs(), s0, s1, seg < t);
            INDArray tg = cut(b.targets(), s0, s1, seg < t);
            INDArray mk = cut(b.mask(), s0, s1, seg < t);
            double segMask = mk.sumNumber().doubleValue();
            LanguageModel.Output out = model.forward(in, state, true);
            Loss.Result r = Loss.crossEntropy(out.logits(), tg, mk, true);
            if (segMask > 0) {
                // per-segment means re-weighted to the mean over the whole sequence's masked tokens
                double w = segMask / Math.max(maskTotal, 1e-12);
                model.backward(out, r.dLogits().muli(scale * w), null);
                lossSum += r.loss() * w;
            }
            correct += r.correct();
            count += r.count();
            state = out.state().detach();
        }
        return new Loss.Result(lossSum, null, correct, count);
    }

    private static INDArray cut(INDArray a, int s0, int s1, boolean needed) {
        return needed ? a.get(NDArrayIndex.all(), NDArrayIndex.interval(s0, s1)).dup('c') : a;
    }

    private double gradNorm() {
        double s = 0;
        for (Parameter p : model.parameters()) {
            double n = p.grad().norm2Number().doubleValue();
            s += n * n;
        }
        return Math.sqrt(s);
    }
}
