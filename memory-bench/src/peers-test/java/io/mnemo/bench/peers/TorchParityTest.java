package io.mnemo.bench.peers;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.bench.BenchData;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.linear.LinearForward;
import io.mnemo.modules.linear.LinearGrads;
import io.mnemo.modules.linear.LinearInputs;
import io.mnemo.modules.linear.LinearOp;
import io.mnemo.modules.linear.LinearOpConfig;
import io.mnemo.modules.linear.LinearOps;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The PyTorch peer against Mnemo's reference (outputs, final state, every autograd gradient, the step
 * recurrence) — the same gates the benchmarks run before timing. Only in the {@code peers} profile:
 * {@code mvn -Ppeers test -pl memory-bench -am -Dtest='TorchParityTest,PeerModelsTest'}.
 */
class TorchParityTest {

    @ParameterizedTest
    @EnumSource(value = LinearOp.class, names = {"LINEAR_ATTN", "SIMPLE_GLA", "GATED_DELTA_RULE"})
    void chunkedForwardAndAutogradMatchTheReference(LinearOp op) {
        Map<String, Double> err = TorchParity.require(op);
        System.out.println(op.opName() + " reference errors " + err);
        assertTrue(err.containsKey("C=16 dq") && err.containsKey("C=64 d_initial_state"), err.toString());
        if (op.scalarGate()) {
            assertTrue(err.containsKey("C=64 dg"), err.toString());
        }
        if (op.delta()) {
            assertTrue(err.containsKey("C=64 dbeta"), err.toString());
        }
        err.values().forEach(e -> assertTrue(e <= TorchParity.TOLERANCE, err.toString()));
    }

    @ParameterizedTest
    @EnumSource(value = LinearOp.class, names = {"LINEAR_ATTN", "SIMPLE_GLA", "GATED_DELTA_RULE"})
    void stepMatchesTheReference(LinearOp op) {
        Map<String, Double> err = TorchParity.requireStep(op);
        err.values().forEach(e -> assertTrue(e <= TorchParity.TOLERANCE, err.toString()));
    }

    @ParameterizedTest
    @EnumSource(value = LinearOp.class, names = {"LINEAR_ATTN", "SIMPLE_GLA", "GATED_DELTA_RULE"})
    void benchmarkShapedInputsMatchTheCpuBackend(LinearOp op) {
        LinearInputs in = BenchData.inputs(op, 1, 1000, 4, 64, 64, false, 42);
        Map<String, Double> err = TorchParity.requireOnInputs(op, in, BenchData.randn(43, 1, 1000, 4, 64), 64, true);
        System.out.println(op.opName() + " full-size errors " + err);
        err.values().forEach(e -> assertTrue(e <= TorchParity.FULL_SIZE_TOLERANCE, err.toString()));
    }

    @ParameterizedTest
    @EnumSource(value = LinearOp.class, names = {"LINEAR_ATTN", "SIMPLE_GLA", "GATED_DELTA_RULE"})
    void gradientsSurviveAGarbageCollectionBeforeBackward(LinearOp op) {
        // DJL's mul(Number) wraps the number in a tensor over a direct buffer and closes it at once; autograd
        // keeps using it, so a collection before backward freed it and dq came out as garbage (Torch#scalar)
        LinearInputs in = BenchData.inputs(op, 2, 100, 2, 16, 16, true, 17);
        INDArray dO = BenchData.randn(18, 2, 100, 2, 16);
        INDArray dFin = BenchData.randn(19, 2, 2, 16, 16);
        LinearOpConfig ref = LinearOpConfig.of(op).withBackend(Backend.REFERENCE);
        LinearForward f = LinearOps.forward(ref, in, true);
        LinearGrads g = LinearOps.backward(f, dO, dFin);
        TorchParity.Result r = TorchParity.run(op, in, dO, dFin, ref.scaleFor(16), 64, true,
                TorchParityTest::collectAndReuseNativeMemory);
        REUSED.clear();
        Map<String, Double> err = TorchParity.check("PyTorch " + op.opName() + " after a collection", r, f, g,
                TorchParity.TOLERANCE);
        assertTrue(err.containsKey("dq"), err.toString());
    }

    static final List<ByteBuffer> REUSED = new ArrayList<>();

    /**
     * Collects garbage (so the Cleaner frees unreachable direct buffers), then refills small native blocks; the
     * buffers stay referenced until {@link #REUSED} is cleared.
     */
    static void collectAndReuseNativeMemory() {
        for (int i = 0; i < 3; i++) {
            System.gc();
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (int i = 0; i < 20_000; i++) {
            ByteBuffer b = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder());
            b.putFloat(0, 1e30f);
            REUSED.add(b);
        }
    }

    @Test
    void aPeerThatComputesSomethingElseIsRefused() {
        // the PyTorch op run on slightly different decays must fail the check against the true inputs' reference
        LinearInputs in = BenchData.inputs(LinearOp.SIMPLE_GLA, 1, 40, 2, 16, 16, false, 5);
        LinearInputs shifted = new LinearInputs(in.q(), in.k(), in.v(), in.g().sub(0.05), null, null, null);
        LinearOpConfig ref = LinearOpConfig.of(LinearOp.SIMPLE_GLA).withBackend(Backend.REFERENCE);
        LinearForward expected = LinearOps.forward(ref, in, false);
        TorchParity.Result good = TorchParity.run(LinearOp.SIMPLE_GLA, in, null, null, ref.scaleFor(16), 16, false);
        TorchParity.Result bad = TorchParity.run(LinearOp.SIMPLE_GLA, shifted, null, null, ref.scaleFor(16), 16, false);
        TorchParity.check("good", good, expected, null, TorchParity.TOLERANCE);
        PeerParityException e = assertThrows(PeerParityException.class,
                () -> TorchParity.check("bad", bad, expected, null, TorchParity.TOLERANCE));
        assertTrue(e.getMessage().contains("refusing to benchmark"), e.getMessage());
        assertThrows(UnsupportedOperationException.class, () -> TorchParity.require(LinearOp.GLA));
    }
}
