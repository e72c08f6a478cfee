package io.mnemo.modules.linear;

import io.mnemo.core.memory.AssociativeMemory;
import io.mnemo.core.memory.AttentionalBias;
import io.mnemo.core.memory.MemoryArchitecture;
import io.mnemo.core.memory.RetentionGate;
import io.mnemo.core.memory.UpdateRule;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The five ops of the linear-memory family, each a preset of the core components (DESIGN.md §1) and
 * named after flash-linear-attention's ops so that their inputs and outputs can be compared:
 *
 * <table>
 *   <caption>write rule per token, state {@code S[Dk, Dv]}</caption>
 *   <tr><th>op</th><th>inputs besides q, k, v</th><th>write</th></tr>
 *   <tr><td>linear_attn</td><td>—</td><td>{@code S = S + k vᵀ}</td></tr>
 *   <tr><td>simple_gla</td><td>{@code g[B,T,H]}</td><td>{@code S = exp(g) S + k vᵀ}</td></tr>
 *   <tr><td>gla</td><td>{@code gk[B,T,H,Dk]}</td><td>{@code S = diag(exp(gk)) S + k vᵀ}</td></tr>
 *   <tr><td>delta_rule</td><td>{@code beta[B,T,H]}</td><td>{@code S = S + k (β(v − Sᵀk))ᵀ}</td></tr>
 *   <tr><td>gated_delta_rule</td><td>{@code g, beta}</td><td>{@code S̃ = exp(g) S;  S = S̃ + k (β(v − S̃ᵀk))ᵀ}</td></tr>
 * </table>
 * Every op reads after the write: {@code o_t = S_tᵀ (scale · q_t)}.
 */
public enum LinearOp {
    LINEAR_ATTN("linear_attn", RetentionGate.NONE, AttentionalBias.DOT, UpdateRule.GD),
    SIMPLE_GLA("simple_gla", RetentionGate.SCALAR_DECAY, AttentionalBias.DOT, UpdateRule.GD),
    GLA("gla", RetentionGate.VECTOR_DECAY, AttentionalBias.DOT, UpdateRule.GD),
    DELTA_RULE("delta_rule", RetentionGate.NONE, AttentionalBias.L2, UpdateRule.GD_BETA),
    GATED_DELTA_RULE("gated_delta_rule", RetentionGate.SCALAR_DECAY, AttentionalBias.L2, UpdateRule.GD_BETA);

    private final String opName;
    private final AssociativeMemory memory;

    LinearOp(String opName, RetentionGate retention, AttentionalBias bias, UpdateRule rule) {
        this.opName = opName;
        this.memory = new AssociativeMemory(MemoryArchitecture.MATRIX, bias, retention, rule);
    }

    /** The op's name as in flash-linear-attention and {@code mnemo op}, e.g. {@code "gated_delta_rule"}. */
    public String opName() {
        return opName;
    }

    /** The op as a composition of the four core components. */
    public AssociativeMemory memory() {
        return memory;
    }

    /** True when the op takes a scalar log decay {@code g[B, T, H]}. */
    public boolean scalarGate() {
        return memory.retention().gateShape() == RetentionGate.GateShape.SCALAR;
    }

    /** True when the op takes a per-key log decay {@code gk[B, T, H, Dk]}. */
    public boolean vectorGate() {
        return memory.retention().gateShape() == RetentionGate.GateShape.PER_KEY;
    }

    /** True for the delta rules (L2 bias with step size {@code beta[B, T, H]}). */
    public boolean delta() {
        return memory.bias() == AttentionalBias.L2;
    }

    /** Looks an op up by its name; the message lists the valid names. */
    public static LinearOp byName(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        for (LinearOp op : values()) {
            if (op.opName.equals(n)) {
                return op;
            }
        }
        throw new IllegalArgumentException("unknown linear op '" + name + "', expected one of "
                + Arrays.stream(values()).map(LinearOp::opName).collect(Collectors.joining(", ")));
    }

    /** The op whose specialised kernels implement {@code memory}, or an exception naming the components. */
    public static LinearOp of(AssociativeMemory memory) {
        for (LinearOp op : values()) {
            if (op.memory.equals(memory)) {
                return op;
            }
        }
        throw new IllegalArgumentException("no linear-family kernel for " + memory);
    }
}
