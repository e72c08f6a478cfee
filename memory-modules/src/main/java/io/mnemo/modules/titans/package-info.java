/**
 * The Titans neural long-term memory as an op (Behrouz, Zhong, Mirrokni, "Titans: Learning to Memorize
 * at Test Time", 2024): per batch element and head a memory {@code M: R^D → R^D} that is trained at test
 * time by gradient descent with momentum and forgetting on the L2 loss {@code ½‖M(k) − v‖²}, and read
 * with queries. docs/modules/titans.md has the full math and every interpretation choice.
 *
 * <pre>
 *   memory   depth 1: M(x) = W x            depth L ≥ 2: M(x) = x + W_L σ(… σ(W_1 x)),  hidden E·D, no biases
 *   chunk    tokens in chunks of C; inner gradients at the chunk-start memory M_0 (mini-batch GD)
 *   write    g_t = ∇_W ½‖M_0(k_t) − v_t‖²  (optionally clamped to norm c over all weights of the head)
 *            S_t = η_t S_{t−1} − θ_t g_t     (without momentum: S_t = −θ_t g_t)
 *            M_t = (1 − α_t) M_{t−1} + S_t
 *   read     PER_TOKEN: y_t = M_t(q_t)  (the paper's form)     COMMITTED: y_t = M_0(q_t)
 *   state    committed memory and momentum + the open chunk's inputs (so pieces == one pass == steps)
 * </pre>
 *
 * <p>{@link io.mnemo.modules.titans.TitansOps} is the entry point (forward, exact backward including the
 * second-order terms, step), with the backends {@link io.mnemo.modules.titans.ReferenceTitansKernel}
 * (double, per-chunk/per-token loops on a reverse-mode tape) and
 * {@link io.mnemo.modules.titans.CpuTitansKernel} (fused float kernel, Vector API, hand-written
 * checkpointed backward); {@link io.mnemo.modules.titans.TitansStepper} is the O(P)-per-token
 * generation path; {@link io.mnemo.modules.titans.TitansOps#read} retrieves without writing. Layers
 * around the memory (projections, convolution, gates; LMM, MAC, MAG, MAL) drive the op with per-token
 * q, k, v and squashed gates and carry a {@link io.mnemo.modules.titans.TitansState}.
 */
package io.mnemo.modules.titans;
