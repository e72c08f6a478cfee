package io.mnemo.modules.miras;

import static io.mnemo.modules.miras.MirasTestData.assertClose;

import io.mnemo.core.kernel.Backend;
import io.mnemo.modules.linear.LinearForward;
import io.mnemo.modules.linear.LinearGrads;
import io.mnemo.modules.linear.LinearInputs;
import io.mnemo.modules.linear.LinearOp;
import io.mnemo.modules.linear.LinearOpConfig;
import io.mnemo.modules.linear.LinearOps;
import io.mnemo.modules.titans.TitansActivation;
import io.mnemo.modules.titans.TitansForward;
import io.mnemo.modules.titans.TitansGrads;
import io.mnemo.modules.titans.TitansInputs;
import io.mnemo.modules.titans.TitansOpConfig;
import io.mnemo.modules.titans.TitansOps;
import io.mnemo.modules.titans.TitansReadMode;
import io.mnemo.modules.titans.TitansState;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The generic Miras kernel reproduces the independent references of the other families on outputs,
 * final states and every gradient (mapped by the chain rule where the parameterisations differ):
 * <ul>
 *   <li>Titans' reference backend (its own reverse-mode tape): MLP or linear memory, L2 bias, scalar decay
 *       {@code 1 − α}, GD with or without momentum, chunks, an open chunk carried in and out;</li>
 *   <li>the linear family's reference backend: L2 + scalar decay + GD + linear memory + C = 1 is the gated
 *       delta rule ({@code β = θ/a}, {@code v' = a v}, {@code g = log a}); L2 + none is the delta rule;
 *       dot + scalar decay + GD is simple GLA with {@code v' = θ v} (exact for every chunk size, the dot
 *       bias does not read the memory, as long as T is a multiple of C so that no open chunk is left
 *       uncommitted); dot + vector decay is GLA. States map by {@code S = Wᵀ}.</li>
 * </ul>
 */
class MirasCrossFamilyTest {
    private static final int B = 2;
    private static final int H = 2;
    private static final int D = 4;

    @ParameterizedTest(name = "depth={0} momentum={1} C={2} T={3} buffered={4}")
    @CsvSource({"1, true, 4, 7, 0", "2, true, 4, 10, 2", "2, false, 3, 7, 1", "1, false, 1, 5, 0",
        "2, true, 16, 9, 3"})
    void reproducesTitansReference(int depth, boolean momentum, int c, int t, int buffered) {
        MemoryArchitecture arch = depth == 1 ? new MemoryArchitecture.Linear()
                : new MemoryArchitecture.Mlp(4, TitansActivation.SILU);
        MirasConfig mc = new MirasConfig(arch, new AttentionalBias.L2(), new RetentionGate.ScalarDecay(),
                momentum ? new UpdateRule.Momentum() : new UpdateRule.Gd(), c, false);
        TitansOpConfig tc = TitansOpConfig.defaults().withBackend(Backend.REFERENCE).withDepth(depth)
                .withExpansion(4).withMomentum(momentum).withChunkSize(c).withReadMode(TitansReadMode.PER_TOKEN);
        MirasInputs in = MirasTestData.random(mc, B, t, H, D, D, true, buffered, DataType.DOUBLE, 100 + t);
        MirasState s = in.initialState();
        MirasBuffer buf = s.buffer();
        TitansState ts = new TitansState(s.memory(), s.momentum(), buf == null ? null : buf.k(),
                buf == null ? null : buf.v(), buf == null ? null : buf.theta(), buf == null ? null : buf.eta(),
                buf == null ? null : buf.decay().rsub(1.0));
        TitansInputs ti = new TitansInputs(in.q(), in.k(), in.v(), in.theta(), in.eta(), in.decay().rsub(1.0), ts);

        MirasForward fm = MirasOps.forward(mc, in, true);
        TitansForward ft = TitansOps.forward(tc, ti, true);
        String ctx = "depth=" + depth + " momentum=" + momentum + " C=" + c + " T=" + t;
        assertClose(ctx + " y", fm.y(), ft.y(), 1e-12);
        for (int l = 0; l < depth; l++) {
            assertClose(ctx + " memory[" + l + "]", fm.finalState().memory().get(l), ft.finalState().memory().get(l),
                    1e-12);
            if (momentum) {
                assertClose(ctx + " momentum[" + l + "]", fm.finalState().momentum().get(l),
                        ft.finalState().momentum().get(l), 1e-12);
            }
        }
        TitansState tf = ft.finalState();
        MirasBuffer mb = fm.finalState().buffer();
        if (tf.bufK() != null) {
            assertClose(ctx + " buffer k", mb.k(), tf.bufK(), 0);
            assertClose(ctx + " buffer decay", mb.decay(), tf.bufAlpha().rsub(1.0), 1e-15);
        }

        INDArray dY = MirasTestData.randn(DataType.DOUBLE, 7, B, t, H, D);
        MirasState dFinal = MirasTestData.randomLike(fm.finalState(), 8);
        MirasBuffer db = dFinal.buffer();
        TitansState dTf = new TitansState(dFinal.memory(), dFinal.momentum(), db == null ? null : db.k(),
                db == null ? null : db.v(), db == null ? null : db.theta(), db == null ? null : db.eta(),
                db == null ? null : db.decay().neg());
        MirasGrads gm = MirasOps.backward(fm, dY, dFinal);
        TitansGrads gt = TitansOps.backward(ft, dY, dTf);
        assertClose(ctx + " dq", gm.dq(), gt.dq(), 1e-10);
        assertClose(ctx + " dk", gm.dk(), gt.dk(), 1e-10);
        assertClose(ctx + " dv", gm.dv(), gt.dv(), 1e-10);
        assertClose(ctx + " dTheta", gm.dTheta(), gt.dTheta(), 1e-10);
        assertClose(ctx + " dEta", gm.dEta(), gt.dEta(), 1e-10);
        assertClose(ctx + " dDecay = −dAlpha", gm.dDecay(), gt.dAlpha().neg(), 1e-10);
        for (int l = 0; l < depth; l++) {
            assertClose(ctx + " dMemory[" + l + "]", gm.dInitialState().memory().get(l),
                    gt.dInitialState().memory().get(l), 1e-10);
            if (momentum) {
                assertClose(ctx + " dMomentum[" + l + "]", gm.dInitialState().momentum().get(l),
                        gt.dInitialState().momentum().get(l), 1e-10);
            }
        }
        if (buffered > 0) {
            MirasBuffer gb = gm.dInitialState().buffer();
            TitansState gtb = gt.dInitialState();
            assertClose(ctx + " dBuffer k", gb.k(), gtb.bufK(), 1e-10);
            assertClose(ctx + " dBuffer v", gb.v(), gtb.bufV(), 1e-10);
            assertClose(ctx + " dBuffer theta", gb.theta(), gtb.bufTheta(), 1e-10);
            assertClose(ctx + " dBuffer decay", gb.decay(), gtb.bufAlpha().neg(), 1e-10);
        }
    }

    @ParameterizedTest(name = "T={0}")
    @ValueSource(ints = {1, 7, 30})
    void l2ScalarDecayGdIsGatedDeltaRule(int t) {
        MirasConfig mc = MirasConfig.of(new MemoryArchitecture.Linear(), new AttentionalBias.L2(),
                new RetentionGate.ScalarDecay(), new UpdateRule.Gd());
        MirasInputs in = MirasTestData.random(mc, B, t, H, D, D + 1, true, 0, DataType.DOUBLE, 200 + t);
        INDArray a = in.decay();
        INDArray aV = a.reshape(B, t, H, 1).broadcast(B, t, H, D + 1);
        INDArray w0 = in.initialState().memory().get(0);
        LinearOpConfig lc = LinearOpConfig.of(LinearOp.GATED_DELTA_RULE).withBackend(Backend.REFERENCE).withScale(1.0);
        LinearInputs li = new LinearInputs(in.q(), in.k(), in.v().mul(aV), Transforms.log(a, true), null,
                in.theta().div(a), transpose(w0));
        String ctx = "gated_delta_rule T=" + t;
        Pair p = run(mc, in, lc, li, ctx);
        assertClose(ctx + " dv", p.gm.dv(), p.gl.dv().mul(aV), 1e-10);
        assertClose(ctx + " dTheta", p.gm.dTheta(), p.gl.dbeta().div(a), 1e-10);
        INDArray dDecay = p.gl.dg().div(a).sub(p.gl.dbeta().mul(in.theta()).div(a.mul(a)))
                .add(p.gl.dv().mul(in.v()).sum(3));
        assertClose(ctx + " dDecay", p.gm.dDecay(), dDecay, 1e-10);
    }

    @ParameterizedTest(name = "T={0}")
    @ValueSource(ints = {1, 9})
    void l2WithoutRetentionIsDeltaRule(int t) {
        MirasConfig mc = MirasConfig.of(new MemoryArchitecture.Linear(), new AttentionalBias.L2(),
                new RetentionGate.L2Prev(), new UpdateRule.Gd());
        MirasInputs in = MirasTestData.random(mc, B, t, H, D, D, true, 0, DataType.DOUBLE, 300 + t);
        LinearOpConfig lc = LinearOpConfig.of(LinearOp.DELTA_RULE).withBackend(Backend.REFERENCE).withScale(1.0);
        LinearInputs li = new LinearInputs(in.q(), in.k(), in.v(), null, null, in.theta(),
                transpose(in.initialState().memory().get(0)));
        String ctx = "delta_rule T=" + t;
        Pair p = run(mc, in, lc, li, ctx);
        assertClose(ctx + " dv", p.gm.dv(), p.gl.dv(), 1e-10);
        assertClose(ctx + " dTheta", p.gm.dTheta(), p.gl.dbeta(), 1e-10);
    }

    @ParameterizedTest(name = "C={0}")
    @ValueSource(ints = {1, 3, 8})
    void dotScalarDecayGdIsSimpleGla(int c) {
        // T a multiple of C: an open chunk is not committed to the final state (the linear op has no chunks)
        int t = 24;
        MirasConfig mc = MirasConfig.of(new MemoryArchitecture.Linear(), new AttentionalBias.Dot(),
                new RetentionGate.ScalarDecay(), new UpdateRule.Gd()).withChunkSize(c);
        MirasInputs in = MirasTestData.random(mc, B, t, H, D, D + 2, true, 0, DataType.DOUBLE, 400 + c);
        INDArray thV = in.theta().reshape(B, t, H, 1).broadcast(B, t, H, D + 2);
        LinearOpConfig lc = LinearOpConfig.of(LinearOp.SIMPLE_GLA).withBackend(Backend.REFERENCE).withScale(1.0);
        LinearInputs li = new LinearInputs(in.q(), in.k(), in.v().mul(thV), Transforms.log(in.decay(), true), null,
                null, transpose(in.initialState().memory().get(0)));
        String ctx = "simple_gla C=" + c;
        Pair p = run(mc, in, lc, li, ctx);
        assertClose(ctx + " dv", p.gm.dv(), p.gl.dv().mul(thV), 1e-10);
        assertClose(ctx + " dTheta", p.gm.dTheta(), p.gl.dv().mul(in.v()).sum(3), 1e-10);
        assertClose(ctx + " dDecay", p.gm.dDecay(), p.gl.dg().div(in.decay()), 1e-10);
    }

    @ParameterizedTest(name = "T={0}")
    @ValueSource(ints = {2, 8})
    void dotVectorDecayGdIsGla(int t) {
        MirasConfig mc = MirasConfig.of(new MemoryArchitecture.Linear(), new AttentionalBias.Dot(),
                new RetentionGate.VectorDecay(), new UpdateRule.Gd()).withChunkSize(2);
        MirasInputs in = MirasTestData.random(mc, B, t, H, D, D, true, 0, DataType.DOUBLE, 500 + t);
        INDArray thV = in.theta().reshape(B, t, H, 1).broadcast(B, t, H, D);
        LinearOpConfig lc = LinearOpConfig.of(LinearOp.GLA).withBackend(Backend.REFERENCE).withScale(1.0);
        LinearInputs li = new LinearInputs(in.q(), in.k(), in.v().mul(thV), null, Transforms.log(in.decay(), true),
                null, transpose(in.initialState().memory().get(0)));
        String ctx = "gla T=" + t;
        Pair p = run(mc, in, lc, li, ctx);
        assertClose(ctx + " dv", p.gm.dv(), p.gl.dv().mul(thV), 1e-10);
        assertClose(ctx + " dTheta", p.gm.dTheta(), p.gl.dv().mul(in.v()).sum(3), 1e-10);
        assertClose(ctx + " dDecay", p.gm.dDecay(), p.gl.dgk().div(in.decay()), 1e-10);
    }

    private record Pair(MirasGrads gm, LinearGrads gl) {}

    /** Compares outputs, final state, dq, dk and the initial-state gradient; returns both gradients. */
    private static Pair run(MirasConfig mc, MirasInputs in, LinearOpConfig lc, LinearInputs li, String ctx) {
        MirasForward fm = MirasOps.forward(mc, in, true);
        LinearForward fl = LinearOps.forward(lc, li, true);
        assertClose(ctx + " y", fm.y(), fl.o(), 1e-12);
        assertClose(ctx + " final state", fm.finalState().memory().get(0), transpose(fl.finalState()), 1e-12);
        long[] ys = fm.y().shape();
        INDArray dY = MirasTestData.randn(DataType.DOUBLE, 9, ys);
        INDArray dW = MirasTestData.randn(DataType.DOUBLE, 10, fm.finalState().memory().get(0).shape());
        MirasGrads gm = MirasOps.backward(fm, dY, new MirasState(List.of(dW), null, null));
        LinearGrads gl = LinearOps.backward(fl, dY, transpose(dW));
        assertClose(ctx + " dq", gm.dq(), gl.dq(), 1e-10);
        assertClose(ctx + " dk", gm.dk(), gl.dk(), 1e-10);
        assertClose(ctx + " dInitialState", gm.dInitialState().memory().get(0), transpose(gl.dInitialState()), 1e-10);
        return new Pair(gm, gl);
    }

    private static INDArray transpose(INDArray s) {
        return s.permute(0, 1, 3, 2).dup('c');
    }
}
