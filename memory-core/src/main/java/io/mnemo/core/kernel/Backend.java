package io.mnemo.core.kernel;

import java.util.Locale;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The three implementations every memory op has (DESIGN.md §2, item 2).
 *
 * <ul>
 *   <li>{@link #REFERENCE}: plain per-token loops in double precision; the ground truth for tests.
 *   <li>{@link #CPU}: fused Java kernels (Vector API where available) with hand-written backward
 *       passes; the fast path on CPU.
 *   <li>{@link #ND4J}: chunked forms written as large ND4J ops; runs on any ND4J backend, and is the
 *       only path used on CUDA.
 * </ul>
 *
 * <p>{@link #AUTO} resolves to {@code ND4J} on a CUDA backend and to {@code CPU} otherwise. The
 * system property {@code mnemo.backend} (or the environment variable {@code MNEMO_BACKEND}) overrides
 * the automatic choice.
 */
public enum Backend {
    AUTO, REFERENCE, CPU, ND4J;

    private static final Logger LOG = LoggerFactory.getLogger(Backend.class);

    /** Parses a backend name, case-insensitively; the message lists the valid names. */
    public static Backend parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown backend '" + name
                    + "', expected one of auto, reference, cpu, nd4j", e);
        }
    }

    /** Resolves {@link #AUTO} (after the override) to a concrete backend; others return themselves. */
    public Backend resolve() {
        if (this != AUTO) {
            return this;
        }
        String o = System.getProperty("mnemo.backend", System.getenv("MNEMO_BACKEND"));
        if (o != null && !o.isBlank()) {
            Backend b = parse(o);
            if (b != AUTO) {
                return b;
            }
        }
        return onCuda() ? ND4J : CPU;
    }

    private static volatile Boolean cuda;

    /** True when ND4J runs on its CUDA backend. */
    public static boolean onCuda() {
        Boolean c = cuda;
        if (c == null) {
            String name = Nd4j.getBackend().getClass().getName().toLowerCase(Locale.ROOT);
            c = name.contains("cuda") || name.contains("cublas");
            cuda = c;
            LOG.debug("ND4J backend {} (cuda={})", name, c);
        }
        return c;
    }
}
