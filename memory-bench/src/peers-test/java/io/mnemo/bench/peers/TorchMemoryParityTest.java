package io.mnemo.bench.peers;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.mnemo.bench.Parity;
import io.mnemo.bench.SelectiveScanBench;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.mamba.SelectiveScan;
import io.mnemo.modules.mamba.SelectiveScanForward;
import io.mnemo.modules.mamba.SelectiveScanInputs;
import io.mnemo.modules.titans.TitansForward;
import io.mnemo.modules.titans.TitansGrads;
import io.mnemo.modules.titans.TitansInputs;
import io.mnemo.modules.titans.TitansOpConfig;
import io.mnemo.modules.titans.TitansOps;
import io.mnemo.modules.titans.TitansReadMode;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The PyTorch selective-scan and Titans peers against Mnemo's reference (outputs, final state, every autograd
 * gradient, the step recurrence) and against the cpu backend on benchmark-shaped inputs: the gates the
 * benchmarks run before timing. Only in the {@code peers} profile.
 */
class TorchMemoryParityTest {

    private static void allBelow(Map<String, Double> err, double tol) {
        err.values().forEach(e -> assertTrue(e <= tol, err.toString()));
    }

    @Test
    void selectiveScanForwardAndAutogradMatchTheReference() {
        Map<String, Double> err = TorchMemoryParity.requireScan();
        System.out.println("selective_scan reference errors " + err);
        for (String k : List.of("out", "last_state", "du", "ddelta", "dA", "dB", "dC", "dD", "dz", "ddelta_bias",
                "dinitial_state")) {
            assertTrue(err.containsKey(k), k + " not compared: " + err);
        }
        allBelow(err, TorchMemoryParity.SCAN_TOLERANCE);
    }

    @Test
    void selectiveScanStepMatchesTheReference() {
        allBelow(TorchMemoryParity.requireScanStep(), TorchMemoryParity.SCAN_TOLERANCE);
    }

    @Test
    void selectiveScanOnBenchmarkShapedInputsMatchesTheCpuBackend() {
        // D_inner = 256, N = 16 as the benchmark; L = 300 keeps the test short
        SelectiveScanInputs in = SelectiveScanBench.inputs(1, SelectiveScanBench.D, 300, SelectiveScanBench.N, false,
                42);
        Map<String, Double> err = TorchMemoryParity.requireScanOnInputs(in, SelectiveScanBench.randn(43, 1,
                SelectiveScanBench.D, 300), true);
        System.out.println("selective_scan full-size errors " + err);
        allBelow(err, TorchMemoryParity.FULL_SIZE_TOLERANCE);
    }

    @Test
    void titansForwardAndAutogradMatchTheReference() {
        Map<String, Double> err = TorchMemoryParity.requireTitans();
        System.out.println("titans reference errors " + err);
        for (String k : List.of("y", "memory0", "memory1", "momentum0", "momentum1", "dq", "dk", "dv", "dtheta", "deta",
                "dalpha", "dmemory0", "dmemory1", "dmomentum0", "dmomentum1")) {
            assertTrue(err.containsKey("C=16 " + k) && err.containsKey("C=64 " + k), k + " not compared: " + err);
        }
        allBelow(err, TorchMemoryParity.TITANS_TOLERANCE);
    }

    @Test
    void titansStepMatchesTheReference() {
        allBelow(TorchMemoryParity.requireTitansStep(), TorchMemoryParity.TITANS_TOLERANCE);
    }

    @Test
    void titansOnBenchmarkShapedInputsMatchesTheCpuBackend() {
        // H = 4, D = 64, chunk 64 as the benchmark; T = 200 (not a multiple of 64) keeps the test short
        TitansOpConfig cfg = TorchMemoryParity.titansConfig(Backend.CPU, 64);
        TitansInputs in = TorchMemoryParity.titansInputs(cfg, 1, 200, 4, 64, io.mnemo.bench.TitansBench.THETA_MAX, false, 42);
        Map<String, Double> err = TorchMemoryParity.requireTitansOnInputs(in,
                SelectiveScanBench.randn(43, 1, 200, 4, 64), 64, true);
        System.out.println("titans full-size errors " + err);
        allBelow(err, TorchMemoryParity.TITANS_FULL_SIZE_TOLERANCE);
    }

    @Test
    void divergingInputsAreRefused() {
        // θ up to 0.5 (what TitansBench used to draw) makes the depth-2 memory diverge to Inf/NaN
        TitansOpConfig cfg = TorchMemoryParity.titansConfig(Backend.CPU, 64);
        TitansInputs in = TorchMemoryParity.titansInputs(cfg, 1, 300, 4, 64, 0.5, false, 42);
        PeerParityException e = assertThrows(PeerParityException.class, () -> TorchMemoryParity.requireTitansOnInputs(
                in, SelectiveScanBench.randn(43, 1, 300, 4, 64), 64, false));
        assertTrue(e.getMessage().contains("diverges"), e.getMessage());
    }

    @Test
    void titansGradientsSurviveAGarbageCollectionBeforeBackward() {
        // maximum(Number) freed its threshold while autograd still needed it: deta and dalpha came out zero
        // after a collection (Torch#scalar; TorchParityTest has the same check for the linear ops)
        TitansOpConfig ref = TorchMemoryParity.titansConfig(Backend.REFERENCE, 16);
        TitansInputs in = TorchMemoryParity.titansInputs(ref, 2, 40, 2, 8, TorchMemoryParity.SMALL_THETA, true, 31);
        INDArray dY = SelectiveScanBench.randn(32, 2, 40, 2, 8);
        TitansForward f = TitansOps.forward(ref, in, true);
        TitansGrads g = TitansOps.backward(f, dY, null);
        TorchMemoryParity.TitansResult r = TorchMemoryParity.runTitans(in, dY, null, null, 16, true,
                TorchParityTest::collectAndReuseNativeMemory);
        TorchParityTest.REUSED.clear();
        TitansGrads t = r.grads();
        Map<String, Double> err = Map.of("dq", Parity.relErr(t.dq(), g.dq()), "dk", Parity.relErr(t.dk(), g.dk()),
                "dv", Parity.relErr(t.dv(), g.dv()), "dtheta", Parity.relErr(t.dTheta(), g.dTheta()),
                "deta", Parity.relErr(t.dEta(), g.dEta()), "dalpha", Parity.relErr(t.dAlpha(), g.dAlpha()));
        allBelow(err, TorchMemoryParity.TITANS_TOLERANCE);
    }

    @Test
    void aPeerThatComputesSomethingElseIsRefused() {
        // Titans with COMMITTED reads is another model: the PER_TOKEN peer must fail against its outputs
        TitansOpConfig committed = TorchMemoryParity.titansConfig(Backend.REFERENCE, 8)
                .withReadMode(TitansReadMode.COMMITTED);
        TitansInputs in = TorchMemoryParity.titansInputs(committed, 1, 20, 2, 8, TorchMemoryParity.SMALL_THETA, false, 5);
        TitansForward other = TitansOps.forward(committed, in, false);
        TorchMemoryParity.TitansResult r = TorchMemoryParity.runTitans(in, null, null, null, 8, false);
        double e = io.mnemo.bench.Parity.relErr(r.y(), other.y());
        assertTrue(e > 10 * TorchMemoryParity.TITANS_TOLERANCE, "COMMITTED reads are not told apart: " + e);
        assertThrows(UnsupportedOperationException.class, () -> TorchTitans.requireSupported(committed));
        // the scan with a slightly different delta_bias is another function: refused
        SelectiveScanInputs s = SelectiveScanBench.inputs(1, 8, 30, 4, false, 6);
        SelectiveScanForward expected = SelectiveScan.forward(TorchMemoryParity.scanConfig(Backend.REFERENCE), s, false);
        INDArray good = TorchMemoryParity.runScan(s, null, null, false).out();
        INDArray bad = TorchMemoryParity.runScan(s.withOptional(s.d(), s.z(), s.deltaBias().add(0.05)), null, null,
                false).out();
        assertTrue(io.mnemo.bench.Parity.relErr(good, expected.out()) <= TorchMemoryParity.SCAN_TOLERANCE);
        assertTrue(io.mnemo.bench.Parity.relErr(bad, expected.out()) > 10 * TorchMemoryParity.SCAN_TOLERANCE);
        PeerParityException ex = assertThrows(PeerParityException.class, () -> TorchParity.fail("bad",
                Map.of("out", 1e-2), TorchMemoryParity.SCAN_TOLERANCE));
        assertTrue(ex.getMessage().contains("refusing to benchmark"), ex.getMessage());
    }

    @Test
    void badShapesAreRejectedWithTheArgumentsName() {
        try (NDManager m = Torch.newManager()) {
            NDArray u = m.zeros(new ai.djl.ndarray.types.Shape(1, 4, 5));
            NDArray a = m.zeros(new ai.djl.ndarray.types.Shape(4, 3));
            NDArray bShared = m.zeros(new ai.djl.ndarray.types.Shape(4, 3));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> TorchSelectiveScan.forward(u, u, a, bShared, bShared, null, null, null, null, true));
            assertTrue(e.getMessage().startsWith("B has shape"), e.getMessage());
            NDArray q = m.zeros(new ai.djl.ndarray.types.Shape(1, 5, 2, 4));
            NDArray g = m.zeros(new ai.djl.ndarray.types.Shape(1, 5, 2));
            NDArray w1 = m.zeros(new ai.djl.ndarray.types.Shape(1, 2, 16, 4));
            e = assertThrows(IllegalArgumentException.class,
                    () -> TorchTitans.forward(q, q, q, g, g, g, List.of(w1, w1), null, 4));
            assertTrue(e.getMessage().contains("W2"), e.getMessage());
        }
    }
}
