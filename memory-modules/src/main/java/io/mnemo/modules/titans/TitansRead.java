package io.mnemo.modules.titans;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.Shapes;
import io.mnemo.core.kernel.Backend;
import io.mnemo.core.kernel.VectorSupport;
import io.mnemo.modules.titans.Tape.Var;
import java.util.List;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Retrieval from given memory weights without any write: {@code y_t = M(q_t)} for every token, and its
 * backward. Used through {@link TitansOps#read} and {@link TitansOps#readBackward}, e.g. by a MAC block
 * that retrieves for a segment with the memory committed before it and again after the segment's
 * writes. Reference backend on the {@link Tape} in double, cpu backend on {@link CpuTitansMath}, nd4j
 * backend as batched ND4J matmuls ({@link Nd4jTitansKernel}).
 */
final class TitansRead {
    private TitansRead() {}

    /** Checks q {@code [B, T, H, D]} and the memory layers against {@code cfg}; returns {B, T, H, D}. */
    static int[] validate(TitansOpConfig cfg, INDArray q, List<INDArray> memory) {
        Shapes.requireRank("q", q, "[B, T, H, D]", 4);
        DataType type = Shapes.requireFloating("q", q);
        int[] s = {(int) q.size(0), (int) q.size(1), (int) q.size(2), (int) q.size(3)};
        if (memory == null) {
            throw new IllegalArgumentException("memory is missing: expected one [B, H, rows, cols] array per layer");
        }
        new TitansState(memory, null, null, null, null, null, null)
                .validate("read", cfg.withMomentum(false), s[0], s[2], s[3], type, cfg.checkInputs());
        if (cfg.checkInputs()) {
            Shapes.requireFinite("q", q);
        }
        return s;
    }

    static INDArray forward(TitansOpConfig cfg, INDArray q, List<INDArray> memory) {
        int[] s = validate(cfg, q, memory);
        return run(cfg, s, q, memory, null, null);
    }

    /** @return {dq, dMemory layer 0, dMemory layer 1, …} */
    static INDArray[] backward(TitansOpConfig cfg, INDArray q, List<INDArray> memory, INDArray dY) {
        int[] s = validate(cfg, q, memory);
        Shapes.require("dY", dY, "[B, T, H, D]", s[0], s[1], s[2], s[3]);
        INDArray[] out = new INDArray[1 + memory.size()];
        run(cfg, s, q, memory, dY, out);
        return out;
    }

    /** Forward (grads == null) or backward into {@code grads}. */
    private static INDArray run(TitansOpConfig cfg, int[] s, INDArray q, List<INDArray> memory, INDArray dY,
            INDArray[] grads) {
        if (cfg.backend().resolve() == Backend.ND4J) {
            return Nd4jTitansKernel.read(cfg, q, memory, dY, grads);
        }
        int b = s[0];
        int t = s[1];
        int h = s[2];
        int d = s[3];
        MemoryLayout m = cfg.layout(d);
        int p = m.size();
        DataType type = q.dataType();
        double[] w = TitansSeq.flatten(memory, m, b * h);
        double[] qs = t == 0 ? new double[0] : NdBuffers.toDoubles(q);
        double[] dy = grads == null || t == 0 ? null : NdBuffers.toDoubles(dY);
        double[] y = new double[qs.length];
        double[] dq = new double[qs.length];
        double[] dw = new double[w.length];
        switch (cfg.backend().resolve()) {
            case REFERENCE -> {
                for (int bh = 0; bh < b * h; bh++) {
                    Tape tape = new Tape();
                    Var[] wl = new Var[m.depth()];
                    for (int l = 0; l < m.depth(); l++) {
                        wl[l] = tape.leaf(w, bh * p + m.offset(l), m.rows(l), m.cols(l));
                    }
                    Var[] qv = new Var[t];
                    for (int i = 0; i < t; i++) {
                        int o = off(bh, i, t, h, d);
                        qv[i] = tape.leaf(qs, o, d, 1);
                        Var yi = ReferenceTitansKernel.apply(tape, cfg, wl, qv[i]);
                        System.arraycopy(yi.v, 0, y, o, d);
                        if (dy != null) {
                            System.arraycopy(dy, o, yi.grad(), 0, d);
                        }
                    }
                    if (dy != null) {
                        tape.backward();
                        for (int l = 0; l < m.depth(); l++) {
                            if (wl[l].hasGrad()) {
                                System.arraycopy(wl[l].grad(), 0, dw, bh * p + m.offset(l), wl[l].v.length);
                            }
                        }
                        for (int i = 0; i < t; i++) {
                            if (qv[i].hasGrad()) {
                                System.arraycopy(qv[i].grad(), 0, dq, off(bh, i, t, h, d), d);
                            }
                        }
                    }
                }
            }
            case CPU -> {
                float[] wf = floats(w);
                float[] qf = floats(qs);
                float[] dyf = dy == null ? null : floats(dy);
                float[] yf = new float[qs.length];
                float[] dqf = new float[qs.length];
                float[] dwf = new float[w.length];
                IntStream.range(0, b * h).parallel().forEach(bh -> {
                    CpuTitansMath mm = new CpuTitansMath(cfg, m, VectorSupport.ops());
                    for (int i = 0; i < t; i++) {
                        int o = off(bh, i, t, h, d);
                        mm.read(wf, bh * p, qf, o, yf, o);
                        if (dyf != null) {
                            mm.readBackward(wf, bh * p, dyf, o, dwf, bh * p, dqf, o);
                        }
                    }
                });
                for (int i = 0; i < y.length; i++) {
                    y[i] = yf[i];
                    dq[i] = dqf[i];
                }
                for (int i = 0; i < dw.length; i++) {
                    dw[i] = dwf[i];
                }
            }
            default -> throw new IllegalStateException("unexpected backend " + cfg.backend().resolve());
        }
        if (grads != null) {
            grads[0] = NdBuffers.of(type, dq, b, t, h, d);
            List<INDArray> dl = TitansSeq.unflatten(type, dw, m, b, h);
            for (int l = 0; l < dl.size(); l++) {
                grads[1 + l] = dl.get(l);
            }
        }
        return NdBuffers.of(type, y, b, t, h, d);
    }

    /** Offset of token i of sequence bh = b·H + h in a {@code [B, T, H, D]} array. */
    private static int off(int bh, int i, int t, int h, int d) {
        return (((bh / h) * t + i) * h + bh % h) * d;
    }

    private static float[] floats(double[] x) {
        float[] f = new float[x.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) x[i];
        }
        return f;
    }
}
