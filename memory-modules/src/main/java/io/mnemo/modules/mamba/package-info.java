/**
 * Mamba-1: the selective scan (S6) and the Mamba block (Gu and Dao 2023, "Mamba: Linear-Time Sequence
 * Modeling with Selective State Spaces"); docs/ops/mamba.md has the full math.
 *
 * <p>Semantics are those of mamba_ssm's {@code selective_scan_ref}
 * (mamba_ssm/ops/selective_scan_interface.py), plus an initial state: for batch element b, channel d,
 * <pre>
 *   Δ_t   = softplus(delta[b,d,t] + delta_bias[d])          (softplus only if delta_softplus)
 *   h_t   = exp(Δ_t A[d,:]) ⊙ h_{t−1} + Δ_t u[b,d,t] B_t    (Euler input term, no exact ZOH)
 *   out_t = (⟨C_t, h_t⟩ + D[d] u[b,d,t]) · silu(z[b,d,t])
 * </pre>
 * with u, delta, z, out {@code [B, D, L]}; A {@code [D, N]}; B, C shared {@code [D, N]}, input-dependent
 * {@code [B, N, L]} or grouped {@code [B, G, N, L]} (channel d reads group {@code d / (D / G)}); state
 * {@code [B, D, N]}.
 *
 * <ul>
 *   <li>{@link io.mnemo.modules.mamba.SelectiveScan}: the op (forward, backward, step) behind
 *       {@link io.mnemo.modules.mamba.SelectiveScanKernel}, with the backends
 *       {@link io.mnemo.modules.mamba.ReferenceSelectiveScanKernel} (double, per token),
 *       {@link io.mnemo.modules.mamba.CpuSelectiveScanKernel} (float, fused, checkpointed backward) and
 *       {@link io.mnemo.modules.mamba.Nd4jSelectiveScanKernel} (chunked form in ND4J ops).
 *   <li>{@link io.mnemo.modules.mamba.Mamba1Block}: the {@link io.mnemo.core.Mixer} around it.
 * </ul>
 */
package io.mnemo.modules.mamba;
