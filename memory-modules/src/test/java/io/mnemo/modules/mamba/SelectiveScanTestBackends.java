package io.mnemo.modules.mamba;

import io.mnemo.core.kernel.Backend;
import java.util.List;

/** The concrete backends every contract test runs on. */
final class SelectiveScanTestBackends {
    private SelectiveScanTestBackends() {}

    static final List<Backend> ALL = List.of(Backend.REFERENCE, Backend.CPU, Backend.ND4J);

    static List<Backend> all() {
        return ALL;
    }
}
