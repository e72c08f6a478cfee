package io.mnemo.modules.memmamba;

import static io.mnemo.modules.memmamba.MemMambaTestData.assertClose;
import static io.mnemo.modules.memmamba.MemMambaTestData.assertStatesClose;
import static io.mnemo.modules.memmamba.MemMambaTestData.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.Mixer;
import io.mnemo.core.NdBuffers;
import io.mnemo.core.Parameter;
import io.mnemo.core.kernel.Backend;
import io.mnemo.core.nn.Fn;
import io.mnemo.modules.mamba.Mamba1Block;
import io.mnemo.modules.mamba.Mamba1State;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The note pools against independent computations: the bound K over a long sequence, PRIORITY keeps
 * the K most important notes, FIFO the K most recent, and with τ₁ = +∞ (no notes) the stack is exactly
 * a stack of plain pre-norm Mamba-1 layers with the same weights.
 */
class MemMambaPoolTest {
    @ParameterizedTest
    @EnumSource(PoolPolicy.class)
    void poolNeverExceedsCapacityOverALongSequence(PoolPolicy policy) {
        MemMambaConfig c = new MemMambaConfig(8, 2, 4, 2, 4, 4, 4, -0.5, 0.0, policy, 2, 2, Backend.CPU,
                DataType.FLOAT, 9L);
        MemMambaStack m = new MemMambaStack(c);
        int b = 2;
        int t = 200;
        INDArray x = randn(DataType.FLOAT, 31, b, t, c.dModel());
        Mixer.Forward<MemMambaState> whole = m.forward(x, null, true);
        MemMambaTrace tr = MemMambaStack.trace(whole);
        for (int l = 0; l < c.layers(); l++) {
            assertTrue(tr.writes()[l] + tr.drops()[l] > 10 * c.poolSize(), "notes " + Arrays.toString(tr.writes())
                    + " + " + Arrays.toString(tr.drops()));
            assertEquals(c.poolSize(), tr.maxFill()[l], "max fill of layer " + l);
            if (policy == PoolPolicy.FIFO) {
                assertEquals(tr.writes()[l] - b * c.poolSize(), tr.evictions()[l], "every FIFO write to a full pool evicts");
            } else {
                assertTrue(tr.drops()[l] > 0 && tr.evictions()[l] > 0, "drops " + Arrays.toString(tr.drops()));
            }
        }
        MemMambaState s = null;
        for (int i = 0; i < t; i++) {
            s = m.step(x.get(NDArrayIndex.all(), NDArrayIndex.point(i), NDArrayIndex.all()).dup('c'), s).state();
            for (NotePool p : s.pools()) {
                assertEquals(c.poolSize(), p.summaries().size(1));
                for (int bi = 0; bi < b; bi++) {
                    int n = p.count().getInt(bi);
                    assertTrue(n >= 0 && n <= c.poolSize(), "count " + n + " at t=" + i);
                }
            }
        }
        assertStatesClose("steps after 200 tokens", s, whole.state(), 1e-4);
        for (NotePool p : s.pools()) {
            assertEquals(c.poolSize(), p.count().getInt(0));
        }
    }

    @ParameterizedTest
    @EnumSource(PoolPolicy.class)
    void firstLayerPoolHoldsTheExpectedNotes(PoolPolicy policy) {
        MemMambaConfig c = new MemMambaConfig(8, 1, 4, 2, 4, 4, 5, 0.1, 0.0, policy, 2, 2, Backend.REFERENCE,
                DataType.DOUBLE, 17L);
        MemMambaStack m = new MemMambaStack(c);
        Map<String, Parameter> ps = m.parameters().stream().collect(Collectors.toMap(Parameter::name,
                Function.identity()));
        // non-trivial norm weight and bias, so the independent computation below must use them
        ps.get("layers.0.norm_mem.weight").value().assign(randn(DataType.DOUBLE, 3, 8).muli(0.3).addi(1));
        ps.get("layers.0.note.b_imp").value().assign(0.05);
        int b = 2;
        int t = 200;
        int d = c.dModel();
        int ds = c.summaryDim();
        int k = c.poolSize();
        INDArray x = randn(DataType.DOUBLE, 41, b, t, d);
        NotePool pool = m.forward(x, null, false).state().pools().get(0);
        double[] xs = NdBuffers.toDoubles(x);
        double[] w = NdBuffers.toDoubles(ps.get("layers.0.norm_mem.weight").value());
        double[] wImp = NdBuffers.toDoubles(ps.get("layers.0.note.w_imp").value());
        double[] wSum = NdBuffers.toDoubles(ps.get("layers.0.note.w_sum").value());
        for (int bi = 0; bi < b; bi++) {
            // independent: i_t and s_t from the definitions, then the expected survivors
            List<double[]> notes = new ArrayList<>();
            for (int ti = 0; ti < t; ti++) {
                double ms = 0;
                for (int j = 0; j < d; j++) {
                    double v = xs[(bi * t + ti) * d + j];
                    ms += v * v / d;
                }
                double rr = 1 / Math.sqrt(ms + 1e-6);
                double[] u = new double[d];
                double i = 0.05;
                for (int j = 0; j < d; j++) {
                    u[j] = xs[(bi * t + ti) * d + j] * rr * w[j];
                    i += u[j] * wImp[j];
                }
                if (i <= c.tau1()) {
                    continue;
                }
                double[] note = new double[2 + ds];
                note[0] = ti;
                note[1] = i;
                double sig = 1 / (1 + Math.exp(-i));
                for (int e = 0; e < ds; e++) {
                    double s = 0;
                    for (int j = 0; j < d; j++) {
                        s += u[j] * wSum[j * ds + e];
                    }
                    note[2 + e] = sig * s;
                }
                notes.add(note);
            }
            assertTrue(notes.size() > 3 * k, "only " + notes.size() + " notes");
            List<double[]> kept = policy == PoolPolicy.FIFO ? notes.subList(notes.size() - k, notes.size())
                    : notes.stream().sorted(Comparator.comparingDouble((double[] n) -> -n[1])).limit(k)
                            .sorted(Comparator.comparingDouble((double[] n) -> n[0])).toList();
            assertEquals(k, pool.count().getInt(bi));
            for (int slot = 0; slot < k; slot++) {
                double[] n = kept.get(slot);
                assertEquals(n[1], pool.scores().getDouble(bi, slot), 1e-12, "score in slot " + slot + " (token "
                        + (int) n[0] + ")");
                for (int e = 0; e < ds; e++) {
                    assertEquals(n[2 + e], pool.summaries().getDouble(bi, slot, e), 1e-12, "summary slot " + slot);
                }
            }
        }
    }

    @Test
    void withoutWritesTheStackIsPlainMambaLayers() {
        MemMambaConfig c = new MemMambaConfig(8, 3, 4, 2, 4, 4, 4, Double.POSITIVE_INFINITY, -10.0, PoolPolicy.FIFO,
                1, 2, Backend.REFERENCE, DataType.DOUBLE, 23L);
        MemMambaStack m = new MemMambaStack(c);
        Map<String, Parameter> ps = m.parameters().stream().collect(Collectors.toMap(Parameter::name,
                Function.identity()));
        int b = 2;
        int t = 13;
        int d = c.dModel();
        List<Mamba1Block> plain = new ArrayList<>();
        List<INDArray> norms = new ArrayList<>();
        for (int l = 0; l < c.layers(); l++) {
            ps.get("layers." + l + ".norm.weight").value().assign(randn(DataType.DOUBLE, 50 + l, d).muli(0.3).addi(1));
            norms.add(ps.get("layers." + l + ".norm.weight").value());
            Mamba1Block blk = new Mamba1Block(c.mambaConfig(l).withSeed(999));
            for (Parameter p : blk.parameters()) {
                p.value().assign(ps.get("layers." + l + ".mamba." + p.name()).value());
            }
            plain.add(blk);
        }
        INDArray x = randn(DataType.DOUBLE, 61, b, t, d);
        INDArray dy = randn(DataType.DOUBLE, 62, b, t, d);
        Mixer.Forward<MemMambaState> f = m.forward(x, null, true);
        MemMambaTrace tr = MemMambaStack.trace(f);
        assertEquals(0, MemMambaTrace.total(tr.writes()));
        // independent: h ← h + Mamba1(RMSNorm(h)) per layer, y = Σ of the branches
        INDArray h = x.dup().reshape((long) b * t, d);
        INDArray y = Nd4j.zeros(DataType.DOUBLE, (long) b * t, d);
        List<Mixer.Forward<Mamba1State>> fs = new ArrayList<>();
        List<INDArray[]> nz = new ArrayList<>();
        List<INDArray> hs = new ArrayList<>();
        for (int l = 0; l < c.layers(); l++) {
            INDArray[] z = Fn.rmsNormRows(h, norms.get(l), 1e-6);
            Mixer.Forward<Mamba1State> mf = plain.get(l).forward(z[0].reshape(b, t, d), null, true);
            hs.add(h);
            nz.add(z);
            fs.add(mf);
            INDArray mo = mf.y().reshape((long) b * t, d);
            h = h.add(mo);
            y.addi(mo);
        }
        assertClose("y", f.y(), y.reshape(b, t, d), 1e-10);
        for (int l = 0; l < c.layers(); l++) {
            assertClose("mamba state " + l, f.state().mamba().get(l).ssm(), fs.get(l).state().ssm(), 1e-10);
            assertEquals(0, f.state().pools().get(l).count().getInt(0));
        }
        for (Parameter p : m.parameters()) {
            p.grad().assign(0);
        }
        Mixer.Backward<MemMambaState> g = m.backward(f, dy, null);
        INDArray dh = dy.dup().reshape((long) b * t, d);
        List<INDArray> dNorm = new ArrayList<>();
        for (int l = c.layers() - 1; l >= 0; l--) {
            INDArray dz = plain.get(l).backward(fs.get(l), dh.reshape(b, t, d), null).dx().reshape((long) b * t, d);
            INDArray[] nb = Fn.rmsNormRowsBackward(hs.get(l), norms.get(l), nz.get(l)[1], dz);
            dNorm.add(0, nb[1].reshape(d));
            dh = dh.add(nb[0]);
        }
        assertClose("dx", g.dx(), dh.sub(dy.reshape((long) b * t, d)).reshape(b, t, d), 1e-10);
        for (int l = 0; l < c.layers(); l++) {
            assertClose("dnorm " + l, ps.get("layers." + l + ".norm.weight").grad(), dNorm.get(l), 1e-10);
            for (Parameter p : plain.get(l).parameters()) {
                assertClose("d mamba " + l + " " + p.name(), ps.get("layers." + l + ".mamba." + p.name()).grad(),
                        p.grad(), 1e-10);
            }
        }
        // the memory path is inert without notes: its parameters get exactly zero gradient
        for (Parameter p : m.parameters()) {
            if (!p.name().contains(".mamba.") && !p.name().endsWith(".norm.weight")) {
                assertEquals(0.0, p.grad().amaxNumber().doubleValue(), 0.0, p.name());
            }
        }
    }
}
