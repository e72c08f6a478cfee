package io.mnemo.modules.miras;

import io.mnemo.modules.titans.TitansActivation;

/**
 * The named models of the Miras paper (Behrouz et al. 2025, §5) as op configurations: a two-layer MLP
 * memory with residual and expansion 4 (GELU, tanh form), gradient descent, and
 * <ul>
 *   <li>Moneta: Lp bias with p = 3, Lq retention with q = 4 (and a scalar decay);</li>
 *   <li>Yaad: Huber bias with a data-dependent threshold δ_t (coordinate-wise), scalar decay;</li>
 *   <li>Memora: L2 bias, KL retention (softmax-normalised rows).</li>
 * </ul>
 * Each is also buildable by hand from {@link MirasConfig}; these only fix the paper's choices.
 */
public final class MirasPresets {
    private MirasPresets() {}

    /** The smoothing ε of |·| in the Lp bias and the Lq norm. */
    public static final double EPS = 1e-6;

    /** The presets' memory: {@code x + W₂ gelu(W₁ x)} with expansion 4. */
    public static MemoryArchitecture memory() {
        return new MemoryArchitecture.Mlp(4, TitansActivation.GELU_TANH);
    }

    /** Moneta: MLP, Lp (p = 3), Lq (q = 4), GD. */
    public static MirasConfig moneta(int chunkSize) {
        return new MirasConfig(memory(), new AttentionalBias.Lp(3, EPS), new RetentionGate.Lq(4, EPS),
                new UpdateRule.Gd(), chunkSize, false);
    }

    /** Yaad: MLP, coordinate-wise Huber with per-token δ_t, scalar decay, GD. */
    public static MirasConfig yaad(int chunkSize) {
        return new MirasConfig(memory(), AttentionalBias.Huber.perToken(AttentionalBias.Huber.Mode.COORDINATE),
                new RetentionGate.ScalarDecay(), new UpdateRule.Gd(), chunkSize, false);
    }

    /** Memora: MLP, L2, KL on the simplex (row sum 1), GD. */
    public static MirasConfig memora(int chunkSize) {
        return new MirasConfig(memory(), new AttentionalBias.L2(), new RetentionGate.Kl(1), new UpdateRule.Gd(),
                chunkSize, false);
    }
}
