package io.mnemo.core.memory;

/**
 * The form of the memory (Miras' "memory architecture"). The linear family uses the matrix memory
 * {@code M(k) = Sᵀ k} with {@code S[Dk, Dv]}; deep (MLP) memories extend this interface.
 */
public interface MemoryArchitecture {
    /** Short name used in configs and messages. */
    String name();

    /** A matrix {@code S[Dk, Dv]} read as {@code Sᵀ q}. */
    MemoryArchitecture MATRIX = new MemoryArchitecture() {
        @Override
        public String name() {
            return "matrix";
        }

        @Override
        public String toString() {
            return name();
        }
    };
}
