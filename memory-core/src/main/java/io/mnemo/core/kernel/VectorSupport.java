package io.mnemo.core.kernel;

import java.util.Locale;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chooses the implementation of the small dense loops kernels run per token: the JDK's Vector API
 * ({@code jdk.incubator.vector}) when the JVM was started with {@code --add-modules
 * jdk.incubator.vector}, plain Java otherwise. The fallback is logged once at WARN with the fix.
 * The property {@code mnemo.simd=false} forces plain Java (tests compare both).
 *
 * <p>It also warns once when {@code OMP_PROC_BIND} asks OpenMP to bind threads: ND4J's OpenMP runtime then
 * binds the Java thread that first calls ND4J to one core, and every thread that thread starts afterwards
 * (the common fork/join pool's workers, which run the cpu kernels in parallel over batch × heads)
 * inherits the one-core mask, so the cpu backend runs on one core whatever its thread count. Seen on a
 * 2-core Linux machine: {@code Cpus_allowed_list} of those threads {@code 0} with
 * {@code OMP_PROC_BIND=true}, {@code 0-1} without.
 */
public final class VectorSupport {
    private static final Logger LOG = LoggerFactory.getLogger(VectorSupport.class);
    private static final VecOps OPS = choose();

    private VectorSupport() {}

    /** The chosen implementation. */
    public static VecOps ops() {
        return OPS;
    }

    /** True when {@link #ops()} uses the Vector API. */
    public static boolean simd() {
        return OPS instanceof SimdOps;
    }

    /**
     * The warning for an {@code OMP_PROC_BIND} value, empty when it does not bind (unset, empty or
     * {@code false}).
     */
    static Optional<String> procBindWarning(String ompProcBind) {
        if (ompProcBind == null || ompProcBind.isBlank()
                || ompProcBind.trim().toLowerCase(Locale.ROOT).equals("false")) {
            return Optional.empty();
        }
        return Optional.of("OMP_PROC_BIND=" + ompProcBind + " is set: ND4J's OpenMP binds the first Java thread "
                + "that calls ND4J to one core, and the threads it starts (the fork/join workers of Mnemo's cpu "
                + "kernels) inherit that core, so the cpu backend runs on one core. Unset OMP_PROC_BIND.");
    }

    private static VecOps choose() {
        procBindWarning(System.getenv("OMP_PROC_BIND")).ifPresent(LOG::warn);
        if (!Boolean.parseBoolean(System.getProperty("mnemo.simd", "true"))) {
            LOG.info("mnemo.simd=false: kernels use plain Java loops");
            return new ScalarOps();
        }
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            LOG.warn("The Vector API is not available (start the JVM with --add-modules jdk.incubator.vector); "
                    + "CPU kernels fall back to plain Java loops, several times slower.");
            return new ScalarOps();
        }
        try {
            return (VecOps) Class.forName("io.mnemo.core.kernel.SimdOps").getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | LinkageError e) {
            LOG.warn("The Vector API could not be used ({}); CPU kernels fall back to plain Java loops.", e.toString());
            return new ScalarOps();
        }
    }
}
