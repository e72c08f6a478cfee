package io.mnemo.train.model;

import java.util.List;
import java.util.Objects;

/**
 * A language model: token embedding, {@code layers.size()} pre-norm blocks
 * ({@code x + mixer(RMSNorm(x))}, then {@code x + SwiGLU(RMSNorm(x))}), a final RMSNorm and the LM head.
 * Round-trips through JSON (Jackson) as {@code config.json} of a run.
 *
 * @param vocabSize V
 * @param dModel D
 * @param layers one mixer per layer; hybrids mix types
 * @param mlpMult SwiGLU hidden width as a multiple of D (0 = no MLP)
 * @param tieEmbeddings use the embedding matrix as the LM head
 * @param seed parameter initialisation seed
 */
public record ModelConfig(int vocabSize, int dModel, List<MixerSpec> layers, double mlpMult, boolean tieEmbeddings,
        long seed) {
    public ModelConfig {
        if (vocabSize <= 1) {
            throw new IllegalArgumentException("vocabSize must be > 1, got " + vocabSize);
        }
        if (dModel <= 0) {
            throw new IllegalArgumentException("dModel must be > 0, got " + dModel);
        }
        Objects.requireNonNull(layers, "layers");
        if (layers.isEmpty()) {
            throw new IllegalArgumentException("layers is empty; a model needs at least one mixer");
        }
        layers = List.copyOf(layers);
        for (int i = 0; i < layers.size(); i++) {
            MixerSpec m = layers.get(i);
            if (dModel % m.heads() != 0) {
                throw new IllegalArgumentException("layer " + i + ": heads=" + m.heads() + " does not divide dModel="
                        + dModel);
            }
            Mixers.validate(m);
        }
        if (mlpMult < 0 || Double.isNaN(mlpMult)) {
            throw new IllegalArgumentException("mlpMult must be >= 0, got " + mlpMult);
        }
    }

    /** SwiGLU hidden width: {@code mlpMult · D} rounded to a multiple of 8 (0 when mlpMult = 0). */
    public int mlpHidden() {
        if (mlpMult == 0) {
            return 0;
        }
        return Math.max(8, (int) Math.round(mlpMult * dModel / 8.0) * 8);
    }
}
