package io.mnemo.modules.attention;

import io.mnemo.core.NdBuffers;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The {@code reference} backend: softmax attention with the whole score row materialised, in double
 * precision, one query row at a time (Vaswani et al. 2017, "Attention Is All You Need", eq. 1, with a
 * causal and optionally windowed mask). Slow and exact; the ground truth of tests.
 *
 * <pre>
 *   s_ij = scale · q_i·k_j  if visible(P+i, j), else −∞           q [B,Tq,H,Dk], k [B,Tk,H,Dk]
 *   p_ij = exp(s_ij − max_j s_ij) / Σ_j exp(s_ij − max_j s_ij)
 *   o_i  = Σ_j p_ij v_j                                             v [B,Tk,H,Dv], o [B,Tq,H,Dv]
 *   lse_i = max_j s_ij + log Σ_j exp(s_ij − max_j s_ij)
 * </pre>
 * Backward recomputes the probability row {@code p_i} the same way (it does not use the saved lse, so it is an
 * independent check of the fast backends' lse-based recomputation):
 * <pre>
 *   dv_j += p_ij dO_i;   dp_ij = dO_i·v_j;   ds_ij = p_ij (dp_ij − Σ_l p_il dp_il)
 *   dq_i = scale Σ_j ds_ij k_j;   dk_j += scale ds_ij q_i
 * </pre>
 */
public final class ReferenceAttentionKernel implements AttentionKernel {

    /** The inputs as doubles. */
    record Saved(double[] q, double[] k, double[] v, double scale) {}

    @Override
    public AttentionForward forward(AttentionOpConfig cfg, AttentionDims d, AttentionInputs in, boolean save) {
        Saved s = new Saved(NdBuffers.toDoubles(in.q()), NdBuffers.toDoubles(in.k()), NdBuffers.toDoubles(in.v()),
                cfg.scaleFor(d.dk()));
        double[] o = new double[d.b() * d.tq() * d.h() * d.dv()];
        double[] lse = new double[d.b() * d.tq() * d.h()];
        double[] p = new double[d.tk()];
        for (int b = 0; b < d.b(); b++) {
            for (int h = 0; h < d.h(); h++) {
                for (int i = 0; i < d.tq(); i++) {
                    int row = d.qrow(b, i, h);
                    lse[row] = probabilities(cfg, d, s, b, h, i, p);
                    for (int j = 0; j < d.tk(); j++) {
                        int vo = d.krow(b, j, h) * d.dv();
                        for (int c = 0; c < d.dv(); c++) {
                            o[row * d.dv() + c] += p[j] * s.v()[vo + c];
                        }
                    }
                }
            }
        }
        DataType t = in.q().dataType();
        return new AttentionForward(NdBuffers.of(t, o, d.b(), d.tq(), d.h(), d.dv()),
                NdBuffers.of(t, lse, d.b(), d.tq(), d.h()), cfg, d, in, save ? s : null);
    }

    /** Fills {@code p[0..Tk)} with the softmax row of query (b, i, h) (0 where masked); returns its lse. */
    private static double probabilities(AttentionOpConfig cfg, AttentionDims d, Saved s, int b, int h, int i,
            double[] p) {
        int a = d.prefix() + i;
        int qo = d.qrow(b, i, h) * d.dk();
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < d.tk(); j++) {
            if (!cfg.visible(a, j)) {
                p[j] = Double.NEGATIVE_INFINITY;
                continue;
            }
            int ko = d.krow(b, j, h) * d.dk();
            double dot = 0;
            for (int c = 0; c < d.dk(); c++) {
                dot += s.q()[qo + c] * s.k()[ko + c];
            }
            p[j] = s.scale() * dot;
            max = Math.max(max, p[j]);
        }
        double sum = 0;
        for (int j = 0; j < d.tk(); j++) {
            p[j] = p[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(p[j] - max);
            sum += p[j];
        }
        for (int j = 0; j < d.tk(); j++) {
            p[j] /= sum;
        }
        return max + Math.log(sum);
    }

    @Override
    public AttentionGrads backward(AttentionForward fwd, INDArray dO) {
        if (!(fwd.saved() instanceof Saved s)) {
            throw new IllegalArgumentException("backward needs a forward run by the reference backend with save=true");
        }
        AttentionDims d = fwd.dims();
        AttentionOpConfig cfg = fwd.config();
        double[] g = NdBuffers.toDoubles(dO);
        double[] dq = new double[s.q().length];
        double[] dk = new double[s.k().length];
        double[] dv = new double[s.v().length];
        double[] p = new double[d.tk()];
        double[] dp = new double[d.tk()];
        for (int b = 0; b < d.b(); b++) {
            for (int h = 0; h < d.h(); h++) {
                for (int i = 0; i < d.tq(); i++) {
                    probabilities(cfg, d, s, b, h, i, p);
                    int row = d.qrow(b, i, h);
                    int go = row * d.dv();
                    int qo = row * d.dk();
                    double pdp = 0;
                    for (int j = 0; j < d.tk(); j++) {
                        int vo = d.krow(b, j, h) * d.dv();
                        double x = 0;
                        for (int c = 0; c < d.dv(); c++) {
                            dv[vo + c] += p[j] * g[go + c];
                            x += g[go + c] * s.v()[vo + c];
                        }
                        dp[j] = x;
                        pdp += p[j] * x;
                    }
                    for (int j = 0; j < d.tk(); j++) {
                        double ds = p[j] * (dp[j] - pdp);
                        if (ds == 0) {
                            continue;
                        }
                        int ko = d.krow(b, j, h) * d.dk();
                        for (int c = 0; c < d.dk(); c++) {
                            dq[qo + c] += s.scale() * ds * s.k()[ko + c];
                            dk[ko + c] += s.scale() * ds * s.q()[qo + c];
                        }
                    }
                }
            }
        }
        DataType t = fwd.inputs().q().dataType();
        return new AttentionGrads(NdBuffers.of(t, dq, d.b(), d.tq(), d.h(), d.dk()),
                NdBuffers.of(t, dk, d.b(), d.tk(), d.h(), d.dk()), NdBuffers.of(t, dv, d.b(), d.tk(), d.h(), d.dv()));
    }
}
