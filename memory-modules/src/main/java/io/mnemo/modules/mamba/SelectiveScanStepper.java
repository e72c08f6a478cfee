package io.mnemo.modules.mamba;

import io.mnemo.core.NdBuffers;
import io.mnemo.core.Shapes;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * O(1)-per-token generation with the selective scan on the {@code cpu} path: the state
 * {@code [B, D, N]} lives in one float array owned by the stepper and is updated in place; A, D and
 * delta_bias (and B or C when shared) are copied once. A step costs {@code O(B·D·N)} and no
 * allocation beyond the optional output array. Equals {@link SelectiveScan#forward} token by token
 * (tested). Not thread-safe.
 *
 * <pre>{@code
 * SelectiveScanStepper s = new SelectiveScanStepper(cfg, A, null, null, D, deltaBias, batch, null);
 * INDArray out = s.step(u, delta, bTok, cTok, z, null);   // u, delta, z [B, D]; bTok, cTok [B, N] or [B, G, N]
 * }</pre>
 */
public final class SelectiveScanStepper {
    private final ScanLoops loops = ScanLoops.get();
    private final boolean softplus;
    private final int batch;
    private final int dim;
    private final int n;
    private final float[] a;
    private final float[] bShared;
    private final float[] cShared;
    private final float[] dSkip;
    private final float[] bias;
    private final float[] state;
    private final float[] u;
    private final float[] delta;
    private final float[] z;
    private final float[] out;
    private final float[] sig;
    private float[] bTok;
    private float[] cTok;
    private final float[] dt1 = new float[1];

    /**
     * @param cfg delta_softplus is used (backend and chunk size are not)
     * @param a {@code [D, N]}
     * @param sharedB {@code [D, N]} when B is shared, else null (then every step passes the token's B)
     * @param sharedC {@code [D, N]} when C is shared, else null
     * @param d {@code [D]} or null
     * @param deltaBias {@code [D]} or null
     * @param initialState {@code [B, D, N]} or null for zeros
     */
    public SelectiveScanStepper(SelectiveScanConfig cfg, INDArray a, INDArray sharedB, INDArray sharedC, INDArray d,
            INDArray deltaBias, int batch, INDArray initialState) {
        this.softplus = Objects.requireNonNull(cfg, "cfg").deltaSoftplus();
        Shapes.requireRank("A", a, "[D, N]", 2);
        this.dim = (int) a.size(0);
        this.n = (int) a.size(1);
        this.batch = Shapes.requirePositive("batch", batch);
        this.a = NdBuffers.toFloats(a);
        this.bShared = sharedB == null ? null : NdBuffers.toFloats(Shapes.require("B", sharedB, "[D, N]", dim, n));
        this.cShared = sharedC == null ? null : NdBuffers.toFloats(Shapes.require("C", sharedC, "[D, N]", dim, n));
        this.dSkip = d == null ? null : NdBuffers.toFloats(Shapes.require("D", d, "[D]", dim));
        this.bias = deltaBias == null ? null : NdBuffers.toFloats(Shapes.require("delta_bias", deltaBias, "[D]", dim));
        this.state = new float[batch * dim * n];
        if (initialState != null) {
            NdBuffers.copyFrom(Shapes.require("initial_state", initialState, "[B, D, N]", batch, dim, n), state);
        }
        this.u = new float[batch * dim];
        this.delta = new float[batch * dim];
        this.z = new float[batch * dim];
        this.out = new float[batch * dim];
        this.sig = new float[batch * dim];
    }

    /**
     * Feeds one token to every sequence of the batch.
     *
     * @param uIn {@code [B, D]}
     * @param deltaIn {@code [B, D]} (before bias and softplus)
     * @param b the token's B, {@code [B, N]} or {@code [B, G, N]}; null when B is shared
     * @param c the token's C, likewise
     * @param zIn {@code [B, D]} or null
     * @param dst {@code [B, D]} contiguous FLOAT array receiving out, or null to allocate one
     * @return out {@code [B, D]}
     */
    public INDArray step(INDArray uIn, INDArray deltaIn, INDArray b, INDArray c, INDArray zIn, INDArray dst) {
        NdBuffers.copyFrom(Shapes.require("u", uIn, "[B, D]", batch, dim), u);
        NdBuffers.copyFrom(Shapes.require("delta", deltaIn, "[B, D]", batch, dim), delta);
        int gb = groups("B", b, bShared);
        int gc = groups("C", c, cShared);
        bTok = bShared != null ? bShared : fill(b, bTok);
        cTok = cShared != null ? cShared : fill(c, cTok);
        if (zIn != null) {
            NdBuffers.copyFrom(Shapes.require("z", zIn, "[B, D]", batch, dim), z);
        }
        if (zIn != null) {
            loops.sigmoidRow(batch * dim, z, 0, sig);
        }
        for (int bb = 0; bb < batch; bb++) {
            for (int d = 0; d < dim; d++) {
                int i = bb * dim + d;
                loops.deltaRow(1, delta, i, bias == null ? 0f : bias[d], softplus, dt1, null);
                float dt = dt1[0];
                int bo = bShared != null ? d * n : (bb * gb + d / (dim / gb)) * n;
                int co = cShared != null ? d * n : (bb * gc + d / (dim / gc)) * n;
                float y = loops.updateRead(n, state, i * n, a, d * n, dt, dt * u[i], bTok, bo, cTok, co, null, 0);
                if (dSkip != null) {
                    y += dSkip[d] * u[i];
                }
                out[i] = zIn == null ? y : y * z[i] * sig[i];
            }
        }
        INDArray res = dst != null ? Shapes.require("out", dst, "[B, D]", batch, dim)
                : Nd4j.create(DataType.FLOAT, batch, dim);
        NdBuffers.copyInto(out, res);
        return res;
    }

    private int groups(String name, INDArray x, float[] shared) {
        if (shared != null) {
            if (x != null) {
                throw new IllegalArgumentException(name + " is shared (given to the constructor), but a token's " + name
                        + " was passed");
            }
            return 0;
        }
        if (x == null) {
            throw new IllegalArgumentException(name + " is missing, expected [B, N] = [" + batch + ", " + n
                    + "] or [B, G, N] with G dividing D=" + dim);
        }
        if (x.rank() == 2) {
            Shapes.require(name, x, "[B, N]", batch, n);
            return 1;
        }
        Shapes.requireRank(name, x, "[B, G, N]", 3);
        if (x.size(0) != batch || x.size(2) != n || dim % x.size(1) != 0) {
            throw new IllegalArgumentException(name + " has shape " + java.util.Arrays.toString(x.shape())
                    + ", expected [B, N] = [" + batch + ", " + n + "] or [B, G, N] = [" + batch + ", G, " + n
                    + "] with G dividing D=" + dim);
        }
        return (int) x.size(1);
    }

    private static float[] fill(INDArray x, float[] buf) {
        float[] f = buf != null && buf.length == x.length() ? buf : new float[(int) x.length()];
        NdBuffers.copyFrom(x, f);
        return f;
    }

    /** A copy of the current state {@code [B, D, N]} as a FLOAT array. */
    public INDArray state() {
        return NdBuffers.ofFloats(state.clone(), batch, dim, n);
    }
}
