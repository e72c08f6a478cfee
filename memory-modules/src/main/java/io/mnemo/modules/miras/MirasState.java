package io.mnemo.modules.miras;

import io.mnemo.core.Shapes;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * What the Miras op carries between calls: the retention's state {@code A} and the rule's state
 * {@code S} committed at the last chunk boundary, and the inputs of the open chunk. A gradient with
 * respect to a state has the same form ({@link MirasGrads#dInitialState()}).
 *
 * <p>{@code memory} holds the retention's carried parameterisation: the weights themselves for the
 * L2 family and the elastic net, the accumulator {@code A} for Lq ({@code W = A/‖A‖_q^{q−2}}) and the
 * logits for KL ({@code W = c·softmax_rows(A)}); see {@link RetentionGate}.
 *
 * @param memory one array per layer {@code [B, H, rows(l), cols(l)]} ({@link MemoryShape}); in a gradient a
 *     layer may be null for zeros
 * @param momentum like memory; null unless the rule has momentum
 * @param buffer the open chunk, null when it is empty
 */
public record MirasState(List<INDArray> memory, List<INDArray> momentum, MirasBuffer buffer) {
    public MirasState {
        if (memory == null || memory.isEmpty()) {
            throw new IllegalArgumentException("memory is missing: expected one [B, H, rows, cols] array per layer");
        }
        memory = Collections.unmodifiableList(new ArrayList<>(memory));
        momentum = momentum == null ? null : Collections.unmodifiableList(new ArrayList<>(momentum));
        if (buffer != null && buffer.size() == 0) {
            throw new IllegalArgumentException("buffer has no tokens: use null for an empty open chunk");
        }
    }

    /** Zero memory and momentum, empty buffer (what a null initial state means). */
    public static MirasState zeros(MirasConfig cfg, int b, int h, int dk, int dv, DataType type) {
        MemoryShape s = cfg.shape(dk, dv);
        List<INDArray> mem = new ArrayList<>();
        for (int l = 0; l < s.depth(); l++) {
            mem.add(Nd4j.zeros(type, b, h, s.rows(l), s.cols(l)));
        }
        return ofMemory(cfg, mem);
    }

    /** The given memory with zero momentum (if the rule has one) and an empty buffer. */
    public static MirasState ofMemory(MirasConfig cfg, List<INDArray> memory) {
        if (!cfg.rule().momentum()) {
            return new MirasState(memory, null, null);
        }
        return new MirasState(memory, memory.stream().map(a -> Nd4j.zeros(a.dataType(), a.shape())).toList(), null);
    }

    /** Number of buffered tokens. */
    public int buffered() {
        return buffer == null ? 0 : buffer.size();
    }

    /** Checks the state against the sizes; returns the number of buffered tokens. */
    int validate(String name, MirasConfig cfg, MemoryShape s, int b, int h, int dk, int dv, DataType type) {
        checkLayers(name + ".memory", memory, s, b, h, type);
        if (cfg.rule().momentum() != (momentum != null)) {
            throw new IllegalArgumentException(name + ".momentum " + (momentum == null ? "is missing but rule "
                    + cfg.rule().name() + " has momentum" : "was given but rule " + cfg.rule().name()
                    + " has no momentum"));
        }
        if (momentum != null) {
            checkLayers(name + ".momentum", momentum, s, b, h, type);
        }
        int n = buffered();
        if (n == 0) {
            return 0;
        }
        if (n >= cfg.chunkSize()) {
            throw new IllegalArgumentException(name + ".buffer holds " + n + " tokens, expected fewer than chunkSize="
                    + cfg.chunkSize());
        }
        MirasInputs.checkTokens(name + ".buffer.", cfg, buffer.k(), buffer.v(), buffer.theta(), buffer.eta(),
                buffer.decay(), buffer.param(), b, n, h, dk, dv, type);
        return n;
    }

    private static void checkLayers(String name, List<INDArray> layers, MemoryShape s, int b, int h, DataType type) {
        if (layers.size() != s.depth()) {
            throw new IllegalArgumentException(name + " has " + layers.size() + " layers, expected " + s.depth());
        }
        for (int l = 0; l < s.depth(); l++) {
            Shapes.require(name + "[" + l + "]", layers.get(l), "[B, H, rows, cols]", b, h, s.rows(l), s.cols(l));
            MirasInputs.requireType(name + "[" + l + "]", layers.get(l), type);
        }
    }
}
