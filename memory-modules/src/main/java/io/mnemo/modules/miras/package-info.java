/**
 * Miras: memories defined by four choices — architecture × attentional bias × retention gate × update
 * rule (Behrouz, Razaviyayn, Zhong, Mirrokni 2025, "It's All Connected: A Journey Through Test-Time
 * Memorization, Attentional Bias, Retention, and Online Optimization"), with Moneta, Yaad and Memora as
 * presets. Per head, for each chunk of C tokens with carried retention state {@code A_0} and rule state
 * {@code S_0}:
 * <pre>
 *   W_0 = map(A_0)                                       (elastic net: W_0 = A_0)
 *   g_t = ∇_W ℓ(M_{W_0}(k_t), v_t; param_t)               inner gradient at the chunk start
 *   (U_t, S_t) = rule(S_{t−1}, g_t; θ_t, η_t)              e.g. U = −θ g, or momentum S = η S − θ g, U = S
 *   A_t = retain(A_{t−1}; decay_t) + U_t
 *   y_t = M_{map(A_t)}(q_t)
 * </pre>
 * committed at full chunks. {@link io.mnemo.modules.miras.MirasOps} runs any composition with an exact
 * backward built from the components' own derivatives; {@link io.mnemo.modules.miras.MirasComponents} names
 * them for configs; {@link io.mnemo.modules.miras.MirasBlock} is the layer. See docs/modules/miras.md.
 */
package io.mnemo.modules.miras;
