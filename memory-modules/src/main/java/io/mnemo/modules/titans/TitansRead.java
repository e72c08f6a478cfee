package io.mnemo.modules.titans;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.Shapes;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A read of a Titans memory without an update (Behrouz et al. 2024, eq. 15, {@code y = M*(q)}): evaluates each
 * head's memory MLP at fixed weights, with its exact backward. The MLP is the one of {@link TitansOps}
 * (as in {@code ReferenceTitansKernel}): {@code M(x) = W x} for depth 1, {@code M(x) = x + W_L σ(… σ(W_1 x))} for
 * depth ≥ 2. Used by Titans MAC to retrieve {@code h_t = M*_{t−1}(q_t)} from the memory at a segment start.
 *
 * <p>Per-(batch, head) loops in double precision; the cost is {@code B·T·H·P} multiply-adds (P = weights of one
 * head's memory), small next to the memory update itself.
 */
public final class TitansRead {
    private TitansRead() {}

    /**
     * What {@link #backward} needs.
     *
     * @param y the read values {@code [B, T, H, D]} in q's data type
     */
    public record Result(INDArray y, TitansOpConfig config, MemoryLayout layout, double[][] w, double[] q,
            double[][] z, int b, int t, int h, int d, DataType type) {}

    /**
     * Gradients of {@code Σ y·dY}.
     *
     * @param dq {@code [B, T, H, D]}
     * @param dMemory one array per layer {@code [B, H, rows, cols]}
     */
    public record Grads(INDArray dq, List<INDArray> dMemory) {}

    /**
     * Reads the memory.
     *
     * @param memory one array per layer {@code [B, H, rows(l), cols(l)]} (a {@link TitansState#memory()})
     * @param q queries {@code [B, T, H, D]}
     */
    public static Result forward(TitansOpConfig cfg, List<INDArray> memory, INDArray q) {
        Shapes.requireRank("q", q, "[B, T, H, D]", 4);
        DataType type = Shapes.requireFloating("q", q);
        int b = (int) q.size(0);
        int t = (int) q.size(1);
        int h = (int) q.size(2);
        int d = (int) q.size(3);
        MemoryLayout m = cfg.layout(d);
        if (memory == null || memory.size() != m.depth()) {
            throw new IllegalArgumentException("memory has " + (memory == null ? 0 : memory.size())
                    + " layers, expected depth=" + m.depth());
        }
        double[][] w = new double[m.depth()][];
        for (int l = 0; l < m.depth(); l++) {
            Shapes.require("memory[" + l + "]", memory.get(l), "[B, H, rows, cols]", b, h, m.rows(l), m.cols(l));
            w[l] = NdBuffers.toDoubles(memory.get(l));
        }
        double[] qd = NdBuffers.toDoubles(q);
        double[] y = new double[qd.length];
        double[][] z = new double[m.depth()][];
        for (int l = 0; l < m.depth(); l++) {
            z[l] = new double[b * t * h * m.rows(l)];
        }
        double[] a = new double[m.maxWidth()];
        double[] an = new double[m.maxWidth()];
        for (int bi = 0; bi < b; bi++) {
            for (int ti = 0; ti < t; ti++) {
                for (int hi = 0; hi < h; hi++) {
                    int row = (bi * t + ti) * h + hi;
                    int bh = bi * h + hi;
                    System.arraycopy(qd, row * d, a, 0, d);
                    for (int l = 0; l < m.depth(); l++) {
                        int rows = m.rows(l);
                        int cols = m.cols(l);
                        int wo = bh * rows * cols;
                        for (int r = 0; r < rows; r++) {
                            double s = 0;
                            for (int c = 0; c < cols; c++) {
                                s += w[l][wo + r * cols + c] * a[c];
                            }
                            z[l][row * rows + r] = s;
                            an[r] = l < m.depth() - 1 ? cfg.activation().value(s) : s;
                        }
                        System.arraycopy(an, 0, a, 0, rows);
                    }
                    for (int i = 0; i < d; i++) {
                        y[row * d + i] = a[i] + (m.residual() ? qd[row * d + i] : 0);
                    }
                }
            }
        }
        return new Result(NdBuffers.of(type, y, b, t, h, d), cfg, m, w, qd, z, b, t, h, d, type);
    }

    /** The exact gradient of {@link #forward} with respect to q and the memory weights. */
    public static Grads backward(Result r, INDArray dY) {
        Shapes.require("dY", dY, "[B, T, H, D]", r.b(), r.t(), r.h(), r.d());
        MemoryLayout m = r.layout();
        int depth = m.depth();
        int d = r.d();
        double[] dy = NdBuffers.toDoubles(dY);
        double[] dq = new double[dy.length];
        double[][] dw = new double[depth][];
        for (int l = 0; l < depth; l++) {
            dw[l] = new double[r.w()[l].length];
        }
        int width = m.maxWidth();
        double[] delta = new double[width];
        double[] prev = new double[width];
        double[] in = new double[width];
        for (int bi = 0; bi < r.b(); bi++) {
            for (int ti = 0; ti < r.t(); ti++) {
                for (int hi = 0; hi < r.h(); hi++) {
                    int row = (bi * r.t() + ti) * r.h() + hi;
                    int bh = bi * r.h() + hi;
                    System.arraycopy(dy, row * d, delta, 0, d);
                    for (int l = depth - 1; l >= 0; l--) {
                        int rows = m.rows(l);
                        int cols = m.cols(l);
                        int wo = bh * rows * cols;
                        // input of layer l: q for l = 0, σ(z_{l−1}) otherwise
                        for (int c = 0; c < cols; c++) {
                            in[c] = l == 0 ? r.q()[row * d + c] : r.config().activation().value(r.z()[l - 1][row * cols + c]);
                        }
                        for (int c = 0; c < cols; c++) {
                            prev[c] = 0;
                        }
                        for (int rr = 0; rr < rows; rr++) {
                            double g = delta[rr];
                            for (int c = 0; c < cols; c++) {
                                dw[l][wo + rr * cols + c] += g * in[c];
                                prev[c] += g * r.w()[l][wo + rr * cols + c];
                            }
                        }
                        if (l > 0) {
                            for (int c = 0; c < cols; c++) {
                                delta[c] = prev[c] * r.config().activation().d1(r.z()[l - 1][row * cols + c]);
                            }
                        } else {
                            for (int c = 0; c < cols; c++) {
                                dq[row * d + c] = prev[c] + (m.residual() ? dy[row * d + c] : 0);
                            }
                        }
                    }
                }
            }
        }
        List<INDArray> dMem = new ArrayList<>();
        for (int l = 0; l < depth; l++) {
            dMem.add(NdBuffers.of(r.type(), dw[l], r.b(), r.h(), m.rows(l), m.cols(l)));
        }
        return new Grads(NdBuffers.of(r.type(), dq, r.b(), r.t(), r.h(), r.d()), dMem);
    }
}
