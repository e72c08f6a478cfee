package io.mnemo.modules.mamba;

import io.mnemo.core.kernel.VectorSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The per-token loops over the state dimension N of {@link CpuSelectiveScanKernel}, fused so that the
 * exponentials vectorise: the Vector API version ({@code SimdScanLoops}, with the JDK's vector
 * {@code EXP}) when {@link VectorSupport#simd()} is on, plain Java otherwise (and with
 * {@code -Dmnemo.simd=false}). Arrays are addressed as {@code (array, offset)} with a length n.
 */
interface ScanLoops {
    /**
     * The write and the read of one token on {@code h[ho .. ho + n)}: {@code e = exp(dt · a);
     * h = e ⊙ h + dtu · b}; returns
     * {@code ⟨c, h⟩} (0 when c is null); stores e in {@code decays} when it is not null.
     */
    float updateRead(int n, float[] h, int ho, float[] a, int ao, float dt, float dtu, float[] b, int bo, float[] c,
            int co, float[] decays, int dOff);

    /**
     * One reverse step of one token, fused over N (docs/ops/mamba.md §3): with {@code dh} the gradient
     * reaching {@code h_t} from later tokens,
     * <pre>
     *   dC += gy · h_t;   dh += gy · C_t;   dB += dtu · dh;   q = dh ⊙ e ⊙ h_{t−1};   dA += dt · q;
     *   dh ← e ⊙ dh   (now the gradient reaching h_{t−1})
     * </pre>
     * and stores {@code ⟨dh, B_t⟩} (before the decay) in {@code out2[0]} and {@code ⟨A, q⟩} in {@code out2[1]}.
     */
    void reverseStep(int n, float[] dh, float gy, float[] c, int co, float[] hNow, int hn, float[] dC, int dco,
            float[] b, int bo, float dtu, float[] dB, int dbo, float[] decays, int dOff, float[] hPrev, int hp,
            float[] a, int ao, float dt, float[] dA, int dao, float[] out2);

    /**
     * One channel's step sizes: {@code dst[i] = softplus(delta[off + i] + bias)} (or without softplus),
     * and when {@code sig} is not null, {@code sig[i] = σ(delta[off + i] + bias)} (softplus's derivative).
     */
    void deltaRow(int len, float[] delta, int off, float bias, boolean softplus, float[] dst, float[] sig);

    /** {@code sig[i] = σ(z[off + i])}. */
    void sigmoidRow(int len, float[] z, int off, float[] sig);

    /** The implementation for this JVM, chosen once. */
    static ScanLoops get() {
        return Holder.LOOPS;
    }

    /** Lazy holder: the Vector API class is loaded only when the module is present. */
    final class Holder {
        private static final Logger LOG = LoggerFactory.getLogger(ScanLoops.class);
        static final ScanLoops LOOPS = choose();

        private Holder() {}

        private static ScanLoops choose() {
            if (!VectorSupport.simd()) {
                return new ScalarScanLoops();
            }
            try {
                return (ScanLoops) Class.forName("io.mnemo.modules.mamba.SimdScanLoops").getDeclaredConstructor()
                        .newInstance();
            } catch (ReflectiveOperationException | LinkageError e) {
                LOG.warn("selective scan: the Vector API loops could not be used ({}); using plain Java loops",
                        e.toString());
                return new ScalarScanLoops();
            }
        }
    }
}
