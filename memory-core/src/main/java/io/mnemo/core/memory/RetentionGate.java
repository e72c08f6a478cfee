package io.mnemo.core.memory;

/**
 * How a memory forgets before each write (the "retention gate" of Miras), for a matrix memory
 * {@code S[Dk, Dv]} stored key-major as a flat {@code double[Dk*Dv]}.
 *
 * <p>Gates arrive as <b>log</b> decays, as in flash-linear-attention: a scalar {@code g} per head
 * ({@code S ← exp(g) S}) or a vector {@code gk[Dk]} per head ({@code S[i,:] ← exp(gk[i]) S[i,:]}).
 */
public interface RetentionGate {
    /** What a token supplies to the gate. */
    enum GateShape {
        /** No gate input: the memory is kept as it is. */
        NONE,
        /** One log decay per head and token, {@code g[B, T, H]}. */
        SCALAR,
        /** One log decay per key dimension, {@code gk[B, T, H, Dk]}. */
        PER_KEY
    }

    /** Short name used in configs and messages. */
    String name();

    /** The gate input this retention needs. */
    GateShape gateShape();

    /**
     * Applies the retention in place: {@code S ← retain(S, logGate)}.
     *
     * @param logGate length 1 (scalar), {@code dk} (per key), or unused for {@link GateShape#NONE}
     */
    void apply(double[] s, int dk, int dv, double[] logGate);

    /**
     * Backward of {@link #apply}: given {@code dRetained = ∂L/∂retain(S)} and the state before,
     * writes {@code ∂L/∂S} into {@code dPrev} and accumulates {@code ∂L/∂logGate} into {@code dLogGate}.
     */
    void applyVjp(double[] sPrev, double[] dRetained, int dk, int dv, double[] logGate, double[] dPrev,
            double[] dLogGate);

    /** No forgetting. */
    RetentionGate NONE = new Decay("none", GateShape.NONE);
    /** Scalar decay per head and token, {@code S ← exp(g) S}. */
    RetentionGate SCALAR_DECAY = new Decay("scalar-decay", GateShape.SCALAR);
    /** Vector decay over the key dimension, {@code S ← diag(exp(gk)) S}. */
    RetentionGate VECTOR_DECAY = new Decay("vector-decay", GateShape.PER_KEY);

    /** Multiplicative decay in the three shapes above (an L2-to-previous retention is the same form). */
    final class Decay implements RetentionGate {
        private final String name;
        private final GateShape shape;

        Decay(String name, GateShape shape) {
            this.name = name;
            this.shape = shape;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public GateShape gateShape() {
            return shape;
        }

        private double factor(double[] logGate, int i) {
            return switch (shape) {
                case NONE -> 1.0;
                case SCALAR -> Math.exp(logGate[0]);
                case PER_KEY -> Math.exp(logGate[i]);
            };
        }

        @Override
        public void apply(double[] s, int dk, int dv, double[] logGate) {
            if (shape == GateShape.NONE) {
                return;
            }
            for (int i = 0; i < dk; i++) {
                double a = factor(logGate, i);
                for (int j = 0; j < dv; j++) {
                    s[i * dv + j] *= a;
                }
            }
        }

        @Override
        public void applyVjp(double[] sPrev, double[] dRetained, int dk, int dv, double[] logGate,
                double[] dPrev, double[] dLogGate) {
            for (int i = 0; i < dk; i++) {
                double a = factor(logGate, i);
                double acc = 0;
                for (int j = 0; j < dv; j++) {
                    int ij = i * dv + j;
                    dPrev[ij] = a * dRetained[ij];
                    acc += dRetained[ij] * sPrev[ij];
                }
                // d(exp(g) s)/dg = exp(g) s
                switch (shape) {
                    case NONE -> { }
                    case SCALAR -> dLogGate[0] += a * acc;
                    case PER_KEY -> dLogGate[i] += a * acc;
                }
            }
        }

        @Override
        public String toString() {
            return name;
        }
    }
}
