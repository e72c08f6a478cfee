package io.mnemo.modules.miras;

import io.mnemo.modules.titans.TitansActivation;
import java.util.Objects;

/**
 * The form of a Miras memory (its "memory architecture"): a function {@code M_W(x)} of a key or
 * query {@code x[Dk]} to a prediction {@code [Dv]} with flat weights {@code W} in the layout of
 * {@link #shape}. Besides reading, an architecture computes the inner gradient
 * {@code ∇_W ℓ(M_W(k), v)} for any {@link AttentionalBias}, and the exact backward of that gradient
 * (the second-order term of the outer gradient), built on the bias's {@link AttentionalBias#gradientVjp}.
 */
public interface MemoryArchitecture {
    /** Short name used in configs and messages. */
    String name();

    /**
     * The weight layout for key size dk and value size dv.
     *
     * @throws IllegalArgumentException when the architecture cannot map dk to dv
     */
    MemoryShape shape(int dk, int dv);

    /** {@code out = M_W(x)}. */
    void apply(MemoryShape s, double[] w, double[] x, double[] out);

    /** Accumulates {@code dW += (∂out/∂W)ᵀ dOut} and {@code dX += (∂out/∂x)ᵀ dOut}. */
    void applyVjp(MemoryShape s, double[] w, double[] x, double[] dOut, double[] dW, double[] dX);

    /** Writes {@code g = ∇_W ℓ(M_W(k), v; param)} (length P). */
    void innerGradient(MemoryShape s, double[] w, double[] k, double[] v, double param, AttentionalBias bias,
            double[] g);

    /**
     * Backward of {@link #innerGradient}: accumulates {@code (∂g/∂W)ᵀ dG} into dW, {@code (∂g/∂k)ᵀ dG} into
     * dK, {@code (∂g/∂v)ᵀ dG} into dV and returns {@code ∂⟨g, dG⟩/∂param}.
     */
    double innerGradientVjp(MemoryShape s, double[] w, double[] k, double[] v, double param, AttentionalBias bias,
            double[] dG, double[] dW, double[] dK, double[] dV);

    /** The matrix memory {@code M(x) = W x}, {@code W [Dv, Dk]} (the linear family; Titans depth 1). */
    record Linear() implements MemoryArchitecture {
        @Override
        public String name() {
            return "linear";
        }

        @Override
        public MemoryShape shape(int dk, int dv) {
            return new MemoryShape(new int[] {dv}, new int[] {dk});
        }

        @Override
        public void apply(MemoryShape s, double[] w, double[] x, double[] out) {
            Mat.mv(w, 0, s.rows(0), s.cols(0), x, out);
        }

        @Override
        public void applyVjp(MemoryShape s, double[] w, double[] x, double[] dOut, double[] dW, double[] dX) {
            Mat.addOuter(dW, 0, dOut, x, s.rows(0), s.cols(0));
            Mat.addMtv(w, 0, s.rows(0), s.cols(0), dOut, dX);
        }

        @Override
        public void innerGradient(MemoryShape s, double[] w, double[] k, double[] v, double param,
                AttentionalBias bias, double[] g) {
            int dv = s.rows(0);
            int dk = s.cols(0);
            double[] p = new double[dv];
            double[] e = new double[dv];
            Mat.mv(w, 0, dv, dk, k, p);
            bias.gradient(p, v, param, e);
            java.util.Arrays.fill(g, 0, dv * dk, 0);
            Mat.addOuter(g, 0, e, k, dv, dk);
        }

        @Override
        public double innerGradientVjp(MemoryShape s, double[] w, double[] k, double[] v, double param,
                AttentionalBias bias, double[] dG, double[] dW, double[] dK, double[] dV) {
            int dv = s.rows(0);
            int dk = s.cols(0);
            double[] p = new double[dv];
            double[] e = new double[dv];
            Mat.mv(w, 0, dv, dk, k, p);
            bias.gradient(p, v, param, e);
            // g = e kᵀ
            double[] de = new double[dv];
            Mat.mv(dG, 0, dv, dk, k, de);
            Mat.addMtv(dG, 0, dv, dk, e, dK);
            // e = ∂ℓ/∂p (p, v)
            double[] dp = new double[dv];
            double dParam = bias.gradientVjp(p, v, param, de, dp, dV);
            // p = W k
            Mat.addOuter(dW, 0, dp, k, dv, dk);
            Mat.addMtv(w, 0, dv, dk, dp, dK);
            return dParam;
        }
    }

    /**
     * A two-layer MLP with residual, {@code M(x) = x + W₂ σ(W₁ x)}, {@code W₁ [E·D, D]}, {@code W₂ [D, E·D]}
     * (Titans depth 2; the Miras presets' memory). Needs {@code Dk = Dv = D}.
     *
     * @param expansion hidden width factor E ≥ 1
     * @param activation σ, with the first and second derivatives the backward needs
     */
    record Mlp(int expansion, TitansActivation activation) implements MemoryArchitecture {
        public Mlp {
            Objects.requireNonNull(activation, "activation");
            if (expansion < 1) {
                throw new IllegalArgumentException("expansion must be >= 1, got expansion=" + expansion);
            }
        }

        @Override
        public String name() {
            return "mlp";
        }

        @Override
        public MemoryShape shape(int dk, int dv) {
            if (dk != dv) {
                throw new IllegalArgumentException("the residual MLP memory needs Dk == Dv, got Dk=" + dk + ", Dv=" + dv);
            }
            int h = expansion * dk;
            return new MemoryShape(new int[] {h, dk}, new int[] {dk, h});
        }

        /** Hidden pre-activation z = W₁x, activation h = σ(z), output p = x + W₂ h. */
        private void run(MemoryShape s, double[] w, double[] x, double[] z, double[] h, double[] p) {
            int hid = s.rows(0);
            int d = s.cols(0);
            Mat.mv(w, 0, hid, d, x, z);
            for (int i = 0; i < hid; i++) {
                h[i] = activation.value(z[i]);
            }
            Mat.mv(w, s.offset(1), d, hid, h, p);
            for (int i = 0; i < d; i++) {
                p[i] += x[i];
            }
        }

        @Override
        public void apply(MemoryShape s, double[] w, double[] x, double[] out) {
            int hid = s.rows(0);
            run(s, w, x, new double[hid], new double[hid], out);
        }

        @Override
        public void applyVjp(MemoryShape s, double[] w, double[] x, double[] dOut, double[] dW, double[] dX) {
            int hid = s.rows(0);
            int d = s.cols(0);
            double[] z = new double[hid];
            double[] h = new double[hid];
            run(s, w, x, z, h, new double[d]);
            for (int i = 0; i < d; i++) {
                dX[i] += dOut[i];
            }
            Mat.addOuter(dW, s.offset(1), dOut, h, d, hid);
            double[] dz = new double[hid];
            Mat.addMtv(w, s.offset(1), d, hid, dOut, dz);
            for (int i = 0; i < hid; i++) {
                dz[i] *= activation.d1(z[i]);
            }
            Mat.addOuter(dW, 0, dz, x, hid, d);
            Mat.addMtv(w, 0, hid, d, dz, dX);
        }

        @Override
        public void innerGradient(MemoryShape s, double[] w, double[] k, double[] v, double param,
                AttentionalBias bias, double[] g) {
            int hid = s.rows(0);
            int d = s.cols(0);
            double[] z = new double[hid];
            double[] h = new double[hid];
            double[] p = new double[d];
            run(s, w, k, z, h, p);
            double[] e = new double[d];
            bias.gradient(p, v, param, e);
            java.util.Arrays.fill(g, 0, s.size(), 0);
            Mat.addOuter(g, s.offset(1), e, h, d, hid);
            double[] dz = new double[hid];
            Mat.addMtv(w, s.offset(1), d, hid, e, dz);
            for (int i = 0; i < hid; i++) {
                dz[i] *= activation.d1(z[i]);
            }
            Mat.addOuter(g, 0, dz, k, hid, d);
        }

        @Override
        public double innerGradientVjp(MemoryShape s, double[] w, double[] k, double[] v, double param,
                AttentionalBias bias, double[] dG, double[] dW, double[] dK, double[] dV) {
            int hid = s.rows(0);
            int d = s.cols(0);
            int o2 = s.offset(1);
            double[] z = new double[hid];
            double[] h = new double[hid];
            double[] p = new double[d];
            run(s, w, k, z, h, p);
            double[] e = new double[d];
            bias.gradient(p, v, param, e);
            double[] r = new double[hid];
            Mat.addMtv(w, o2, d, hid, e, r);
            double[] dz = new double[hid];
            // g₁ = δz kᵀ, δz = r ⊙ σ'(z)
            double[] dDz = new double[hid];
            Mat.mv(dG, 0, hid, d, k, dDz);
            double[] delta = new double[hid];
            for (int i = 0; i < hid; i++) {
                delta[i] = r[i] * activation.d1(z[i]);
            }
            Mat.addMtv(dG, 0, hid, d, delta, dK);
            double[] dr = new double[hid];
            for (int i = 0; i < hid; i++) {
                dr[i] = dDz[i] * activation.d1(z[i]);
                dz[i] += dDz[i] * r[i] * activation.d2(z[i]);
            }
            // r = W₂ᵀ e
            Mat.addOuter(dW, o2, e, dr, d, hid);
            double[] de = new double[d];
            Mat.mv(w, o2, d, hid, dr, de);
            // g₂ = e hᵀ
            double[] dh = new double[hid];
            for (int i = 0; i < d; i++) {
                double acc = 0;
                for (int j = 0; j < hid; j++) {
                    acc += dG[o2 + i * hid + j] * h[j];
                }
                de[i] += acc;
            }
            Mat.addMtv(dG, o2, d, hid, e, dh);
            // e = ∂ℓ/∂p
            double[] dp = new double[d];
            double dParam = bias.gradientVjp(p, v, param, de, dp, dV);
            // p = k + W₂ h
            for (int i = 0; i < d; i++) {
                dK[i] += dp[i];
            }
            Mat.addOuter(dW, o2, dp, h, d, hid);
            Mat.addMtv(w, o2, d, hid, dp, dh);
            // h = σ(z), z = W₁ k
            for (int i = 0; i < hid; i++) {
                dz[i] += dh[i] * activation.d1(z[i]);
            }
            Mat.addOuter(dW, 0, dz, k, hid, d);
            Mat.addMtv(w, 0, hid, d, dz, dK);
            return dParam;
        }
    }
}
