package io.mnemo.modules.titans;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.Mixer;
import io.mnemo.core.NdBuffers;
import io.mnemo.core.Parameter;
import io.mnemo.core.kernel.Backend;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Titans MAC on the fast path (float, cpu attention and cpu memory) equals the double-precision reference path on
 * outputs, the returned state and every gradient (parameters, dx, dState), from the learned initial memory with a
 * carried open segment of 2 tokens, 13 new tokens and segments of 8: the call completes one segment and ends
 * inside the next.
 */
class TitansMacParityTest {
    private static TitansMacConfig config(DataType t, Backend be) {
        TitansOpConfig op = TitansOpConfig.defaults().withExpansion(2).withChunkSize(4).withBackend(be);
        return new TitansMacConfig(16, 2, 8, 3, op, 1.0, true, true, be, t, 21);
    }

    @Test
    void cpuFloatEqualsReferenceDouble() {
        TitansMacBlock ref = new TitansMacBlock(config(DataType.DOUBLE, Backend.REFERENCE));
        TitansMacBlock cpu = new TitansMacBlock(config(DataType.FLOAT, Backend.CPU));
        List<Parameter> pr = ref.parameters();
        List<Parameter> pc = cpu.parameters();
        assertEquals(pr.size(), pc.size());
        for (int i = 0; i < pr.size(); i++) {
            pc.get(i).value().assign(pr.get(i).value().castTo(DataType.FLOAT));
        }
        int b = 2;
        int t = 13;
        Nd4j.getRandom().setSeed(4);
        INDArray x = Nd4j.randn(DataType.DOUBLE, b, t, 16);
        INDArray dy = Nd4j.randn(DataType.DOUBLE, b, t, 16);
        INDArray buf = Nd4j.randn(DataType.DOUBLE, b, 2, 16);
        TitansMacState s0 = ref.initialState(b);
        TitansMacState sr = new TitansMacState(s0.memory(), buf, true);
        TitansMacState sc = new TitansMacState(cast(s0.memory()), buf.castTo(DataType.FLOAT), true);
        Mixer.Forward<TitansMacState> fr = ref.forward(x, sr, true);
        Mixer.Forward<TitansMacState> fc = cpu.forward(x.castTo(DataType.FLOAT), sc, true);
        close("y", fc.y(), fr.y());
        assertEquals(fr.state().buffered(), fc.state().buffered());
        close("state buffer", fc.state().buffer(), fr.state().buffer());
        for (int l = 0; l < fr.state().memory().memory().size(); l++) {
            close("state memory " + l, fc.state().memory().memory().get(l), fr.state().memory().memory().get(l));
            close("state momentum " + l, fc.state().memory().momentum().get(l), fr.state().memory().momentum().get(l));
        }
        TitansMacState gr = new TitansMacState(ones(fr.state().memory(), DataType.DOUBLE),
                Nd4j.ones(DataType.DOUBLE, fr.state().buffer().shape()), false);
        TitansMacState gc = new TitansMacState(ones(fr.state().memory(), DataType.FLOAT),
                Nd4j.ones(DataType.FLOAT, fr.state().buffer().shape()), false);
        Mixer.Backward<TitansMacState> br = ref.backward(fr, dy, gr);
        Mixer.Backward<TitansMacState> bc = cpu.backward(fc, dy.castTo(DataType.FLOAT), gc);
        close("dx", bc.dx(), br.dx());
        close("dState buffer", bc.dState().buffer(), br.dState().buffer());
        for (int l = 0; l < br.dState().memory().memory().size(); l++) {
            close("dState memory " + l, bc.dState().memory().memory().get(l), br.dState().memory().memory().get(l));
            close("dState momentum " + l, bc.dState().memory().momentum().get(l),
                    br.dState().memory().momentum().get(l));
        }
        for (int i = 0; i < pr.size(); i++) {
            close("grad " + pr.get(i).name(), pc.get(i).grad(), pr.get(i).grad());
        }
    }

    private static TitansState cast(TitansState s) {
        return new TitansState(s.memory().stream().map(a -> a.castTo(DataType.FLOAT)).toList(),
                s.momentum().stream().map(a -> a.castTo(DataType.FLOAT)).toList(), null, null, null, null, null);
    }

    private static TitansState ones(TitansState s, DataType t) {
        return new TitansState(s.memory().stream().map(a -> Nd4j.ones(t, a.shape()).muli(0.1)).toList(),
                s.momentum().stream().map(a -> Nd4j.ones(t, a.shape()).muli(-0.1)).toList(), null, null, null, null,
                null);
    }

    private static void close(String what, INDArray a, INDArray e) {
        double[] x = NdBuffers.toDoubles(a.castTo(DataType.DOUBLE));
        double[] y = NdBuffers.toDoubles(e.castTo(DataType.DOUBLE));
        assertEquals(y.length, x.length, what + " length");
        double diff = 0;
        double ref = 1e-6;
        for (int i = 0; i < x.length; i++) {
            assertTrue(Double.isFinite(x[i]), what + ": non-finite at " + i);
            diff = Math.max(diff, Math.abs(x[i] - y[i]));
            ref = Math.max(ref, Math.abs(y[i]));
        }
        assertTrue(diff / ref <= 2e-4, what + ": relative error " + diff / ref);
    }
}
