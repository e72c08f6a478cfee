package io.mnemo.core.memory;

import java.util.Objects;

/**
 * A memory defined by the four Miras choices (DESIGN.md §1): per token,
 * <pre>
 *   S̃   = retain(S_{t−1}, gate_t)
 *   S_t = S̃ − η_t ∇_S ℓ(S̃ᵀ k_t, v_t)            (one step of the update rule)
 *   o_t = S_tᵀ (scale · q_t)                       (read after write)
 * </pre>
 * For the matrix memory {@code ∇_S ℓ = k ⊗ ∂ℓ/∂pred}, so the dot bias gives {@code S̃ + η k vᵀ} and the
 * L2 bias gives the delta rule {@code S̃ + k (η (v − S̃ᵀk))ᵀ}.
 *
 * @param architecture the memory's form
 * @param bias the inner objective
 * @param retention the forgetting applied before each write
 * @param rule the update rule
 */
public record AssociativeMemory(MemoryArchitecture architecture, AttentionalBias bias, RetentionGate retention,
        UpdateRule rule) {
    public AssociativeMemory {
        Objects.requireNonNull(architecture, "architecture");
        Objects.requireNonNull(bias, "bias");
        Objects.requireNonNull(retention, "retention");
        Objects.requireNonNull(rule, "rule");
    }

    @Override
    public String toString() {
        return architecture + "/" + bias + "/" + retention + "/" + rule;
    }
}
