package io.mnemo.modules.memmamba;

import static io.mnemo.modules.memmamba.MemMambaTestData.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.Mixer;
import io.mnemo.core.NdBuffers;
import io.mnemo.core.Parameter;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.mamba.Mamba1State;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The stack's forward against a naive, independent transcription of the equations in
 * docs/modules/memmamba.md: token by token, layer by layer, pools as Java lists, attention written
 * out per head, the Mamba-1 blocks driven one token at a time through their {@code step}. This checks
 * what the forward computes (the read before the write, the gate, the cross-layer snapshot after the
 * earlier layers' write at t, the eviction rules, the fusion), which the gradient check cannot.
 */
class MemMambaNaiveForwardTest {
    private record Note(double[] s, double score) {}

    @ParameterizedTest
    @EnumSource(PoolPolicy.class)
    void forwardMatchesNaiveTranscriptionOfTheEquations(PoolPolicy policy) {
        MemMambaConfig c = new MemMambaConfig(6, 4, 3, 2, 3, 4, 3, 0.1, -0.2, policy, 2, 2, Backend.REFERENCE,
                DataType.DOUBLE, 77L);
        MemMambaStack m = new MemMambaStack(c);
        Map<String, Parameter> ps = m.parameters().stream().collect(Collectors.toMap(Parameter::name,
                Function.identity()));
        for (Parameter p : m.parameters()) {
            if (p.name().endsWith("norm_mem.weight") || p.name().endsWith(".b_imp") || p.name().endsWith(".b_state")) {
                p.value().addi(randn(DataType.DOUBLE, p.name().hashCode(), p.value().shape()).muli(0.2));
            }
        }
        int b = 2;
        int t = 25;
        int d = c.dModel();
        int ds = c.summaryDim();
        int k = c.poolSize();
        int nl = c.layers();
        INDArray x = randn(DataType.DOUBLE, 5, b, t, d);
        MemMambaState s0 = MemMambaTestData.randomState(c, b, new int[] {2, 0}, 6);
        Mixer.Forward<MemMambaState> f = m.forward(x, s0, true);
        MemMambaTrace tr = MemMambaStack.trace(f);
        for (int l = 0; l < nl; l++) {
            assertTrue(tr.evictions()[l] > 0 && tr.reads()[l] > 0 && tr.reads()[l] < b * t,
                    "evictions " + Arrays.toString(tr.evictions()) + " reads " + Arrays.toString(tr.reads()));
        }
        assertTrue(tr.crossReads()[1] > 0 && tr.crossReads()[3] > 0, Arrays.toString(tr.crossReads()));

        // the naive transcription
        List<List<List<Note>>> pools = new ArrayList<>();
        for (int l = 0; l < nl; l++) {
            List<List<Note>> pl = new ArrayList<>();
            NotePool p = s0.pools().get(l);
            for (int bi = 0; bi < b; bi++) {
                List<Note> notes = new ArrayList<>();
                for (int slot = 0; slot < p.count().getInt(bi); slot++) {
                    double[] sv = new double[ds];
                    for (int e = 0; e < ds; e++) {
                        sv[e] = p.summaries().getDouble(bi, slot, e);
                    }
                    notes.add(new Note(sv, p.scores().getDouble(bi, slot)));
                }
                pl.add(notes);
            }
            pools.add(pl);
        }
        List<Mamba1State> ms = new ArrayList<>(s0.mamba());
        double[] xs = NdBuffers.toDoubles(x);
        double[][] y = new double[b * t][d];
        for (int ti = 0; ti < t; ti++) {
            double[][] h = new double[b][d];
            for (int bi = 0; bi < b; bi++) {
                System.arraycopy(xs, (bi * t + ti) * d, h[bi], 0, d);
            }
            for (int l = 0; l < nl; l++) {
                String pre = "layers." + l + ".";
                double[][] xp = new double[b][];
                for (int bi = 0; bi < b; bi++) {
                    double[] u = rms(h[bi], vec(ps, pre + "norm_mem.weight"));
                    double i = dot(u, vec(ps, pre + "note.w_imp")) + vec(ps, pre + "note.b_imp")[0];
                    double j = dot(u, vec(ps, pre + "read.w_state")) + vec(ps, pre + "read.b_state")[0];
                    double[] sum = scale(matvec(u, ps.get(pre + "note.w_sum").value()), sig(i));
                    xp[bi] = h[bi].clone();
                    List<Note> own = pools.get(l).get(bi);
                    if (j > c.tau2() && !own.isEmpty()) {
                        double[] cc = attention(c, matvec(u, ps.get(pre + "read.w_q").value()), own,
                                ps.get(pre + "read.w_k").value(), ps.get(pre + "read.w_v").value(),
                                ps.get(pre + "read.w_o").value());
                        for (int e = 0; e < d; e++) {
                            xp[bi][e] += sig(j) * cc[e];
                        }
                    }
                    if (l >= 1 && l % c.crossLayerPeriod() == c.crossLayerPeriod() - 1) {
                        List<Note> all = new ArrayList<>();
                        for (int lp = 0; lp < l; lp++) {
                            all.addAll(pools.get(lp).get(bi));
                        }
                        if (!all.isEmpty()) {
                            double[] ee = attention(c, matvec(u, ps.get(pre + "cross.w_q").value()), all,
                                    ps.get(pre + "cross.w_k").value(), ps.get(pre + "cross.w_v").value(),
                                    ps.get(pre + "cross.w_o").value());
                            for (int e = 0; e < d; e++) {
                                xp[bi][e] += ee[e];
                            }
                        }
                    }
                    // the write, after the read
                    if (i > c.tau1()) {
                        if (own.size() < k) {
                            own.add(new Note(sum, i));
                        } else if (policy == PoolPolicy.FIFO) {
                            own.remove(0);
                            own.add(new Note(sum, i));
                        } else {
                            int victim = 0;
                            for (int q = 1; q < own.size(); q++) {
                                if (own.get(q).score() < own.get(victim).score()) {
                                    victim = q;
                                }
                            }
                            if (i > own.get(victim).score()) {
                                own.remove(victim);
                                own.add(new Note(sum, i));
                            }
                        }
                    }
                }
                double[] z = new double[b * d];
                for (int bi = 0; bi < b; bi++) {
                    System.arraycopy(rms(xp[bi], vec(ps, pre + "norm.weight")), 0, z, bi * d, d);
                }
                Mixer.Step<Mamba1State> st = m.mambaBlock(l).step(NdBuffers.ofDoubles(z, b, d), ms.get(l));
                ms.set(l, st.state());
                double[] mo = NdBuffers.toDoubles(st.y());
                for (int bi = 0; bi < b; bi++) {
                    for (int e = 0; e < d; e++) {
                        h[bi][e] += mo[bi * d + e];
                        y[bi * t + ti][e] += mo[bi * d + e];
                    }
                }
            }
        }
        double[] got = NdBuffers.toDoubles(f.y());
        for (int r = 0; r < b * t; r++) {
            for (int e = 0; e < d; e++) {
                assertEquals(y[r][e], got[r * d + e], 1e-10, "y at row " + r + ", column " + e);
            }
        }
        for (int l = 0; l < nl; l++) {
            NotePool p = f.state().pools().get(l);
            for (int bi = 0; bi < b; bi++) {
                List<Note> notes = pools.get(l).get(bi);
                assertEquals(notes.size(), p.count().getInt(bi), "count of layer " + l);
                for (int slot = 0; slot < notes.size(); slot++) {
                    assertEquals(notes.get(slot).score(), p.scores().getDouble(bi, slot), 1e-12);
                    for (int e = 0; e < ds; e++) {
                        assertEquals(notes.get(slot).s()[e], p.summaries().getDouble(bi, slot, e), 1e-12);
                    }
                }
            }
            MemMambaTestData.assertClose("mamba ssm " + l, f.state().mamba().get(l).ssm(), ms.get(l).ssm(), 1e-10);
        }
    }

    /** Multi-head softmax attention of q over the notes' summaries, then the output projection. */
    private static double[] attention(MemMambaConfig c, double[] q, List<Note> notes, INDArray wk, INDArray wv,
            INDArray wo) {
        int dh = c.headDim();
        double[] a = new double[c.summaryDim()];
        List<double[]> keys = notes.stream().map(n -> matvec(n.s(), wk)).toList();
        List<double[]> vals = notes.stream().map(n -> matvec(n.s(), wv)).toList();
        for (int hh = 0; hh < c.heads(); hh++) {
            double[] logit = new double[notes.size()];
            double max = Double.NEGATIVE_INFINITY;
            for (int e = 0; e < notes.size(); e++) {
                for (int q2 = 0; q2 < dh; q2++) {
                    logit[e] += q[hh * dh + q2] * keys.get(e)[hh * dh + q2] / Math.sqrt(dh);
                }
                max = Math.max(max, logit[e]);
            }
            double z = 0;
            for (int e = 0; e < notes.size(); e++) {
                logit[e] = Math.exp(logit[e] - max);
                z += logit[e];
            }
            for (int e = 0; e < notes.size(); e++) {
                for (int q2 = 0; q2 < dh; q2++) {
                    a[hh * dh + q2] += logit[e] / z * vals.get(e)[hh * dh + q2];
                }
            }
        }
        return matvec(a, wo);
    }

    private static double[] vec(Map<String, Parameter> ps, String name) {
        return NdBuffers.toDoubles(ps.get(name).value());
    }

    private static double[] rms(double[] v, double[] w) {
        double s = 0;
        for (double x : v) {
            s += x * x / v.length;
        }
        double r = 1 / Math.sqrt(s + 1e-6);
        double[] o = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            o[i] = v[i] * r * w[i];
        }
        return o;
    }

    /** {@code v W} for W {@code [len(v), n]}. */
    private static double[] matvec(double[] v, INDArray w) {
        double[] wd = NdBuffers.toDoubles(w);
        int n = (int) w.size(1);
        double[] o = new double[n];
        for (int i = 0; i < v.length; i++) {
            for (int j = 0; j < n; j++) {
                o[j] += v[i] * wd[i * n + j];
            }
        }
        return o;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    private static double[] scale(double[] v, double f) {
        double[] o = v.clone();
        for (int i = 0; i < o.length; i++) {
            o[i] *= f;
        }
        return o;
    }

    private static double sig(double v) {
        return 1 / (1 + Math.exp(-v));
    }
}
