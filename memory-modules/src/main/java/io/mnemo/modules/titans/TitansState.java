package io.mnemo.modules.titans;

import io.mnemo.core.Shapes;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * What the Titans op carries between calls: the memory and momentum committed at the last chunk
 * boundary, and the inputs of the open (incomplete) chunk, whose update is not committed yet.
 * A gradient with respect to a state has the same form ({@link TitansGrads#dInitialState()}).
 *
 * <p>A block with a learned initial memory tiles its parameter {@code [H, ...]} into {@code memory}
 * ({@code [B, H, ...]}) and sums the gradient of {@code memory} over B.
 *
 * @param memory one array per layer l, {@code [B, H, rows(l), cols(l)]} (see {@link MemoryLayout}); the
 *     memory reads {@code W_l x}. In a gradient (dFinalState) a layer may be null for zeros
 * @param momentum like {@code memory}; null when the op runs without momentum
 * @param bufK keys of the open chunk {@code [B, n, H, D]} with {@code 0 < n < C}; null when n = 0
 * @param bufV values of the open chunk {@code [B, n, H, D]}; null when n = 0
 * @param bufTheta θ of the open chunk {@code [B, n, H]}; null when n = 0
 * @param bufEta η of the open chunk {@code [B, n, H]}; null when n = 0 or without momentum
 * @param bufAlpha α of the open chunk {@code [B, n, H]}; null when n = 0
 */
public record TitansState(List<INDArray> memory, List<INDArray> momentum, INDArray bufK, INDArray bufV,
        INDArray bufTheta, INDArray bufEta, INDArray bufAlpha) {
    public TitansState {
        if (memory == null || memory.isEmpty()) {
            throw new IllegalArgumentException("memory is missing: expected one [B, H, rows, cols] array per layer");
        }
        // unmodifiable copies that allow null layers (a gradient may leave a layer out for zeros)
        memory = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(memory));
        momentum = momentum == null ? null : java.util.Collections.unmodifiableList(new java.util.ArrayList<>(momentum));
    }

    /** Memory {@code [B, H, …]} per layer with zero momentum (if {@code cfg} uses momentum) and an empty buffer. */
    public static TitansState ofMemory(TitansOpConfig cfg, List<INDArray> memory) {
        if (!cfg.momentum()) {
            return new TitansState(memory, null, null, null, null, null, null);
        }
        List<INDArray> mom = memory.stream().map(a -> Nd4j.zeros(a.dataType(), a.shape())).toList();
        return new TitansState(memory, mom, null, null, null, null, null);
    }

    /**
     * A learned initial memory shared by the batch: each layer {@code [H, rows, cols]} is copied to
     * {@code [B, H, rows, cols]}; zero momentum (if {@code cfg} uses it), empty buffer. The gradient of
     * the shared parameter is {@link #sumOverBatch} of {@code dInitialState.memory()}.
     */
    public static TitansState tiled(TitansOpConfig cfg, List<INDArray> perHead, int batch) {
        Shapes.requirePositive("batch", batch);
        List<INDArray> mem = new java.util.ArrayList<>();
        for (int l = 0; l < perHead.size(); l++) {
            INDArray w = Shapes.requireRank("memory[" + l + "]", perHead.get(l), "[H, rows, cols]", 3);
            long[] s = w.shape();
            mem.add(w.reshape(1, s[0], s[1], s[2]).broadcast(batch, s[0], s[1], s[2]).dup('c'));
        }
        return ofMemory(cfg, mem);
    }

    /** Sums each layer {@code [B, H, rows, cols]} over B: the gradient of a memory shared by the batch. */
    public static List<INDArray> sumOverBatch(List<INDArray> perBatch) {
        return perBatch.stream().map(a -> a == null ? null : a.sum(0)).toList();
    }

    /** Zero memory and momentum, empty buffer (what a null initial state means). */
    public static TitansState zeros(TitansOpConfig cfg, int b, int h, int d, DataType type) {
        MemoryLayout m = cfg.layout(d);
        List<INDArray> mem = new java.util.ArrayList<>();
        for (int l = 0; l < m.depth(); l++) {
            mem.add(Nd4j.zeros(type, b, h, m.rows(l), m.cols(l)));
        }
        return ofMemory(cfg, mem);
    }

    /** Number of buffered tokens n of the open chunk. */
    public int buffered() {
        return bufK == null ? 0 : (int) bufK.size(1);
    }

    /**
     * Checks every array against the sizes and the config; returns the number of buffered tokens.
     *
     * @param name argument name for the messages, e.g. {@code "initial_state"}
     */
    int validate(String name, TitansOpConfig cfg, int b, int h, int d, DataType type, boolean checkFinite) {
        MemoryLayout m = cfg.layout(d);
        checkLayers(name + ".memory", memory, m, b, h, type);
        if (cfg.momentum() && momentum == null) {
            throw new IllegalArgumentException(name + ".momentum is missing but the op runs with momentum");
        }
        if (!cfg.momentum() && momentum != null) {
            throw new IllegalArgumentException(name + ".momentum was given but the op runs without momentum");
        }
        if (momentum != null) {
            checkLayers(name + ".momentum", momentum, m, b, h, type);
        }
        int n = buffered();
        if (n == 0) {
            if (bufK != null || bufV != null || bufTheta != null || bufEta != null || bufAlpha != null) {
                throw new IllegalArgumentException(name + ": an empty buffer must have all buffer arrays null");
            }
        } else {
            if (n >= cfg.chunkSize()) {
                throw new IllegalArgumentException(name + ".bufK holds " + n + " tokens, expected fewer than chunkSize="
                        + cfg.chunkSize());
            }
            Shapes.require(name + ".bufK", bufK, "[B, n, H, D]", b, n, h, d);
            Shapes.require(name + ".bufV", bufV, "[B, n, H, D]", b, n, h, d);
            Shapes.require(name + ".bufTheta", bufTheta, "[B, n, H]", b, n, h);
            Shapes.require(name + ".bufAlpha", bufAlpha, "[B, n, H]", b, n, h);
            if (cfg.momentum()) {
                Shapes.require(name + ".bufEta", bufEta, "[B, n, H]", b, n, h);
            } else if (bufEta != null) {
                throw new IllegalArgumentException(name + ".bufEta was given but the op runs without momentum");
            }
            for (INDArray a : new INDArray[] {bufK, bufV, bufTheta, bufEta, bufAlpha}) {
                requireType(name + " buffer", a, type);
            }
        }
        if (checkFinite) {
            for (int l = 0; l < memory.size(); l++) {
                Shapes.requireFinite(name + ".memory[" + l + "]", memory.get(l));
                if (momentum != null) {
                    Shapes.requireFinite(name + ".momentum[" + l + "]", momentum.get(l));
                }
            }
            Shapes.requireFinite(name + ".bufK", bufK);
            Shapes.requireFinite(name + ".bufV", bufV);
            TitansInputs.checkGateRange(name + ".bufTheta", bufTheta, 0, Double.POSITIVE_INFINITY);
            TitansInputs.checkGateRange(name + ".bufEta", bufEta, 0, 1);
            TitansInputs.checkGateRange(name + ".bufAlpha", bufAlpha, 0, 1);
        }
        return n;
    }

    private static void checkLayers(String name, List<INDArray> layers, MemoryLayout m, int b, int h, DataType type) {
        if (layers.size() != m.depth()) {
            throw new IllegalArgumentException(name + " has " + layers.size() + " layers, expected depth=" + m.depth());
        }
        for (int l = 0; l < m.depth(); l++) {
            Shapes.require(name + "[" + l + "]", layers.get(l), "[B, H, rows, cols]", b, h, m.rows(l), m.cols(l));
            requireType(name + "[" + l + "]", layers.get(l), type);
        }
    }

    private static void requireType(String name, INDArray a, DataType type) {
        if (a != null && a.dataType() != type) {
            throw new IllegalArgumentException(name + " has data type " + a.dataType() + ", expected " + type + " like q");
        }
    }
}
