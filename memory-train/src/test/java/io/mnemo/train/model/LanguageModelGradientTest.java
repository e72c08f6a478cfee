package io.mnemo.train.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.GradientCheck;
import io.mnemo.core.NdBuffers;
import io.mnemo.core.Parameter;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** The whole language model's backward against finite differences in double precision. */
class LanguageModelGradientTest {
    static ModelConfig tiny(boolean tied) {
        return new ModelConfig(11, 8, List.of(
                new MixerSpec("gated_delta_rule", 2, 3, 4, "reference"),
                new MixerSpec("gla", 2, 0, 4, "reference")), 2.0, tied, 3);
    }

    /** One layer of each other mixer family, small and on the reference kernels. */
    static java.util.stream.Stream<MixerSpec> otherFamilies() {
        return java.util.stream.Stream.of(
                new MixerSpec("mamba2", 2, 3, 4, "reference", java.util.Map.of("stateSize", 3)),
                new MixerSpec("mamba", 1, 2, 4, "reference", java.util.Map.of("stateSize", 2)),
                new MixerSpec("attention", 2, null, null, "reference", java.util.Map.of("window", 4)),
                new MixerSpec("titans", 2, 2, 3, "reference", java.util.Map.of("expansion", 2)),
                new MixerSpec("titans_mag", 2, 2, 3, "reference", java.util.Map.of("expansion", 2, "window", 3,
                        "persistentTokens", 2)),
                new MixerSpec("titans_mac", 2, null, 2, "reference", java.util.Map.of("expansion", 2, "segmentLength", 4,
                        "persistentTokens", 2)),
                new MixerSpec("memmamba", 2, 2, null, "reference", java.util.Map.of("stateSize", 2, "poolSize", 3)));
    }

    /** The model's backward composes every mixer family correctly (each family's own FD tests are in memory-modules). */
    @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.MethodSource("otherFamilies")
    void everyMixerFamilyInsideTheModelMatchesFiniteDifferences(MixerSpec spec) {
        LanguageModel m = new LanguageModel(new ModelConfig(11, 8, List.of(spec), 1.0, false, 3), DataType.DOUBLE);
        Random r = new Random(4);
        INDArray x = ids(r, 2, 6, 11);
        INDArray y = ids(r, 2, 6, 11);
        INDArray mask = Nd4j.ones(DataType.FLOAT, 2, 6);
        LanguageModel.Output out = m.forward(x, null, true);
        Loss.Result l = Loss.crossEntropy(out.logits(), y, mask, true);
        m.zeroGrad();
        m.backward(out, l.dLogits(), null);
        for (Parameter p : m.parameters()) {
            double[] x0 = NdBuffers.toDoubles(p.value());
            long[] shape = p.value().shape();
            GradientCheck.Result res = GradientCheck.check(xs -> {
                p.value().assign(NdBuffers.ofDoubles(xs, shape));
                return Loss.crossEntropy(m.forward(x, null, false).logits(), y, mask, false).loss();
            }, x0.clone(), NdBuffers.toDoubles(p.grad()), 1e-6, 2, 5);
            p.value().assign(NdBuffers.ofDoubles(x0, shape));
            assertTrue(res.passed(1e-6), spec.type() + " " + p.name() + ": " + res);
        }
    }

    private static INDArray ids(Random r, int b, int t, int v) {
        double[] d = new double[b * t];
        for (int i = 0; i < d.length; i++) {
            d[i] = r.nextInt(v);
        }
        return NdBuffers.ofDoubles(d, b, t).castTo(DataType.INT32);
    }

    @ParameterizedTest(name = "tied={0}")
    @ValueSource(booleans = {false, true})
    void wholeModelGradientsMatchFiniteDifferences(boolean tied) {
        LanguageModel m = new LanguageModel(tiny(tied), DataType.DOUBLE);
        Random r = new Random(1);
        INDArray x = ids(r, 2, 6, 11);
        INDArray y = ids(r, 2, 6, 11);
        INDArray mask = Nd4j.ones(DataType.FLOAT, 2, 6);
        mask.putScalar(0, 0, 0);
        LanguageModel.Output out = m.forward(x, null, true);
        Loss.Result l = Loss.crossEntropy(out.logits(), y, mask, true);
        m.zeroGrad();
        m.backward(out, l.dLogits(), null);
        int checked = 0;
        for (Parameter p : m.parameters()) {
            double[] x0 = NdBuffers.toDoubles(p.value());
            long[] shape = p.value().shape();
            GradientCheck.Result res = GradientCheck.check(xs -> {
                p.value().assign(NdBuffers.ofDoubles(xs, shape));
                return Loss.crossEntropy(m.forward(x, null, false).logits(), y, mask, false).loss();
            }, x0.clone(), NdBuffers.toDoubles(p.grad()), 1e-6, 4, 5);
            p.value().assign(NdBuffers.ofDoubles(x0, shape));
            assertTrue(res.passed(1e-6), p.name() + ": " + res);
            checked++;
        }
        assertTrue(checked > 20, "checked " + checked + " parameters");
    }

    @Test
    void carriedStateAndStepsMatchOnePass() {
        ModelConfig cfg = new ModelConfig(13, 16, List.of(MixerSpec.of("gated_delta_rule", 2),
                MixerSpec.of("simple_gla", 4)), 2.0, false, 7);
        LanguageModel m = new LanguageModel(cfg);
        INDArray x = ids(new Random(2), 2, 9, 13);
        INDArray whole = m.forward(x, null, false).logits();
        LanguageModel.Output a = m.forward(x.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 4)).dup(), null, false);
        LanguageModel.Output b = m.forward(x.get(NDArrayIndex.all(), NDArrayIndex.interval(4, 9)).dup(), a.state(), false);
        INDArray pieces = Nd4j.concat(1, a.logits(), b.logits());
        assertTrue(pieces.equalsWithEps(whole, 1e-4), "pieces differ from one pass");
        ModelState s = null;
        for (int t = 0; t < 9; t++) {
            LanguageModel.Output o = m.step(x.get(NDArrayIndex.all(), NDArrayIndex.point(t)).dup(), s);
            s = o.state();
            INDArray expect = whole.get(NDArrayIndex.all(), NDArrayIndex.point(t), NDArrayIndex.all());
            assertTrue(o.logits().reshape(2, 13).equalsWithEps(expect, 1e-4), "step " + t);
        }
    }

    static java.util.stream.Stream<String> presets() {
        return Presets.names().stream();
    }

    /** Every preset: forward over pieces with the state carried and token steps equal one pass. */
    @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.MethodSource("presets")
    void everyPresetStepsAndPiecesMatchOnePass(String preset) {
        LanguageModel m = new LanguageModel(Presets.create(preset, 13));
        int t = 19;
        INDArray x = ids(new Random(5), 2, t, 13);
        INDArray whole = m.forward(x, null, false).logits();
        LanguageModel.Output a = m.forward(x.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 8)).dup(), null, false);
        LanguageModel.Output b = m.forward(x.get(NDArrayIndex.all(), NDArrayIndex.interval(8, t)).dup(), a.state(),
                false);
        INDArray pieces = Nd4j.concat(1, a.logits(), b.logits());
        double scale = Math.max(1, whole.amaxNumber().doubleValue());
        assertTrue(pieces.sub(whole).amaxNumber().doubleValue() <= 1e-4 * scale, preset + ": pieces differ");
        ModelState s = null;
        for (int i = 0; i < t; i++) {
            LanguageModel.Output o = m.step(x.get(NDArrayIndex.all(), NDArrayIndex.point(i)).dup(), s);
            s = o.state();
            INDArray expect = whole.get(NDArrayIndex.all(), NDArrayIndex.point(i), NDArrayIndex.all());
            assertTrue(o.logits().reshape(2, 13).sub(expect).amaxNumber().doubleValue() <= 1e-4 * scale,
                    preset + ": step " + i);
        }
    }

    @Test
    void greedyGenerationWithStepsEqualsArgmaxOfTheFullForward() {
        ModelConfig cfg = new ModelConfig(20, 16, List.of(MixerSpec.of("gated_delta_rule", 2),
                MixerSpec.of("gla", 2)), 2.0, true, 9);
        LanguageModel m = new LanguageModel(cfg);
        int prompt = 5;
        int gen = 12;
        INDArray x = ids(new Random(3), 1, prompt, 20);
        LanguageModel.Output o = m.forward(x, null, false);
        int[] seq = new int[prompt + gen];
        for (int t = 0; t < prompt; t++) {
            seq[t] = x.getInt(0, t);
        }
        INDArray last = o.logits().get(NDArrayIndex.point(0), NDArrayIndex.point(prompt - 1), NDArrayIndex.all());
        ModelState s = o.state();
        for (int i = 0; i < gen; i++) {
            int next = last.argMax().getInt(0);
            seq[prompt + i] = next;
            LanguageModel.Output st = m.step(Nd4j.createFromArray(new int[] {next}), s);
            s = st.state();
            last = st.logits().reshape(20);
        }
        // one forward over the whole generated sequence must predict every generated token
        INDArray full = Nd4j.createFromArray(new int[][] {java.util.Arrays.copyOf(seq, prompt + gen - 1)});
        INDArray pred = Loss.argmax(m.forward(full, null, false).logits());
        for (int i = 0; i < gen; i++) {
            assertEquals(seq[prompt + i], pred.getInt(0, prompt - 1 + i), "generated token " + i);
        }
    }

    @Test
    void configsRoundTripThroughJson() throws Exception {
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        for (String name : Presets.names()) {
            ModelConfig c = Presets.create(name, 256);
            assertEquals(c, json.readValue(json.writeValueAsString(c), ModelConfig.class), name);
        }
        ModelConfig hybrid = new ModelConfig(64, 32, List.of(new MixerSpec("gla", 2, 0, 16, "cpu"),
                MixerSpec.of("delta_rule", 4)), 0, true, 5);
        String text = json.writeValueAsString(hybrid);
        assertEquals(hybrid, json.readValue(text, ModelConfig.class));
        assertTrue(text.contains("\"type\":\"gla\""), text);
    }

    @Test
    void badConfigsAndTokensAreRejected() {
        var e = assertThrows(IllegalArgumentException.class, () -> new ModelConfig(10, 12, List.of(
                MixerSpec.of("gated_delta_rule", 5)), 2, false, 1));
        assertEquals("layer 0: heads=5 does not divide dModel=12", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new ModelConfig(10, 12, List.of(
                MixerSpec.of("transformer", 2)), 2, false, 1));
        assertTrue(e.getMessage().startsWith("unknown mixer 'transformer', expected one of"), e.getMessage());
        LanguageModel m = new LanguageModel(new ModelConfig(10, 8, List.of(MixerSpec.of("gla", 2)), 0, true, 1));
        e = assertThrows(IllegalArgumentException.class, () -> m.forward(Nd4j.createFromArray(new int[][] {{1, 10}}),
                null, false));
        assertTrue(e.getMessage().contains("outside the vocabulary [0, 10)"), e.getMessage());
    }
}
