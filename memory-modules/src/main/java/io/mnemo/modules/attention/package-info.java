/**
 * Causal softmax attention: the recall upper bound of every comparison and the attention part of the hybrids
 * (Titans MAC/MAG/MAL, MemMamba). docs/ops/attention.md has the full math.
 *
 * <pre>
 *   q [B,Tq,H,Dk], k [B,Tk,H,Dk], v [B,Tk,H,Dv],  Tk = P + Tq  (the first P keys: the KV cache)
 *   query i at absolute position a = P + i sees key j  iff  j ≤ a  and  (w = 0  or  j > a − w  or  j < G)
 *   s_ij = scale · q_i·k_j  (scale = Dk^-1/2 by default)
 *   o_i  = Σ_j softmax_j(s_ij) v_j,   lse_i = log Σ_j exp(s_ij)   (saved for the backward)
 * </pre>
 * Vaswani et al. 2017 (attention), Dao et al. 2022 / Dao 2023 (FlashAttention 1/2: online softmax, lse-based
 * backward), Su et al. 2021 (RoPE, GPT-NeoX half-split layout in {@link io.mnemo.modules.attention.Rope}),
 * Beltagy et al. 2020 / Jiang et al. 2023 (sliding window), Xiao et al. 2023 (attention sinks: the G globally
 * visible keys), Behrouz et al. 2024 (Titans persistent tokens). The window convention equals flash-attention's
 * {@code window_size = (w − 1, 0)} with its bottom-right aligned causal mask.
 *
 * <p>Backends: {@link io.mnemo.modules.attention.ReferenceAttentionKernel} (double, materialised softmax rows),
 * {@link io.mnemo.modules.attention.CpuAttentionKernel} (float, streaming softmax, Vector API, O(Tq·(w+G)) when
 * windowed) and {@link io.mnemo.modules.attention.Nd4jAttentionKernel} (batched matmuls per query block, the CUDA
 * path), chosen with {@link io.mnemo.core.kernel.Backend} through
 * {@link io.mnemo.modules.attention.AttentionOps}. {@link io.mnemo.modules.attention.KvCache} is the immutable
 * generation state and {@link io.mnemo.modules.attention.AttentionBlock} the {@link io.mnemo.core.Mixer}.
 */
package io.mnemo.modules.attention;
