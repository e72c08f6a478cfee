package io.mnemo.bench;

import java.util.List;

/**
 * Everything about a benchmark run besides the JMH numbers, saved as {@code run.json} next to
 * {@code jmh.json} so that the report can be regenerated ({@code --report DIR}).
 *
 * @param timestamp start of the run, {@code yyyyMMdd-HHmmss}
 * @param arguments the runner's command-line arguments
 * @param resultsDir directory of {@code jmh.json}, relative to the repository root when inside it
 * @param settings what was asked for
 * @param machine where it ran
 * @param coreTypes one entry per sgemm child JVM
 * @param unavailable configurations that were not measured, and why
 * @param note free text for the report (e.g. machine load)
 */
public record RunRecord(String timestamp, String arguments, String resultsDir, Settings settings, MachineInfo machine,
        List<CoreType> coreTypes, List<Unavailable> unavailable, String note) {

    /**
     * What was asked for.
     *
     * @param mode "quick", "full" or "custom"
     * @param forks JMH forks per configuration
     * @param warmup warm-up iterations
     * @param iterations measurement iterations
     * @param iterationSeconds length of every iteration
     * @param ops ops benchmarked
     * @param backends backends benchmarked
     * @param ts sequence lengths
     * @param nd4jMaxT largest T of nd4j forward+backward (longer ones are skipped)
     * @param step whether the step benchmarks ran
     * @param sgemmShapes sgemm shapes measured
     * @param b batch
     * @param h heads
     * @param d Dk = Dv
     */
    public record Settings(String mode, int forks, int warmup, int iterations, double iterationSeconds, List<String> ops,
            List<String> backends, List<Integer> ts, int nd4jMaxT, boolean step, List<String> sgemmShapes, int b, int h,
            int d) {}

    /**
     * One sgemm child JVM.
     *
     * @param label the OPENBLAS_CORETYPE it was started with, or "unset"
     * @param coreName the kernel OpenBLAS actually loaded in it
     * @param status "ok" or what went wrong
     */
    public record CoreType(String label, String coreName, String status) {}

    /**
     * A configuration that was not measured.
     *
     * @param op op name
     * @param backend backend name, or {@code cpu-stepper} for the LinearStepper benchmarks
     * @param message "unavailable: …" (the backend threw) or "refused: …" (parity failed)
     */
    public record Unavailable(String op, String backend, String message) {}
}
