package io.mnemo.modules.memmamba;

import java.util.Locale;

/**
 * What a full note pool does with a new summary (MemMamba's note block, "FIFO or priority replacement").
 * Pools keep their entries in write order (oldest first); the order only matters for eviction.
 */
public enum PoolPolicy {
    /** Evict the oldest entry; every write is accepted. */
    FIFO,
    /**
     * Evict the entry with the lowest importance score if the new summary's score is strictly higher
     * (ties between stored entries: the oldest of them goes); otherwise drop the new summary. A
     * PRIORITY pool therefore holds the K most important summaries written so far.
     */
    PRIORITY;

    /** Parses a policy name case-insensitively; the message lists the valid names. */
    public static PoolPolicy parse(String name) {
        if (name == null) {
            throw new IllegalArgumentException("pool policy is missing, expected one of fifo, priority");
        }
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown pool policy '" + name + "', expected one of fifo, priority",
                    e);
        }
    }
}
