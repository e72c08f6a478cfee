package io.mnemo.modules.memmamba;

import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.mamba.Mamba1Config;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Configuration of a {@link MemMambaStack}, validated on construction (messages name the argument,
 * the expected and the actual value).
 *
 * @param dModel model width D
 * @param layers L, the number of inner MemMamba layers of the stack (≥ 1)
 * @param dState N, the Mamba-1 state size per channel
 * @param expand E, the Mamba-1 expansion (inner width E·D)
 * @param convKernel the Mamba-1 causal convolution width (≥ 2)
 * @param summaryDim Ds, the width of a note summary, {@code 1 ≤ Ds < D}
 * @param poolSize K, the capacity of every layer's note pool (≥ 1)
 * @param tau1 τ₁: a token writes a note when its importance {@code i_t > τ₁}; {@code +∞} disables
 *     writing (the stack is then plain Mamba-1 layers); not NaN
 * @param tau2 τ₂: the cross-token read is on when the state importance {@code j_t > τ₂}; not NaN
 * @param policy what a full pool does with a new note
 * @param crossLayerPeriod p: layer l (0-based) attends to the pools of all earlier layers when
 *     {@code l ≥ 1 and l mod p = p − 1}; p > L − 1 (with p ≥ 2) means no cross-layer attention
 * @param heads heads of the pool attentions; must divide Ds
 * @param backend kernel backend of the Mamba-1 selective scans (the pool loops are plain Java)
 * @param dataType FLOAT, or DOUBLE for gradient checks (then use the REFERENCE backend)
 * @param seed parameter initialisation seed
 */
public record MemMambaConfig(int dModel, int layers, int dState, int expand, int convKernel, int summaryDim,
        int poolSize, double tau1, double tau2, PoolPolicy policy, int crossLayerPeriod, int heads, Backend backend,
        DataType dataType, long seed) {
    /** Chunk size handed to the Mamba-1 scans (only the CPU kernel's checkpointing depends on it). */
    public static final int SCAN_CHUNK = 64;

    public MemMambaConfig {
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(dataType, "dataType");
        positive("dModel", dModel);
        positive("layers", layers);
        positive("dState", dState);
        positive("expand", expand);
        positive("poolSize", poolSize);
        positive("heads", heads);
        positive("crossLayerPeriod", crossLayerPeriod);
        if (convKernel < 2) {
            throw new IllegalArgumentException("convKernel must be >= 2 (4 in Mamba), got " + convKernel);
        }
        if (summaryDim < 1 || summaryDim >= dModel) {
            throw new IllegalArgumentException("summaryDim must satisfy 1 <= summaryDim < dModel=" + dModel
                    + " (a summary is a reduced copy of the token), got " + summaryDim);
        }
        if (summaryDim % heads != 0) {
            throw new IllegalArgumentException("heads=" + heads + " does not divide summaryDim=" + summaryDim);
        }
        if (Double.isNaN(tau1)) {
            throw new IllegalArgumentException("tau1 must be a number (+Infinity disables writing), got NaN");
        }
        if (Double.isNaN(tau2)) {
            throw new IllegalArgumentException("tau2 must be a number (+Infinity disables reading), got NaN");
        }
        if (dataType != DataType.FLOAT && dataType != DataType.DOUBLE) {
            throw new IllegalArgumentException("dataType must be FLOAT or DOUBLE, got " + dataType);
        }
    }

    private static void positive(String name, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(name + " must be > 0, got " + v);
        }
    }

    /**
     * CPU-scale defaults: N = 16, E = 2, conv 4, Ds = max(1, D/2), K = 16, τ₁ = τ₂ = 0 (with the
     * zero-bias initialisation about half of the tokens write and half read), FIFO, p = 2, heads = 2 if
     * they divide Ds (else 1), automatic backend, FLOAT, seed 1234.
     */
    public static MemMambaConfig of(int dModel, int layers) {
        if (dModel < 2) {
            throw new IllegalArgumentException("dModel must be >= 2 (the summary width Ds = D/2 must be >= 1), got "
                    + dModel);
        }
        int ds = Math.max(1, dModel / 2);
        int heads = ds % 2 == 0 ? 2 : 1;
        return new MemMambaConfig(dModel, layers, 16, 2, 4, ds, 16, 0.0, 0.0, PoolPolicy.FIFO, 2, heads,
                Backend.AUTO, DataType.FLOAT, 1234L);
    }

    /** Whether layer {@code l} (0-based) attends to the pools of layers 0..l−1. */
    public boolean crossLayerAt(int l) {
        return l >= 1 && l % crossLayerPeriod == crossLayerPeriod - 1;
    }

    /** The Mamba-1 configuration of inner layer {@code l}: Mamba's Δ defaults, R = ceil(D/16), its own seed. */
    public Mamba1Config mambaConfig(int l) {
        return new Mamba1Config(dModel, dState, convKernel, expand, (dModel + 15) / 16, 1e-3, 0.1, 1e-4, SCAN_CHUNK,
                backend, dataType, seed + 7919L * (l + 1));
    }

    /** Width of one attention head, Ds / heads. */
    public int headDim() {
        return summaryDim / heads;
    }

    public MemMambaConfig withBackend(Backend b) {
        return new MemMambaConfig(dModel, layers, dState, expand, convKernel, summaryDim, poolSize, tau1, tau2,
                policy, crossLayerPeriod, heads, b, dataType, seed);
    }

    public MemMambaConfig withDataType(DataType t) {
        return new MemMambaConfig(dModel, layers, dState, expand, convKernel, summaryDim, poolSize, tau1, tau2,
                policy, crossLayerPeriod, heads, backend, t, seed);
    }

    public MemMambaConfig withThresholds(double t1, double t2) {
        return new MemMambaConfig(dModel, layers, dState, expand, convKernel, summaryDim, poolSize, t1, t2, policy,
                crossLayerPeriod, heads, backend, dataType, seed);
    }

    public MemMambaConfig withPool(int k, PoolPolicy p) {
        return new MemMambaConfig(dModel, layers, dState, expand, convKernel, summaryDim, k, tau1, tau2, p,
                crossLayerPeriod, heads, backend, dataType, seed);
    }

    public MemMambaConfig withSummary(int ds, int h) {
        return new MemMambaConfig(dModel, layers, dState, expand, convKernel, ds, poolSize, tau1, tau2, policy,
                crossLayerPeriod, h, backend, dataType, seed);
    }

    public MemMambaConfig withMamba(int n, int e, int conv) {
        return new MemMambaConfig(dModel, layers, n, e, conv, summaryDim, poolSize, tau1, tau2, policy,
                crossLayerPeriod, heads, backend, dataType, seed);
    }

    public MemMambaConfig withCrossLayerPeriod(int p) {
        return new MemMambaConfig(dModel, layers, dState, expand, convKernel, summaryDim, poolSize, tau1, tau2,
                policy, p, heads, backend, dataType, seed);
    }

    public MemMambaConfig withSeed(long s) {
        return new MemMambaConfig(dModel, layers, dState, expand, convKernel, summaryDim, poolSize, tau1, tau2,
                policy, crossLayerPeriod, heads, backend, dataType, s);
    }
}
