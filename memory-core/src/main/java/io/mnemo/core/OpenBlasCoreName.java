package io.mnemo.core;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodType;
import jdk.incubator.foreign.CLinker;
import jdk.incubator.foreign.FunctionDescriptor;
import jdk.incubator.foreign.MemoryAddress;
import jdk.incubator.foreign.SymbolLookup;

/**
 * Calls {@code openblas_get_corename()} through the JDK 17 foreign linker: JavaCPP's OpenBLAS preset
 * does not map that function. Loaded reflectively by {@link OpenBlasCheck} only when the JVM runs
 * with {@code --add-modules jdk.incubator.foreign --enable-native-access=ALL-UNNAMED}.
 */
final class OpenBlasCoreName {
    private OpenBlasCoreName() {}

    static String get() throws Throwable {
        // Make sure JavaCPP has loaded libopenblas through this class loader.
        Class<?> preset = Class.forName("org.bytedeco.openblas.global.openblas_nolapack");
        Class.forName("org.bytedeco.javacpp.Loader").getMethod("load", Class.class).invoke(null, preset);
        var sym = SymbolLookup.loaderLookup().lookup("openblas_get_corename");
        if (sym.isEmpty()) {
            return null;
        }
        MethodHandle mh = CLinker.getInstance().downcallHandle(sym.get(),
                MethodType.methodType(MemoryAddress.class), FunctionDescriptor.of(CLinker.C_POINTER));
        MemoryAddress addr = (MemoryAddress) mh.invokeExact();
        return CLinker.toJavaString(addr);
    }
}
