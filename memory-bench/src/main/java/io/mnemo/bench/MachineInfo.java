package io.mnemo.bench;

import io.mnemo.core.OpenBlasCheck;
import io.mnemo.core.kernel.VectorSupport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import org.nd4j.linalg.factory.Nd4j;

/**
 * What the numbers were measured on.
 *
 * @param cpuModel CPU model name from /proc/cpuinfo (or the architecture elsewhere)
 * @param cores processors available to the JVM
 * @param openBlasCore kernel OpenBLAS loaded ({@code openblas_get_corename()}), or "(unknown)"
 * @param openBlasCoreType {@code OPENBLAS_CORETYPE} of the runner JVM, or "unset"
 * @param recommendedCoreType the value suited to this CPU, or "none"
 * @param cpuFlags vector feature flags of the CPU
 * @param java JVM name and version
 * @param vectorApi whether the cpu kernels use the Vector API
 * @param vectorBits preferred float vector size in bits, 0 when the Vector API is off
 * @param nd4jBackend ND4J backend class
 * @param ompNumThreads {@code OMP_NUM_THREADS}, or "unset"
 * @param os operating system, version and architecture
 * @param loadAverage /proc/loadavg at the start of the run (other jobs share the machine)
 */
public record MachineInfo(String cpuModel, int cores, String openBlasCore, String openBlasCoreType,
        String recommendedCoreType, String cpuFlags, String java, boolean vectorApi, int vectorBits, String nd4jBackend,
        String ompNumThreads, String os, String loadAverage) {

    /** Inspects this JVM and machine (loads OpenBLAS and ND4J). */
    public static MachineInfo collect() {
        OpenBlasCheck.Report r = OpenBlasCheck.inspect();
        return new MachineInfo(readCpuModel(), Runtime.getRuntime().availableProcessors(),
                r.coreName().orElse("(unknown)"), r.envValue().orElse("unset"), r.recommended().orElse("none"),
                String.join(" ", r.cpuFlags()),
                System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"),
                VectorSupport.simd(), preferredVectorBits(), Nd4j.getBackend().getClass().getSimpleName(),
                Optional.ofNullable(System.getenv("OMP_NUM_THREADS")).orElse("unset"),
                System.getProperty("os.name") + " " + System.getProperty("os.version") + " "
                        + System.getProperty("os.arch"),
                loadAverageNow());
    }

    /** The 1, 5 and 15 minute load averages of {@code /proc/loadavg} now, or {@code "n/a"}. */
    public static String loadAverageNow() {
        return firstLine(Path.of("/proc/loadavg")).map(s -> String.join(" ", Arrays.copyOf(s.split(" "), 3)))
                .orElse("n/a");
    }

    private static String readCpuModel() {
        Path p = Path.of("/proc/cpuinfo");
        try {
            if (Files.isReadable(p)) {
                for (String line : Files.readAllLines(p)) {
                    if (line.startsWith("model name")) {
                        return line.substring(line.indexOf(':') + 1).trim();
                    }
                }
            }
        } catch (IOException e) {
            // Fall through to the architecture: the model is informative only.
        }
        return System.getProperty("os.arch");
    }

    /** {@code FloatVector.SPECIES_PREFERRED.vectorBitSize()} by reflection: the module may be absent. */
    private static int preferredVectorBits() {
        if (!VectorSupport.simd()) {
            return 0;
        }
        try {
            // Through the public interface: the species' own class is not exported.
            Object species = Class.forName("jdk.incubator.vector.FloatVector").getField("SPECIES_PREFERRED").get(null);
            return (Integer) Class.forName("jdk.incubator.vector.VectorSpecies").getMethod("vectorBitSize")
                    .invoke(species);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return 0;
        }
    }

    private static Optional<String> firstLine(Path p) {
        try {
            return Files.isReadable(p) ? Files.readAllLines(p).stream().findFirst() : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }
}
