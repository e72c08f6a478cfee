package io.mnemo.examples;

import io.mnemo.core.NdBuffers;
import io.mnemo.train.checkpoint.Checkpoints;
import io.mnemo.train.data.ByteTokenizer;
import io.mnemo.train.model.LanguageModel;
import io.mnemo.train.model.ModelState;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code mnemo generate}: byte-level generation, one {@code step} per token with the state carried. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Generate text from a byte-level run: the prompt is read in one forward pass, then each new "
            + "token is one O(1) step with the memory state carried.",
            "Example: mnemo generate --run runs/passkey --prompt 'The pass key is' --max-tokens 40"})
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--run", required = true, description = "run directory")
    Path run;

    @Option(names = "--prompt", required = true, description = "prompt text (UTF-8)")
    String prompt;

    @Option(names = "--max-tokens", description = "tokens to generate (default ${DEFAULT-VALUE})", defaultValue = "64")
    int maxTokens;

    @Option(names = "--temperature", description = "0 = greedy (default ${DEFAULT-VALUE})", defaultValue = "0")
    double temperature;

    @Option(names = "--seed", description = "sampling seed (default ${DEFAULT-VALUE})", defaultValue = "0")
    long seed;

    @Option(names = "--json", description = "print the result as JSON")
    boolean json;

    @Override
    public Integer call() throws IOException {
        if (maxTokens < 0 || maxTokens > 1_000_000 || !(temperature >= 0) || !Double.isFinite(temperature)) {
            throw new IllegalArgumentException("--max-tokens must be in [0, 1000000] and --temperature a finite "
                    + "number >= 0");
        }
        Checkpoints.Loaded l = Runs.latest(run);
        LanguageModel m = Runs.restore(l);
        int vocab = m.config().vocabSize();
        if (vocab != 256) {
            throw new IllegalArgumentException("generate needs a byte-level model (vocabulary 256); " + run
                    + " has vocabulary " + vocab + " (trained on " + l.state().task().get("task") + ")");
        }
        int[] ids = ByteTokenizer.INSTANCE.encode(prompt);
        if (ids.length == 0) {
            throw new IllegalArgumentException("--prompt is empty");
        }
        for (int id : ids) {
            if (id >= vocab) {
                throw new IllegalArgumentException("the prompt has byte " + id + " but the model's vocabulary is "
                        + vocab + " (generate needs a byte-level model, vocabulary 256)");
            }
        }
        double[] p = new double[ids.length];
        for (int i = 0; i < ids.length; i++) {
            p[i] = ids[i];
        }
        LanguageModel.Output out = m.forward(NdBuffers.ofDoubles(p, 1, ids.length).castTo(DataType.INT32), null, false);
        ModelState state = out.state();
        INDArray last = out.logits().get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
                org.nd4j.linalg.indexing.NDArrayIndex.point(ids.length - 1), org.nd4j.linalg.indexing.NDArrayIndex.all());
        Random rng = new Random(seed);
        int[] gen = new int[maxTokens];
        long t0 = System.nanoTime();
        for (int i = 0; i < maxTokens; i++) {
            int next = pick(NdBuffers.toDoubles(last), rng);
            gen[i] = next;
            LanguageModel.Output s = m.step(NdBuffers.ofDoubles(new double[] {next}, 1).castTo(DataType.INT32), state);
            state = s.state();
            last = s.logits().reshape(vocab);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        String text = ByteTokenizer.INSTANCE.decode(gen);
        PrintWriter o = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> res = new LinkedHashMap<>();
            res.put("prompt", prompt);
            res.put("completion", text);
            res.put("tokens", maxTokens);
            res.put("tokensPerSecond", maxTokens / Math.max(secs, 1e-9));
            o.println(Runs.JSON.writeValueAsString(res));
        } else {
            o.println(prompt + text);
        }
        return 0;
    }

    private int pick(double[] logits, Random rng) {
        int arg = 0;
        for (int j = 1; j < logits.length; j++) {
            if (logits[j] > logits[arg]) {
                arg = j;
            }
        }
        if (temperature == 0) {
            return arg;
        }
        double sum = 0;
        double[] w = new double[logits.length];
        for (int j = 0; j < logits.length; j++) {
            w[j] = Math.exp((logits[j] - logits[arg]) / temperature);
            sum += w[j];
        }
        double u = rng.nextDouble() * sum;
        for (int j = 0; j < w.length; j++) {
            u -= w[j];
            if (u <= 0) {
                return j;
            }
        }
        return arg;
    }
}
