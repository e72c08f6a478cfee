package io.mnemo.core;

/**
 * The state a mixer carries between calls (a memory matrix, momentum, conv buffers, a KV cache…).
 *
 * <p>States are immutable from the caller's point of view: {@code forward} and {@code step} return
 * a new state and never modify the one they were given.
 */
public interface MemoryState {
    /** A deep copy whose arrays share nothing with this one. */
    MemoryState copy();

    /**
     * The same values, cut from the gradient history: the next {@code backward} will not propagate
     * into the computation that produced this state (truncated back-propagation through time).
     */
    MemoryState detach();
}
