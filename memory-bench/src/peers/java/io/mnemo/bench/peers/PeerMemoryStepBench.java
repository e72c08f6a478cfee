package io.mnemo.bench.peers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.mnemo.bench.SelectiveScanBench;
import io.mnemo.bench.TitansBench;
import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.mamba.SelectiveScan;
import io.mnemo.modules.mamba.SelectiveScanConfig;
import io.mnemo.modules.mamba.SelectiveScanInputs;
import io.mnemo.modules.mamba.SelectiveScanStepper;
import io.mnemo.modules.titans.TitansInputs;
import io.mnemo.modules.titans.TitansOpConfig;
import io.mnemo.modules.titans.TitansStepper;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;

/**
 * One generation step of the selective scan or the Titans memory (one token for the whole batch, the state
 * carried; arrays in and out), side by side. selective_scan: {@code cpu} is {@link SelectiveScanStepper},
 * {@code nd4j} is {@link SelectiveScan#step} on the nd4j backend (a forward with L = 1), {@code torch} is
 * {@link TorchSelectiveScan#step}; titans: {@code cpu} is {@link TitansStepper} (O(P) per token; the commit at
 * every chunk end included, as calls continue across chunk boundaries), {@code torch} is
 * {@link TorchTitans#step}. Shapes as {@link PeerScanBench} and {@link PeerTitansBench}. Gated by
 * {@link SelectiveScanBench#requireParity} / {@link TitansBench#requireParity} and
 * {@link TorchMemoryParity#requireScanStep} / {@link TorchMemoryParity#requireTitansStep}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class PeerMemoryStepBench {
    /** {@code selective_scan} or {@code titans}. */
    @Param({"selective_scan", "titans"})
    public String op;

    /** {@code cpu}, {@code nd4j} (selective_scan only) or {@code torch}. */
    @Param({"cpu", "nd4j", "torch"})
    public String impl;

    /** Batch. */
    @Param({"1", "4"})
    public int b;

    /** Threads of this JVM (a label checked by {@link PeerEnv#require}). */
    @Param({"1"})
    public int threads;

    // selective scan
    private SelectiveScanConfig scanCfg;
    private SelectiveScanInputs scan;
    private SelectiveScanStepper scanStepper;
    private INDArray u;
    private INDArray delta;
    private INDArray bTok;
    private INDArray cTok;
    private INDArray z;
    private INDArray state;
    private INDArray out;

    // titans
    private TitansStepper titansStepper;
    private INDArray[] tok;
    private TorchTitans.StepState tState;

    // PyTorch
    private NDManager base;
    private NDArray[] tt;
    private NDArray tScanState;

    /** Thread check, parity gate, one token of inputs and a starting state. */
    @Setup(Level.Trial)
    public void setUp() {
        PeerEnv.require(threads, impl.equals("torch"));
        switch (op) {
            case PeerScanBench.OP -> setUpScan();
            case PeerTitansBench.OP -> setUpTitans();
            default -> throw new IllegalArgumentException("op must be selective_scan or titans, got '" + op + "'");
        }
    }

    private void setUpScan() {
        int d = SelectiveScanBench.D;
        int n = SelectiveScanBench.N;
        scan = SelectiveScanBench.inputs(b, d, 1, n, false, 44);
        u = TorchMemoryParity.col(scan.u(), 0);
        delta = TorchMemoryParity.col(scan.delta(), 0);
        bTok = TorchMemoryParity.col(scan.b(), 0);
        cTok = TorchMemoryParity.col(scan.c(), 0);
        z = TorchMemoryParity.col(scan.z(), 0);
        switch (impl) {
            case "cpu" -> {
                SelectiveScanBench.requireParity(Backend.CPU);
                scanCfg = TorchMemoryParity.scanConfig(Backend.CPU);
                scanStepper = new SelectiveScanStepper(scanCfg, scan.a(), null, null, scan.d(), scan.deltaBias(), b,
                        null);
                out = Nd4j.create(DataType.FLOAT, b, d);
            }
            case "nd4j" -> {
                SelectiveScanBench.requireParity(Backend.ND4J);
                scanCfg = TorchMemoryParity.scanConfig(Backend.ND4J);
                state = Nd4j.zeros(DataType.FLOAT, b, d, n);
            }
            case "torch" -> {
                TorchMemoryParity.requireScanStep();
                base = Torch.newManager();
                tt = new NDArray[] {Torch.of(base, u), Torch.of(base, delta), Torch.of(base, scan.a()),
                    Torch.of(base, bTok), Torch.of(base, cTok), Torch.of(base, scan.d()), Torch.of(base, z),
                    Torch.of(base, scan.deltaBias())};
                tScanState = base.zeros(new Shape(b, d, n));
            }
            default -> throw new IllegalArgumentException("impl must be cpu, nd4j or torch, got '" + impl + "'");
        }
    }

    private void setUpTitans() {
        int h = TitansBench.H;
        int d = TitansBench.D;
        TitansOpConfig cpu = PeerTitansBench.config(Backend.CPU);
        TitansInputs x = TitansBench.inputs(cpu, b, 1, 44);
        tok = new INDArray[] {x.q().reshape(b, h, d), x.k().reshape(b, h, d), x.v().reshape(b, h, d),
            x.theta().reshape(b, h), x.eta().reshape(b, h), x.alpha().reshape(b, h)};
        switch (impl) {
            case "cpu" -> {
                TitansBench.requireParity(cpu);
                titansStepper = new TitansStepper(cpu, b, h, d, TitansBench.initialMemory(cpu, b, 50));
                out = Nd4j.create(DataType.FLOAT, b, h, d);
            }
            case "torch" -> {
                TorchMemoryParity.requireTitansStep();
                base = Torch.newManager();
                tt = new NDArray[tok.length];
                for (int i = 0; i < tok.length; i++) {
                    tt[i] = Torch.of(base, tok[i]);
                }
                tState = TorchTitans.startState(TorchMemoryParity.torchList(base,
                        TitansBench.initialMemory(cpu, b, 50).memory()), null);
            }
            default -> throw new UnsupportedOperationException("titans has no " + impl
                    + " step: there is no nd4j stepper (generation on the nd4j backend is a forward of T = 1)");
        }
    }

    /** Frees the PyTorch arrays. */
    @TearDown(Level.Trial)
    public void tearDown() {
        if (base != null) {
            base.close();
        }
    }

    /** One token. */
    @Benchmark
    public Object step(Blackhole bh) {
        if (scanStepper != null) {
            return scanStepper.step(u, delta, bTok, cTok, z, out);
        }
        if (titansStepper != null) {
            return titansStepper.step(tok[0], tok[1], tok[2], tok[3], tok[4], tok[5], out);
        }
        if (state != null) {
            SelectiveScan.Step s = SelectiveScan.step(scanCfg, u, delta, scan.a(), bTok, cTok, scan.d(), z,
                    scan.deltaBias(), state);
            state = s.state();
            return s.out();
        }
        if (tScanState != null) {
            NDArray old = tScanState;
            try (NDManager sub = base.newSubManager()) {
                sub.tempAttachAll(tt);
                sub.tempAttachAll(old);
                NDList r = TorchSelectiveScan.step(old, tt[0], tt[1], tt[2], tt[3], tt[4], tt[5], tt[6], tt[7], true);
                bh.consume(r.get(0));
                tScanState = r.get(1);
                tScanState.attach(base);
            }
            old.close();
            return null;
        }
        TorchTitans.StepState old = tState;
        try (NDManager sub = base.newSubManager()) {
            sub.tempAttachAll(tt);
            sub.tempAttachAll(old.arrays());
            TorchTitans.Step r = TorchTitans.step(old, tt[0], tt[1], tt[2], tt[3], tt[4], tt[5], TitansBench.CHUNK);
            bh.consume(r.y());
            tState = r.state();
            for (NDArray a : tState.arrays()) {
                a.attach(base);
            }
        }
        Set<NDArray> keep = Collections.newSetFromMap(new IdentityHashMap<>()); // NDArray.equals compares contents
        keep.addAll(List.of(tState.arrays()));
        for (NDArray a : old.arrays()) {
            if (!keep.contains(a)) {
                a.close();
            }
        }
        return null;
    }
}
