package io.mnemo.train.optim;

import io.mnemo.core.Parameter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.AdamUpdater;
import org.nd4j.linalg.learning.GradientUpdater;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.schedule.ISchedule;

/**
 * AdamW (Loshchilov &amp; Hutter 2019): ND4J's {@link Adam} updater for the adaptive step, plus decoupled
 * weight decay {@code p ← p − lr_t · wd · p} on matrices (parameters of rank ≥ 2: projections, including the
 * gate projections, and convolution weights; vectors — norm weights, biases, A_log — are not decayed). The moments live in one state array per parameter, exported by
 * {@link #state()} for checkpoints and restored by {@link #loadState} so that a resumed run continues
 * bit for bit.
 */
public final class AdamW {
    private final List<Parameter> params;
    private final ISchedule schedule;
    private final double weightDecay;
    private final List<GradientUpdater<?>> updaters = new ArrayList<>();
    private final List<INDArray> states = new ArrayList<>();

    /**
     * @param params the parameters to update (their grads hold the gradient at {@link #step} time)
     * @param schedule learning rate per step
     */
    public AdamW(List<Parameter> params, ISchedule schedule, double beta1, double beta2, double eps,
            double weightDecay) {
        if (weightDecay < 0) {
            throw new IllegalArgumentException("weightDecay must be >= 0, got " + weightDecay);
        }
        this.params = List.copyOf(params);
        this.schedule = schedule;
        this.weightDecay = weightDecay;
        for (Parameter p : this.params) {
            Adam cfg = new Adam(schedule);
            cfg.setBeta1(beta1);
            cfg.setBeta2(beta2);
            cfg.setEpsilon(eps);
            long n = p.value().length();
            INDArray view = Nd4j.zeros(p.value().dataType(), 1, cfg.stateSize(n));
            AdamUpdater u = new AdamUpdater(cfg);
            u.setStateViewArray(view, new long[] {1, n}, 'c', true);
            updaters.add(u);
            states.add(view);
        }
    }

    /** The learning rate at 0-based step {@code step}. */
    public double learningRate(int step) {
        return schedule.valueAt(step, 0);
    }

    /** One update at 0-based step {@code step}; consumes (overwrites) the gradients. */
    public void step(int step) {
        double lr = learningRate(step);
        for (int i = 0; i < params.size(); i++) {
            Parameter p = params.get(i);
            INDArray g = p.grad().reshape(1, p.grad().length());
            updaters.get(i).applyUpdater(g, step, 0);
            if (weightDecay > 0 && p.value().rank() >= 2) {
                p.value().muli(1 - lr * weightDecay);
            }
            p.value().subi(g.reshape(p.value().shape()));
        }
    }

    /** Optimizer state by parameter name (the Adam moments, {@code [1, 2n]} each). */
    public Map<String, INDArray> state() {
        Map<String, INDArray> m = new LinkedHashMap<>();
        for (int i = 0; i < params.size(); i++) {
            m.put(params.get(i).name(), states.get(i));
        }
        return m;
    }

    /** Restores a state saved by {@link #state()}; every parameter must be present with its shape. */
    public void loadState(Map<String, INDArray> saved) {
        for (int i = 0; i < params.size(); i++) {
            String name = params.get(i).name();
            INDArray s = saved.get(name);
            if (s == null) {
                throw new IllegalArgumentException("optimizer state has no entry for parameter " + name);
            }
            if (s.length() != states.get(i).length()) {
                throw new IllegalArgumentException("optimizer state for " + name + " has " + s.length()
                        + " values, expected " + states.get(i).length());
            }
            states.get(i).assign(s.reshape(states.get(i).shape()));
        }
    }
}
