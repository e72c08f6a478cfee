package io.mnemo.modules.mamba;

import io.mnemo.core.kernel.Backend;
import java.util.Objects;

/**
 * How to run a selective scan.
 *
 * @param deltaSoftplus apply softplus to {@code delta + delta_bias} ({@code delta_softplus} of
 *     mamba_ssm's {@code selective_scan_ref}; false there by default, true in the Mamba block)
 * @param backend implementation; {@link Backend#AUTO} picks the fastest for the ND4J backend
 * @param chunkSize tokens per chunk of the nd4j chunked form and per checkpoint of the cpu backward;
 *     any value gives the same result up to rounding
 * @param checkFinite reject NaN/Inf inputs with a message naming the input
 */
public record SelectiveScanConfig(boolean deltaSoftplus, Backend backend, int chunkSize, boolean checkFinite) {
    public SelectiveScanConfig {
        Objects.requireNonNull(backend, "backend");
        if (chunkSize <= 0) {
            throw new IllegalArgumentException("chunkSize must be > 0, got " + chunkSize);
        }
    }

    /** Defaults as {@code selective_scan_ref}: no softplus; automatic backend, chunk 64, no finiteness check. */
    public static SelectiveScanConfig of() {
        return new SelectiveScanConfig(false, Backend.AUTO, 64, false);
    }

    public SelectiveScanConfig withDeltaSoftplus(boolean s) {
        return new SelectiveScanConfig(s, backend, chunkSize, checkFinite);
    }

    public SelectiveScanConfig withBackend(Backend b) {
        return new SelectiveScanConfig(deltaSoftplus, b, chunkSize, checkFinite);
    }

    public SelectiveScanConfig withChunkSize(int c) {
        return new SelectiveScanConfig(deltaSoftplus, backend, c, checkFinite);
    }

    public SelectiveScanConfig withCheckFinite(boolean c) {
        return new SelectiveScanConfig(deltaSoftplus, backend, chunkSize, c);
    }
}
