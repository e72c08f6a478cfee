package io.mnemo.core.kernel;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chooses the implementation of the small dense loops kernels run per token: the JDK's Vector API
 * ({@code jdk.incubator.vector}) when the JVM was started with {@code --add-modules
 * jdk.incubator.vector}, plain Java otherwise. The fallback is logged once at WARN with the fix.
 * The property {@code mnemo.simd=false} forces plain Java (tests compare both).
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

    private static VecOps choose() {
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
