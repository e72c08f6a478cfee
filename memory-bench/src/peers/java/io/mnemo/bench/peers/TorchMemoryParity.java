package io.mnemo.bench.peers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import io.mnemo.bench.Parity;
import io.mnemo.bench.SelectiveScanBench;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.mamba.SelectiveScan;
import io.mnemo.modules.mamba.SelectiveScanConfig;
import io.mnemo.modules.mamba.SelectiveScanForward;
import io.mnemo.modules.mamba.SelectiveScanGrads;
import io.mnemo.modules.mamba.SelectiveScanInputs;
import io.mnemo.modules.titans.TitansForward;
import io.mnemo.modules.titans.TitansGrads;
import io.mnemo.modules.titans.TitansInputs;
import io.mnemo.modules.titans.TitansOpConfig;
import io.mnemo.modules.titans.TitansOps;
import io.mnemo.modules.titans.TitansState;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The gates in front of the PyTorch selective-scan ({@link TorchSelectiveScan}) and Titans ({@link TorchTitans})
 * timings, as {@link TorchParity} is for the linear ops: each peer must reproduce Mnemo's double-precision
 * reference on outputs, final state and every autograd gradient of a small problem, its step token by token,
 * and, in each benchmark's set-up, Mnemo's cpu backend on the benchmark's own inputs. A mismatch throws
 * {@link PeerParityException}.
 */
public final class TorchMemoryParity {
    /** Relative error allowed against the double reference, selective scan (as {@link Parity#TOLERANCE}). */
    public static final double SCAN_TOLERANCE = Parity.TOLERANCE;
    /** Relative error allowed against the double reference, Titans (as TitansBench's gate: deep float chains). */
    public static final double TITANS_TOLERANCE = 2e-4;
    /** Relative error allowed against Mnemo's cpu backend on the benchmark inputs (both FLOAT). */
    public static final double FULL_SIZE_TOLERANCE = 1e-4;
    /** Titans against the cpu backend on the benchmark inputs: second-order terms summed over 64-token chunks. */
    public static final double TITANS_FULL_SIZE_TOLERANCE = 2e-4;
    /** Largest θ of the small Titans problems (D=8). */
    static final double SMALL_THETA = 0.1;
    /** A reference output larger than this means the small problem diverged: it would check nothing. */
    static final double DIVERGED = 50;

    private TorchMemoryParity() {}

    // ---------------------------------------------------------------------------------------------- selective scan

    /** Outputs and gradients of one PyTorch selective-scan run (gradients null when not asked for). */
    record ScanResult(INDArray out, INDArray last, SelectiveScanGrads grads) {}

    /** The selective-scan configuration of the Mamba block: softplus on Δ. */
    public static SelectiveScanConfig scanConfig(Backend backend) {
        return SelectiveScanConfig.of().withDeltaSoftplus(true).withBackend(backend).withChunkSize(32);
    }

    /**
     * The peer against the reference at B=2, D=8, N=4, L=50 with every optional input (D skip, z gate,
     * delta_bias, softplus) and a random initial state; random upstream gradients of out and last_state.
     *
     * @return relative error of out, last_state and all 9 gradients
     */
    public static Map<String, Double> requireScan() {
        SelectiveScanInputs in = SelectiveScanBench.inputs(2, 8, 50, 4, true, 7);
        INDArray dOut = SelectiveScanBench.randn(8, 2, 8, 50);
        INDArray dLast = SelectiveScanBench.randn(9, 2, 8, 4);
        SelectiveScanForward f = SelectiveScan.forward(scanConfig(Backend.REFERENCE), in, true);
        SelectiveScanGrads g = SelectiveScan.backward(f, dOut, dLast);
        Map<String, Double> err = compareScan(runScan(in, dOut, dLast, true), f, g);
        TorchParity.fail("PyTorch selective_scan vs the reference", err, SCAN_TOLERANCE);
        return err;
    }

    /**
     * The peer on the benchmark's own inputs against Mnemo's cpu backend: out and last_state, and with
     * {@code grads} every gradient for the upstream gradient {@code dOut}.
     */
    public static Map<String, Double> requireScanOnInputs(SelectiveScanInputs in, INDArray dOut, boolean grads) {
        SelectiveScanForward f = SelectiveScan.forward(scanConfig(Backend.CPU), in, grads);
        SelectiveScanGrads g = grads ? SelectiveScan.backward(f, dOut, null) : null;
        Map<String, Double> err = compareScan(runScan(in, grads ? dOut : null, null, grads), f, g);
        TorchParity.fail("PyTorch selective_scan vs Mnemo cpu on the benchmark inputs " + Arrays.toString(
                in.u().shape()), err, FULL_SIZE_TOLERANCE);
        return err;
    }

    /** {@link TorchSelectiveScan#step} token by token (L=20, B=2, D=8, N=4, random initial state) vs the reference. */
    public static Map<String, Double> requireScanStep() {
        int len = 20;
        SelectiveScanInputs in = SelectiveScanBench.inputs(2, 8, len, 4, true, 11);
        SelectiveScanForward f = SelectiveScan.forward(scanConfig(Backend.REFERENCE), in, false);
        double errO = 0;
        INDArray last;
        try (NDManager m = Torch.newManager()) {
            NDArray a = Torch.of(m, in.a());
            NDArray d = Torch.of(m, in.d());
            NDArray bias = Torch.of(m, in.deltaBias());
            NDArray state = Torch.of(m, in.initialState());
            for (int i = 0; i < len; i++) {
                NDArray old = state;
                try (NDManager sub = m.newSubManager()) {
                    sub.tempAttachAll(old, a, d, bias);
                    NDList r = TorchSelectiveScan.step(old, Torch.of(sub, col(in.u(), i)), Torch.of(sub,
                            col(in.delta(), i)), a, Torch.of(sub, col(in.b(), i)), Torch.of(sub, col(in.c(), i)), d,
                            Torch.of(sub, col(in.z(), i)), bias, true);
                    errO = Math.max(errO, Parity.relErr(Torch.toNd4j(r.get(0)), col(f.out(), i)));
                    state = r.get(1);
                    state.attach(m);
                }
                old.close();
            }
            last = Torch.toNd4j(state);
        }
        Map<String, Double> err = new LinkedHashMap<>();
        err.put("step out", errO);
        err.put("step last_state", Parity.relErr(last, f.lastState()));
        TorchParity.fail("PyTorch selective_scan step vs the reference", err, SCAN_TOLERANCE);
        return err;
    }

    /** Runs the peer on copies of {@code in}; with {@code grads}, the backward of {@code Σ out·dOut + Σ last·dLast}. */
    static ScanResult runScan(SelectiveScanInputs in, INDArray dOut, INDArray dLast, boolean grads) {
        try (NDManager m = Torch.newManager()) {
            NDArray[] x = {Torch.of(m, in.u()), Torch.of(m, in.delta()), Torch.of(m, in.a()), Torch.of(m, in.b()),
                Torch.of(m, in.c()), Torch.of(m, in.d()), Torch.of(m, in.z()), Torch.of(m, in.deltaBias()),
                Torch.of(m, in.initialState())};
            if (!grads) {
                NDList r = TorchSelectiveScan.forward(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8], true);
                return new ScanResult(Torch.toNd4j(r.get(0)), Torch.toNd4j(r.get(1)), null);
            }
            for (NDArray a : x) {
                if (a != null) {
                    a.setRequiresGradient(true);
                }
            }
            NDList r;
            try (GradientCollector gc = Torch.engine().newGradientCollector()) {
                r = TorchSelectiveScan.forward(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8], true);
                NDArray loss = r.get(0).mul(Torch.of(m, dOut)).sum();
                if (dLast != null) {
                    loss = loss.add(r.get(1).mul(Torch.of(m, dLast)).sum());
                }
                gc.backward(loss);
            }
            SelectiveScanGrads g = new SelectiveScanGrads(grad(x[0]), grad(x[1]), grad(x[2]), grad(x[3]), grad(x[4]),
                    grad(x[5]), grad(x[6]), grad(x[7]), grad(x[8]));
            return new ScanResult(Torch.toNd4j(r.get(0)), Torch.toNd4j(r.get(1)), g);
        }
    }

    private static Map<String, Double> compareScan(ScanResult r, SelectiveScanForward f, SelectiveScanGrads g) {
        Map<String, Double> err = new LinkedHashMap<>();
        err.put("out", Parity.relErr(r.out(), f.out()));
        err.put("last_state", Parity.relErr(r.last(), f.lastState()));
        if (g != null) {
            SelectiveScanGrads t = r.grads();
            put(err, "du", t.du(), g.du());
            put(err, "ddelta", t.ddelta(), g.ddelta());
            put(err, "dA", t.dA(), g.dA());
            put(err, "dB", t.dB(), g.dB());
            put(err, "dC", t.dC(), g.dC());
            put(err, "dD", t.dD(), g.dD());
            put(err, "dz", t.dz(), g.dz());
            put(err, "ddelta_bias", t.dDeltaBias(), g.dDeltaBias());
            if (t.dInitialState() != null) { // null exactly when the inputs had no initial state (zeros)
                put(err, "dinitial_state", t.dInitialState(), g.dInitialState());
            }
        }
        return err;
    }

    // ---------------------------------------------------------------------------------------------- Titans

    /** Outputs, committed state and gradients of one PyTorch Titans run (gradients null when not asked for). */
    record TitansResult(INDArray y, List<INDArray> memory, List<INDArray> momentum, TitansGrads grads) {}

    /** The Titans configuration of the benchmarks: depth 2, E 4, SiLU, momentum, per-token reads and gates. */
    public static TitansOpConfig titansConfig(Backend backend, int chunk) {
        return TitansOpConfig.defaults().withDepth(2).withChunkSize(chunk).withBackend(backend);
    }

    /**
     * The peer against the reference at B=2, T=100, H=2, D=8 (E·D=32), chunk 16 and 64 (T a multiple of
     * neither: the open chunk is not committed), random initial memory and momentum, random upstream
     * gradients of y, the final memory and the final momentum.
     *
     * @return relative error of y, final memory and momentum, and every gradient, keyed "C=16 y", …
     */
    public static Map<String, Double> requireTitans() {
        Map<String, Double> err = new LinkedHashMap<>();
        int b = 2;
        int t = 100;
        int h = 2;
        int d = 8;
        for (int chunk : new int[] {16, 64}) {
            TitansOpConfig ref = titansConfig(Backend.REFERENCE, chunk);
            TitansInputs in = titansInputs(ref, b, t, h, d, SMALL_THETA, true, 31);
            INDArray dY = SelectiveScanBench.randn(32, b, t, h, d);
            TitansState s = in.initialState();
            List<INDArray> dMem = new ArrayList<>();
            List<INDArray> dMom = new ArrayList<>();
            for (int l = 0; l < 2; l++) {
                dMem.add(SelectiveScanBench.randn(33 + l, s.memory().get(l).shape()));
                dMom.add(SelectiveScanBench.randn(35 + l, s.memory().get(l).shape()));
            }
            TitansState dFinal = new TitansState(dMem, dMom, null, null, null, null, null);
            TitansForward f = TitansOps.forward(ref, in, true);
            requireBounded(f);
            TitansGrads g = TitansOps.backward(f, dY, dFinal);
            TitansResult r = runTitans(in, dY, dMem, dMom, chunk, true);
            compareTitans(err, "C=" + chunk + " ", r, f, g);
        }
        TorchParity.fail("PyTorch titans vs the reference", err, TITANS_TOLERANCE);
        return err;
    }

    /**
     * The peer on the benchmark's own inputs against Mnemo's cpu backend: y and the final memory, and with
     * {@code grads} every gradient for the upstream gradient {@code dY}.
     */
    public static Map<String, Double> requireTitansOnInputs(TitansInputs in, INDArray dY, int chunk, boolean grads) {
        TitansForward f = TitansOps.forward(titansConfig(Backend.CPU, chunk), in, grads);
        double max = f.y().amaxNumber().doubleValue();
        if (!(max < DIVERGED)) {
            throw new PeerParityException("the Titans memory diverges on these inputs (max |y| = " + max + " on the cpu "
                    + "backend): timings of an Inf/NaN-filled run would mean nothing; refusing to benchmark it");
        }
        TitansGrads g = grads ? TitansOps.backward(f, dY, null) : null;
        Map<String, Double> err = new LinkedHashMap<>();
        compareTitans(err, "", runTitans(in, grads ? dY : null, null, null, chunk, grads), f, g);
        TorchParity.fail("PyTorch titans vs Mnemo cpu on the benchmark inputs " + Arrays.toString(in.q().shape()), err,
                TITANS_FULL_SIZE_TOLERANCE);
        return err;
    }

    /**
     * {@link TorchTitans#step} token by token (B=2, T=37, H=2, D=8, chunk 8, random initial memory and momentum)
     * against the reference forward: every output and the committed memory and momentum.
     */
    public static Map<String, Double> requireTitansStep() {
        int t = 37;
        int chunk = 8;
        TitansOpConfig ref = titansConfig(Backend.REFERENCE, chunk);
        TitansInputs in = titansInputs(ref, 2, t, 2, 8, SMALL_THETA, true, 41);
        TitansForward f = TitansOps.forward(ref, in, false);
        requireBounded(f);
        double errY = 0;
        Map<String, Double> err = new LinkedHashMap<>();
        try (NDManager m = Torch.newManager()) {
            TorchTitans.StepState st = TorchTitans.startState(torchList(m, in.initialState().memory()),
                    torchList(m, in.initialState().momentum()));
            for (int i = 0; i < t; i++) {
                TorchTitans.StepState old = st;
                try (NDManager sub = m.newSubManager()) {
                    sub.tempAttachAll(old.arrays());
                    TorchTitans.Step r = TorchTitans.step(old, Torch.of(sub, TorchParity.token(in.q(), i)),
                            Torch.of(sub, TorchParity.token(in.k(), i)), Torch.of(sub, TorchParity.token(in.v(), i)),
                            Torch.of(sub, TorchParity.token(in.theta(), i)), Torch.of(sub, TorchParity.token(in.eta(), i)),
                            Torch.of(sub, TorchParity.token(in.alpha(), i)), chunk);
                    errY = Math.max(errY, Parity.relErr(Torch.toNd4j(r.y()), TorchParity.token(f.y(), i)));
                    st = r.state();
                    for (NDArray a : st.arrays()) {
                        a.attach(m);
                    }
                }
            }
            err.put("step y", errY);
            for (int l = 0; l < 2; l++) {
                err.put("step memory" + l, Parity.relErr(Torch.toNd4j(st.memory().get(l)),
                        f.finalState().memory().get(l)));
                err.put("step momentum" + l, Parity.relErr(Torch.toNd4j(st.momentum().get(l)),
                        f.finalState().momentum().get(l)));
            }
        }
        TorchParity.fail("PyTorch titans step vs the reference", err, TITANS_TOLERANCE);
        return err;
    }

    /**
     * Runs the peer on copies of {@code in}; with {@code grads}, the backward of
     * {@code Σ y·dY + Σ memory·dMem + Σ momentum·dMom} (null parts count as zeros).
     */
    static TitansResult runTitans(TitansInputs in, INDArray dY, List<INDArray> dMem, List<INDArray> dMom, int chunk,
            boolean grads) {
        return runTitans(in, dY, dMem, dMom, chunk, grads, null);
    }

    /** As above, calling {@code beforeBackward} (if not null) between the forward and the backward. */
    static TitansResult runTitans(TitansInputs in, INDArray dY, List<INDArray> dMem, List<INDArray> dMom, int chunk,
            boolean grads, Runnable beforeBackward) {
        if (in.initialState() == null || in.initialState().buffered() > 0) {
            throw new IllegalArgumentException("the PyTorch Titans peer needs an initial memory and no open chunk");
        }
        try (NDManager m = Torch.newManager()) {
            NDArray q = Torch.of(m, in.q());
            NDArray k = Torch.of(m, in.k());
            NDArray v = Torch.of(m, in.v());
            NDArray th = Torch.of(m, in.theta());
            NDArray et = Torch.of(m, in.eta());
            NDArray al = Torch.of(m, in.alpha());
            List<NDArray> mem = torchList(m, in.initialState().memory());
            List<NDArray> mom = torchList(m, in.initialState().momentum());
            List<NDArray> leaves = new ArrayList<>(List.of(q, k, v, th, et, al));
            leaves.addAll(mem);
            leaves.addAll(mom);
            if (!grads) {
                TorchTitans.Result r = TorchTitans.forward(q, k, v, th, et, al, mem, mom, chunk);
                return new TitansResult(Torch.toNd4j(r.y()), nd4jList(r.memory()), nd4jList(r.momentum()), null);
            }
            for (NDArray a : leaves) {
                a.setRequiresGradient(true);
            }
            TorchTitans.Result r;
            try (GradientCollector gc = Torch.engine().newGradientCollector()) {
                r = TorchTitans.forward(q, k, v, th, et, al, mem, mom, chunk);
                NDArray loss = r.y().mul(Torch.of(m, dY)).sum();
                for (int l = 0; l < 2; l++) {
                    if (dMem != null && dMem.get(l) != null) {
                        loss = loss.add(r.memory().get(l).mul(Torch.of(m, dMem.get(l))).sum());
                    }
                    if (dMom != null && dMom.get(l) != null) {
                        loss = loss.add(r.momentum().get(l).mul(Torch.of(m, dMom.get(l))).sum());
                    }
                }
                if (beforeBackward != null) {
                    beforeBackward.run();
                }
                gc.backward(loss);
            }
            TitansState dInit = new TitansState(List.of(grad(mem.get(0)), grad(mem.get(1))),
                    List.of(grad(mom.get(0)), grad(mom.get(1))), null, null, null, null, null);
            TitansGrads g = new TitansGrads(grad(q), grad(k), grad(v), grad(th), grad(et), grad(al), dInit);
            return new TitansResult(Torch.toNd4j(r.y()), nd4jList(r.memory()), nd4jList(r.momentum()), g);
        }
    }

    private static void compareTitans(Map<String, Double> err, String p, TitansResult r, TitansForward f,
            TitansGrads g) {
        err.put(p + "y", Parity.relErr(r.y(), f.y()));
        for (int l = 0; l < 2; l++) {
            err.put(p + "memory" + l, Parity.relErr(r.memory().get(l), f.finalState().memory().get(l)));
            err.put(p + "momentum" + l, Parity.relErr(r.momentum().get(l), f.finalState().momentum().get(l)));
        }
        if (g == null) {
            return;
        }
        TitansGrads t = r.grads();
        put(err, p + "dq", t.dq(), g.dq());
        put(err, p + "dk", t.dk(), g.dk());
        put(err, p + "dv", t.dv(), g.dv());
        put(err, p + "dtheta", t.dTheta(), g.dTheta());
        put(err, p + "deta", t.dEta(), g.dEta());
        put(err, p + "dalpha", t.dAlpha(), g.dAlpha());
        for (int l = 0; l < 2; l++) {
            put(err, p + "dmemory" + l, t.dInitialState().memory().get(l), g.dInitialState().memory().get(l));
            put(err, p + "dmomentum" + l, t.dInitialState().momentum().get(l), g.dInitialState().momentum().get(l));
        }
    }

    /**
     * Inputs as TitansBench draws them (q, k L2-normalised, v ~ N(0, 1), θ ∈ (0, thetaMax), η ∈ (0.5, 1),
     * α ∈ (0, 0.05), memory N(0, 1/cols)) at any size; with {@code randomMomentum} the initial momentum is
     * N(0, 0.01/cols) instead of zeros, so that its terms are checked too. (Larger steps make the deep memory
     * diverge: see TitansBench#THETA_MAX.)
     */
    public static TitansInputs titansInputs(TitansOpConfig cfg, int b, int t, int h, int d, double thetaMax,
            boolean randomMomentum, long seed) {
        INDArray q = SelectiveScanBench.randn(seed, b, t, h, d);
        INDArray k = SelectiveScanBench.randn(seed + 1, b, t, h, d);
        q.divi(Transforms.sqrt(q.mul(q).sum(true, 3), false));
        k.divi(Transforms.sqrt(k.mul(k).sum(true, 3), false));
        Nd4j.getRandom().setSeed(seed + 2);
        INDArray theta = Nd4j.rand(DataType.FLOAT, b, t, h).muli(thetaMax);
        INDArray eta = Nd4j.rand(DataType.FLOAT, b, t, h).muli(0.5).addi(0.5);
        INDArray alpha = Nd4j.rand(DataType.FLOAT, b, t, h).muli(0.05);
        TitansState z = TitansState.zeros(cfg, b, h, d, DataType.FLOAT);
        List<INDArray> mem = new ArrayList<>();
        List<INDArray> mom = new ArrayList<>();
        for (int l = 0; l < z.memory().size(); l++) {
            long[] s = z.memory().get(l).shape();
            mem.add(SelectiveScanBench.randn(seed + 3 + l, s).muli(1 / Math.sqrt(s[3])));
            mom.add(randomMomentum ? SelectiveScanBench.randn(seed + 7 + l, s).muli(0.1 / Math.sqrt(s[3]))
                    : Nd4j.zeros(DataType.FLOAT, s));
        }
        TitansState s0 = new TitansState(mem, mom, null, null, null, null, null);
        return new TitansInputs(q, k, SelectiveScanBench.randn(seed + 5, b, t, h, d), theta, eta, alpha, s0);
    }

    // ---------------------------------------------------------------------------------------------- helpers

    private static void requireBounded(TitansForward f) {
        double max = f.y().amaxNumber().doubleValue();
        if (!(max < DIVERGED)) {
            throw new IllegalStateException("the reference diverged on the small Titans problem (max |y| = " + max
                    + "): it would check nothing");
        }
    }

    private static void put(Map<String, Double> err, String name, INDArray actual, INDArray expected) {
        if (expected == null) {
            return;
        }
        if (actual == null) {
            err.put(name, Double.POSITIVE_INFINITY); // autograd gave no gradient where the reference has one
            return;
        }
        err.put(name, Parity.relErr(actual, expected));
    }

    private static INDArray grad(NDArray x) {
        return x == null ? null : Torch.toNd4j(x.getGradient());
    }

    static List<NDArray> torchList(NDManager m, List<INDArray> l) {
        return l == null ? null : l.stream().map(a -> Torch.of(m, a)).toList();
    }

    private static List<INDArray> nd4jList(List<NDArray> l) {
        return l.stream().map(Torch::toNd4j).toList();
    }

    /** Token i of a {@code [B, X, L]} (or {@code [B, N, L]}) array as a contiguous {@code [B, X]} array; null stays null. */
    static INDArray col(INDArray a, int i) {
        return a == null ? null : a.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(i)).dup('c');
    }
}
