package io.mnemo.modules.miras;

import java.util.Objects;

/**
 * A Miras memory: the four choices of Behrouz et al. 2025 ("It's All Connected") and the chunk size
 * of the chunked (mini-batch) training form. Run it with {@link MirasOps}.
 *
 * @param architecture the memory's form (linear matrix, MLP, or a user's)
 * @param bias the attentional bias (inner objective)
 * @param retention the retention gate
 * @param rule the memory learning rule
 * @param chunkSize tokens per chunk C ≥ 1: inner gradients are taken at the chunk-start memory (a model
 *     hyper-parameter, as in Titans; C = 1 is the per-token recurrence)
 * @param checkInputs reject NaN/Inf inputs and gates outside their ranges (θ ≥ 0, η and decay in [0, 1])
 */
public record MirasConfig(MemoryArchitecture architecture, AttentionalBias bias, RetentionGate retention,
        UpdateRule rule, int chunkSize, boolean checkInputs) {
    public MirasConfig {
        Objects.requireNonNull(architecture, "architecture");
        Objects.requireNonNull(bias, "bias");
        Objects.requireNonNull(retention, "retention");
        Objects.requireNonNull(rule, "rule");
        if (chunkSize <= 0) {
            throw new IllegalArgumentException("chunkSize must be > 0, got chunkSize=" + chunkSize);
        }
    }

    /** The four choices with chunk size 1 and no input checks. */
    public static MirasConfig of(MemoryArchitecture architecture, AttentionalBias bias, RetentionGate retention,
            UpdateRule rule) {
        return new MirasConfig(architecture, bias, retention, rule, 1, false);
    }

    public MirasConfig withChunkSize(int c) {
        return new MirasConfig(architecture, bias, retention, rule, c, checkInputs);
    }

    public MirasConfig withCheckInputs(boolean c) {
        return new MirasConfig(architecture, bias, retention, rule, chunkSize, c);
    }

    /** The weight layout of one head, checked against the retention (a per-key decay needs one layer). */
    public MemoryShape shape(int dk, int dv) {
        MemoryShape s = architecture.shape(dk, dv);
        if (retention.gateShape() == RetentionGate.GateShape.PER_KEY && (s.depth() != 1 || s.cols(0) != dk)) {
            throw new IllegalArgumentException("retention " + retention.name() + " decays the key columns of a "
                    + "single-layer memory [Dv, Dk]; architecture " + architecture.name() + " has " + s);
        }
        return s;
    }

    @Override
    public String toString() {
        return "Miras[" + architecture.name() + "/" + bias.name() + "/" + retention.name() + "/" + rule.name() + ", C="
                + chunkSize + "]";
    }
}
