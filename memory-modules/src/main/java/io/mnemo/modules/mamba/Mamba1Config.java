package io.mnemo.modules.mamba;

import io.mnemo.core.kernel.Backend;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Configuration of {@link Mamba1Block}, validated on construction. Names follow mamba_ssm's
 * {@code Mamba} module ({@code d_model, d_state, d_conv, expand, dt_rank, dt_min, dt_max, dt_init_floor}).
 *
 * @param dModel model width D
 * @param dState N, the state size per channel (16 in Mamba)
 * @param convKernel width of the causal depthwise convolution (4 in Mamba), ≥ 2
 * @param expand E; the inner width is {@code E·D} (2 in Mamba)
 * @param dtRank R, the rank of the Δ projection ({@code ceil(D / 16)} in Mamba)
 * @param dtMin smallest initial Δ (1e-3)
 * @param dtMax largest initial Δ (0.1)
 * @param dtInitFloor initial Δ is clamped below at this value (1e-4)
 * @param chunkSize chunk size passed to the scan
 * @param backend kernel backend of the scan
 * @param dataType FLOAT, or DOUBLE for gradient checks (then use the reference backend)
 * @param seed parameter initialisation seed
 */
public record Mamba1Config(int dModel, int dState, int convKernel, int expand, int dtRank, double dtMin, double dtMax,
        double dtInitFloor, int chunkSize, Backend backend, DataType dataType, long seed) {
    public Mamba1Config {
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(dataType, "dataType");
        if (dModel <= 0 || dState <= 0 || expand <= 0 || dtRank <= 0) {
            throw new IllegalArgumentException("dModel=" + dModel + ", dState=" + dState + ", expand=" + expand
                    + ", dtRank=" + dtRank + ": all must be > 0");
        }
        if (convKernel < 2) {
            throw new IllegalArgumentException("convKernel must be >= 2 (4 in Mamba), got " + convKernel);
        }
        if (!(dtMin > 0 && dtMax >= dtMin && Double.isFinite(dtMax))) {
            throw new IllegalArgumentException("need 0 < dtMin <= dtMax, got dtMin=" + dtMin + ", dtMax=" + dtMax);
        }
        if (!(dtInitFloor >= 0)) {
            throw new IllegalArgumentException("dtInitFloor must be >= 0, got " + dtInitFloor);
        }
        if (chunkSize <= 0) {
            throw new IllegalArgumentException("chunkSize must be > 0, got " + chunkSize);
        }
        if (dataType != DataType.FLOAT && dataType != DataType.DOUBLE) {
            throw new IllegalArgumentException("dataType must be FLOAT or DOUBLE, got " + dataType);
        }
    }

    /** Mamba's defaults: N = 16, conv 4, E = 2, R = ceil(D/16), Δ in [1e-3, 0.1], automatic backend, FLOAT. */
    public static Mamba1Config of(int dModel) {
        if (dModel <= 0) {
            throw new IllegalArgumentException("dModel must be > 0, got " + dModel);
        }
        return new Mamba1Config(dModel, 16, 4, 2, (dModel + 15) / 16, 1e-3, 0.1, 1e-4, 64, Backend.AUTO,
                DataType.FLOAT, 1234L);
    }

    /** The inner width {@code E·D}. */
    public int dInner() {
        return expand * dModel;
    }

    public Mamba1Config withBackend(Backend b) {
        return new Mamba1Config(dModel, dState, convKernel, expand, dtRank, dtMin, dtMax, dtInitFloor, chunkSize, b,
                dataType, seed);
    }

    public Mamba1Config withDataType(DataType t) {
        return new Mamba1Config(dModel, dState, convKernel, expand, dtRank, dtMin, dtMax, dtInitFloor, chunkSize,
                backend, t, seed);
    }

    public Mamba1Config withDState(int n) {
        return new Mamba1Config(dModel, n, convKernel, expand, dtRank, dtMin, dtMax, dtInitFloor, chunkSize, backend,
                dataType, seed);
    }

    public Mamba1Config withDtRank(int r) {
        return new Mamba1Config(dModel, dState, convKernel, expand, r, dtMin, dtMax, dtInitFloor, chunkSize, backend,
                dataType, seed);
    }

    public Mamba1Config withChunkSize(int c) {
        return new Mamba1Config(dModel, dState, convKernel, expand, dtRank, dtMin, dtMax, dtInitFloor, c, backend,
                dataType, seed);
    }

    public Mamba1Config withSeed(long s) {
        return new Mamba1Config(dModel, dState, convKernel, expand, dtRank, dtMin, dtMax, dtInitFloor, chunkSize,
                backend, dataType, s);
    }
}
