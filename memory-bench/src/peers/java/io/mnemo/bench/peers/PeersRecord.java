package io.mnemo.bench.peers;

import io.mnemo.bench.MachineInfo;
import java.util.List;
import java.util.Map;

/**
 * Everything about a peer comparison run besides the JMH numbers, saved as {@code peers-run.json} next to
 * {@code jmh.json} so that the report can be regenerated ({@code bin/mnemo-bench --peers --report DIR}).
 *
 * @param timestamp start of the run, {@code yyyyMMdd-HHmmss}
 * @param arguments the runner's arguments
 * @param resultsDir directory of {@code jmh.json}, relative to the repository root when inside it
 * @param settings what was asked for
 * @param machine where it ran (the runner JVM)
 * @param torch libtorch and DJL versions and the libtorch build
 * @param environments the environment of each thread count's JVMs
 * @param gates parity gates run before anything was timed
 * @param models the language models with their sizes
 * @param wallSeconds duration of the whole run
 * @param profiles hot methods of the forks' JFR recordings ({@code --jfr}), else empty
 * @param note free text for the report
 * @param loadAverageEnd 1, 5 and 15 minute load averages of {@code /proc/loadavg} when the run ended (the
 *     start is {@code machine.loadAverage()}); null in records written before it was kept
 */
public record PeersRecord(String timestamp, String arguments, String resultsDir, Settings settings, MachineInfo machine,
        TorchInfo torch, Map<String, String> environments, List<Gate> gates, List<ModelInfo> models,
        double wallSeconds, List<JfrSummary.Profile> profiles, String note,
        String loadAverageEnd) {

    /** This record with another note (a merged run's own remark). */
    public PeersRecord withNote(String text) {
        return new PeersRecord(timestamp, arguments, resultsDir, settings, machine, torch, environments, gates, models,
                wallSeconds, profiles, text, loadAverageEnd);
    }

    /**
     * What was asked for.
     *
     * @param mode quick, full or custom
     * @param forks JMH forks per configuration
     * @param warmup warm-up iterations
     * @param iterations measurement iterations
     * @param iterationSeconds length of every iteration
     * @param threads thread counts
     * @param ops ops
     * @param impls implementations of the op benchmarks
     * @param bs batch sizes of the op benchmarks
     * @param ts sequence lengths of the op benchmarks
     * @param nd4jMaxT longest T of nd4j forward+backward
     * @param models language models
     * @param lmTs sequence lengths of the language models
     * @param lmB batch of the language models
     * @param sgemmShapes sgemm shapes
     * @param parts which parts ran: sgemm, ops, step, lm
     * @param h heads of the op benchmarks
     * @param d Dk = Dv of the op benchmarks
     * @param chunk chunk size of the chunked forms
     */
    public record Settings(String mode, int forks, int warmup, int iterations, double iterationSeconds,
            List<Integer> threads, List<String> ops, List<String> impls, List<Integer> bs, List<Integer> ts,
            int nd4jMaxT, List<String> models, List<Integer> lmTs, int lmB, List<String> sgemmShapes,
            List<String> parts, int h, int d, int chunk) {}

    /**
     * @param libtorch libtorch version
     * @param djl DJL version
     * @param build what libtorch was built with, as far as it is known
     */
    public record TorchInfo(String libtorch, String djl, String build) {}

    /**
     * A parity gate.
     *
     * @param op op name
     * @param impl cpu, nd4j, torch, or torch-step / cpu-stepper
     * @param status "ok", "refused: …" or "unavailable: …"
     * @param maxError largest relative error seen (NaN when it did not run)
     */
    public record Gate(String op, String impl, String status, double maxError) {}

    /**
     * @param name model name as in the benchmarks
     * @param parameters scalar parameters
     * @param description layers and sizes
     */
    public record ModelInfo(String name, long parameters, String description) {}
}
