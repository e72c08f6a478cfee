/**
 * The linear-memory family: a matrix memory {@code S[Dk, Dv]} per head, written once per token and
 * read after the write (docs/ops/linear.md has the full math).
 *
 * <pre>
 *   linear_attn        S = S + k vᵀ                                  Katharopoulos et al. 2020
 *   simple_gla         S = exp(g) S + k vᵀ                           Sun et al. 2023 (RetNet), Yang et al. 2023
 *   gla                S = diag(exp(gk)) S + k vᵀ                    Yang et al. 2023 (GLA)
 *   delta_rule         S = S + k (β (v − Sᵀk))ᵀ                      Schlag et al. 2021, Yang et al. 2024
 *   gated_delta_rule   S̃ = exp(g) S;  S = S̃ + k (β (v − S̃ᵀk))ᵀ       Yang et al. 2024 (Gated DeltaNet)
 *   every op           o = Sᵀ (scale · q)
 * </pre>
 *
 * <p>Each op is a preset of the core components ({@link io.mnemo.modules.linear.LinearOp#memory()}),
 * with three backends: {@link io.mnemo.modules.linear.ReferenceLinearKernel} (the components' generic
 * double-precision recurrence), {@link io.mnemo.modules.linear.CpuLinearKernel} (fused float recurrence,
 * Vector API, checkpointed backward; linear_attn and simple_gla from T = 16 in the chunked form of
 * {@link io.mnemo.modules.linear.CpuChunkedLinearKernel}, small Vector API matrix products, and the delta rules
 * likewise in the WY/UT chunked form of {@link io.mnemo.modules.linear.CpuChunkedDeltaKernel}) and
 * {@link io.mnemo.modules.linear.Nd4jLinearKernel} (chunked form in large ND4J ops). {@link io.mnemo.modules.linear.LinearOps} is the entry point,
 * {@link io.mnemo.modules.linear.LinearStepper} the O(1) generation path and
 * {@link io.mnemo.modules.linear.LinearAttentionBlock} the layer around the memory. Tensor conventions
 * follow flash-linear-attention: {@code [B, T, H, D]}, log decays, scale {@code Dk^-1/2} on q only.
 */
package io.mnemo.modules.linear;
