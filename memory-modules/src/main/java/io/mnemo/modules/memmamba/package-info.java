/**
 * MemMamba (Wang, Chen, Yan, Lu, Sun 2025, "MemMamba: Rethinking Memory Patterns in State Space
 * Model", arXiv:2510.03279): Mamba-1 layers plus a note block that writes reduced summaries of
 * important tokens into a fixed-size per-layer pool, a gated cross-token attention from each token to
 * its layer's pool and, every p layers, a cross-layer attention over the earlier layers' pools.
 *
 * <pre>
 *   per layer l, token t:   u = RMSNorm_mem(x_t);  i = w_imp·u + b_imp;  j = w_st·u + b_st
 *                           s = σ(i) (u W_sum)                         written into P^l iff i &gt; τ₁
 *                           c = MHA(u W_q | P^l before t) W_o,  g = σ(j) 1[j &gt; τ₂]
 *                           e = MHA(u W_qx | ∪_{l'&lt;l} P^{l'} after t) W_ox   if l ≥ 1, l mod p = p−1
 *                           x' = x + g c + e;   x ← x + Mamba1(RMSNorm(x'))
 *   output                  y = x^L − x⁰
 * </pre>
 *
 * <p>{@link io.mnemo.modules.memmamba.MemMambaStack} is the mixer, configured by
 * {@link io.mnemo.modules.memmamba.MemMambaConfig}; its state {@link io.mnemo.modules.memmamba.MemMambaState}
 * holds one {@link io.mnemo.modules.memmamba.NotePool} and one Mamba-1 state per layer. No public
 * implementation of the paper exists; docs/modules/memmamba.md lists every interpretation choice.
 */
package io.mnemo.modules.memmamba;
