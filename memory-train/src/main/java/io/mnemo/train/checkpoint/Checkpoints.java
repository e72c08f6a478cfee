package io.mnemo.train.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.mnemo.core.Parameter;
import io.mnemo.train.TrainConfig;
import io.mnemo.train.model.LanguageModel;
import io.mnemo.train.model.ModelConfig;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Checkpoint directories of a run: {@code <run>/checkpoints/step-00000100/} holding
 * <ul>
 *   <li>{@code config.json} — the {@link ModelConfig};</li>
 *   <li>{@code model.safetensors} — parameters by dotted name;</li>
 *   <li>{@code optimizer.safetensors} — the optimizer state by parameter name;</li>
 *   <li>{@code trainer.json} — format name and version, step, data position, train config, task.</li>
 * </ul>
 * A checkpoint is written into a temporary directory and renamed, so a crash never leaves half of one.
 */
public final class Checkpoints {
    /** Format name written into trainer.json. */
    public static final String FORMAT = "mnemo-checkpoint";
    /** Current format version; loading another version fails with a message. */
    public static final int VERSION = 1;

    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Checkpoints() {}

    /**
     * What trainer.json holds.
     *
     * @param format {@link #FORMAT}
     * @param version {@link #VERSION}
     * @param step optimizer steps completed
     * @param dataIndex next micro-batch index of the training task (the data position)
     * @param train the run's settings
     * @param task the task's name and options (for {@code mnemo eval} / resume)
     */
    public record TrainerState(String format, int version, int step, long dataIndex, TrainConfig train,
            Map<String, String> task) {}

    /** A loaded checkpoint. */
    public record Loaded(Path dir, ModelConfig config, Map<String, INDArray> params, Map<String, INDArray> optimizer,
            TrainerState state) {}

    /** Writes a checkpoint for {@code state.step()} under {@code runDir/checkpoints}, keeping the last {@code keep}. */
    public static Path save(Path runDir, LanguageModel model, Map<String, INDArray> optimizerState, TrainerState state,
            int keep) throws IOException {
        if (keep <= 0) {
            throw new IllegalArgumentException("keep must be > 0, got " + keep);
        }
        Path root = runDir.resolve("checkpoints");
        Files.createDirectories(root);
        String name = String.format("step-%08d", state.step());
        Path tmp = Files.createTempDirectory(root, "." + name + ".tmp");
        JSON.writeValue(tmp.resolve("config.json").toFile(), model.config());
        Map<String, INDArray> params = new LinkedHashMap<>();
        for (Parameter p : model.parameters()) {
            params.put(p.name(), p.value());
        }
        SafeTensors.write(tmp.resolve("model.safetensors"), params, Map.of("format", FORMAT));
        SafeTensors.write(tmp.resolve("optimizer.safetensors"), optimizerState, Map.of("format", FORMAT));
        JSON.writeValue(tmp.resolve("trainer.json").toFile(), state);
        Path dst = root.resolve(name);
        Path old = null;
        if (Files.exists(dst)) {
            // keep the previous copy until the new one is in place
            old = root.resolve("." + name + ".old");
            if (Files.exists(old)) {
                deleteTree(old);
            }
            Files.move(dst, old);
        }
        try {
            Files.move(tmp, dst, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, dst);
        }
        if (old != null) {
            deleteTree(old);
        }
        List<Path> all = list(runDir);
        for (int i = 0; i + keep < all.size(); i++) {
            deleteTree(all.get(i));
        }
        return dst;
    }

    /** Checkpoint directories of a run, oldest first. */
    public static List<Path> list(Path runDir) throws IOException {
        Path root = runDir.resolve("checkpoints");
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(root)) {
            return s.filter(p -> p.getFileName().toString().matches("step-\\d{8}") && Files.isDirectory(p))
                    .sorted(Comparator.comparing(p -> p.getFileName().toString())).toList();
        }
    }

    /** The newest checkpoint of a run, if any. */
    public static Optional<Path> latest(Path runDir) throws IOException {
        List<Path> l = list(runDir);
        return l.isEmpty() ? Optional.empty() : Optional.of(l.get(l.size() - 1));
    }

    /** Loads a checkpoint directory, checking its format and version. */
    public static Loaded load(Path dir) throws IOException {
        Path tj = dir.resolve("trainer.json");
        if (!Files.isRegularFile(tj)) {
            throw new IOException(dir + " is not a Mnemo checkpoint (no trainer.json)");
        }
        TrainerState st;
        try {
            // format and version first, so that a newer layout is reported as such, not as corrupt
            com.fasterxml.jackson.databind.JsonNode tree = JSON.readTree(tj.toFile());
            String format = tree.path("format").asText(null);
            int version = tree.path("version").asInt(-1);
            if (!FORMAT.equals(format) || version != VERSION) {
                throw new IOException(dir + " has checkpoint format " + format + " version " + version
                        + "; this Mnemo reads " + FORMAT + " version " + VERSION
                        + " (re-train, or load it with the Mnemo release that wrote it and re-save)");
            }
            st = JSON.treeToValue(tree, TrainerState.class);
        } catch (IOException e) {
            if (e.getMessage() != null && e.getMessage().contains("this Mnemo reads")) {
                throw e;
            }
            throw new IOException(tj + " is corrupt: " + firstLine(e.getMessage()), e);
        }
        if (st.train() == null || st.task() == null || st.step() < 0 || st.dataIndex() < 0) {
            throw new IOException(tj + " is corrupt: missing train, task, step or dataIndex");
        }
        ModelConfig cfg;
        try {
            cfg = JSON.readValue(dir.resolve("config.json").toFile(), ModelConfig.class);
        } catch (IOException e) {
            throw new IOException(dir.resolve("config.json") + " is missing or corrupt: " + e.getMessage(), e);
        }
        return new Loaded(dir, cfg, SafeTensors.read(dir.resolve("model.safetensors")),
                SafeTensors.read(dir.resolve("optimizer.safetensors")), st);
    }

    /**
     * Copies loaded parameter values into a model built from the same config; names and shapes must match
     * exactly — a missing parameter, a wrong shape, or a tensor the model has no parameter for is an error
     * (nothing is silently dropped).
     */
    public static void restore(LanguageModel model, Map<String, INDArray> params) {
        java.util.Set<String> unused = new java.util.TreeSet<>(params.keySet());
        for (Parameter p : model.parameters()) {
            unused.remove(p.name());
        }
        if (!unused.isEmpty()) {
            throw new IllegalArgumentException("checkpoint has " + unused.size()
                    + " tensor(s) the model has no parameter for: " + unused
                    + " (was it written by a different model config?)");
        }
        for (Parameter p : model.parameters()) {
            INDArray v = params.get(p.name());
            if (v == null) {
                throw new IllegalArgumentException("checkpoint has no parameter " + p.name());
            }
            if (!java.util.Arrays.equals(v.shape(), p.value().shape())) {
                throw new IllegalArgumentException("checkpoint parameter " + p.name() + " has shape "
                        + java.util.Arrays.toString(v.shape()) + ", the model expects "
                        + java.util.Arrays.toString(p.value().shape()));
            }
            p.value().assign(v.castTo(p.value().dataType()));
        }
    }

    private static String firstLine(String s) {
        return s == null ? "" : s.lines().findFirst().orElse("");
    }

    private static void deleteTree(Path p) throws IOException {
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        }
    }
}
