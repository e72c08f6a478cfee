package io.mnemo.modules.miras;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.modules.miras.MirasComponentFactory.Kind;
import io.mnemo.modules.miras.MirasComponents.Spec;
import io.mnemo.modules.titans.TitansActivation;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The component registry: built-in names with options build the same components as the constructors;
 * a test-only user bias registered through META-INF/services is found by name and runs through the
 * generic kernel with a backward that matches finite differences; unknown names and options are
 * rejected with the valid ones listed.
 */
class MirasComponentsRegistryTest {
    @Test
    void builtInNamesBuildTheComponents() {
        assertEquals(new MemoryArchitecture.Mlp(2, TitansActivation.GELU_TANH),
                MirasComponents.architecture(new Spec("mlp", Map.of("expansion", 2, "activation", "gelu_tanh"))));
        assertEquals(new AttentionalBias.Lp(3, 1e-6), MirasComponents.bias(Spec.of("lp")));
        assertEquals(new AttentionalBias.Lp(2.5, 1e-4), MirasComponents.bias(new Spec("lp", Map.of("p", 2.5, "eps", "1e-4"))));
        assertEquals(AttentionalBias.Huber.perToken(AttentionalBias.Huber.Mode.NORM),
                MirasComponents.bias(new Spec("huber", Map.of("mode", "norm"))));
        assertEquals(AttentionalBias.Huber.fixed(AttentionalBias.Huber.Mode.COORDINATE, 0.5),
                MirasComponents.bias(new Spec("huber", Map.of("delta", 0.5))));
        assertEquals(new RetentionGate.Lq(4, 1e-6), MirasComponents.retention(Spec.of("lq")));
        assertEquals(new RetentionGate.Kl(2), MirasComponents.retention(new Spec("kl", Map.of("scale", 2))));
        assertEquals(new UpdateRule.Momentum(), MirasComponents.rule(Spec.of("momentum")));
        MirasConfig moneta = MirasComponents.config(new Spec("mlp", Map.of("activation", "gelu_tanh")),
                Spec.of("lp"), Spec.of("lq"), Spec.of("gd"), 16);
        assertEquals(MirasPresets.moneta(16), moneta);
        for (Kind k : Kind.values()) {
            assertTrue(!MirasComponents.names(k).isEmpty(), k + " has names");
        }
    }

    @Test
    void userBiasFromServiceLoaderRunsWithExactGradients() {
        assertTrue(MirasComponents.names(Kind.BIAS).contains("test-logcosh"), "ServiceLoader found the user's bias");
        AttentionalBias b = MirasComponents.bias(new Spec("test-logcosh", Map.of("scale", 0.5)));
        assertInstanceOf(LogCoshBiasFactory.LogCosh.class, b);
        MirasConfig cfg = MirasComponents.config(new Spec("mlp", Map.of("expansion", 2)), new Spec("test-logcosh",
                Map.of("scale", 0.5)), Spec.of("scalar-decay"), Spec.of("momentum"), 3);
        MirasInputs in = MirasTestData.random(cfg, 1, 5, 1, 3, 3, true, 1, DataType.DOUBLE, 71);
        MirasForward f = MirasOps.forward(cfg, in, true);
        INDArray dY = MirasTestData.randn(DataType.DOUBLE, 72, 1, 5, 1, 3);
        MirasGrads g = MirasOps.backward(f, dY, null);
        java.util.function.DoubleSupplier loss = () -> MirasGradientCheckTest.dot(MirasOps.forward(cfg, in, false).y(), dY);
        for (INDArray[] pair : new INDArray[][] {{in.k(), g.dk()}, {in.v(), g.dv()}, {in.theta(), g.dTheta()},
            {in.initialState().memory().get(0), g.dInitialState().memory().get(0)}}) {
            for (long i = 0; i < pair[0].length(); i++) {
                double x0 = pair[0].getDouble(i);
                pair[0].putScalar(i, x0 + 1e-6);
                double fp = loss.getAsDouble();
                pair[0].putScalar(i, x0 - 1e-6);
                double fm = loss.getAsDouble();
                pair[0].putScalar(i, x0);
                assertEquals((fp - fm) / 2e-6, pair[1].getDouble(i), 1e-6, "gradient at " + i);
            }
        }
    }

    @Test
    void unknownNamesAndOptionsAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MirasComponents.bias(Spec.of("l3")));
        assertTrue(e.getMessage().contains("unknown Miras bias 'l3'") && e.getMessage().contains("huber"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> MirasComponents.retention(new Spec("lq", Map.of("p", 4))));
        assertTrue(e.getMessage().contains("unknown option 'p'") && e.getMessage().contains("[q, eps]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> MirasComponents.bias(new Spec("lp", Map.of("p", 0.5))));
        assertTrue(e.getMessage().contains("p must"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> MirasComponents.bias(new Spec("lp", Map.of("p", "three"))));
        assertTrue(e.getMessage().contains("must be a number"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> MirasComponents.retention(new Spec("elastic-net", Map.of("lambda", -1))));
        assertTrue(e.getMessage().contains("lambda must"), e.getMessage());
    }
}
