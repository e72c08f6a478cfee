package io.mnemo.modules.miras;

import static io.mnemo.modules.miras.MirasBlockTest.arrays;
import static io.mnemo.modules.miras.MirasBlockTest.block;
import static io.mnemo.modules.miras.MirasBlockTest.checkArray;
import static io.mnemo.modules.miras.MirasBlockTest.like;
import static io.mnemo.modules.miras.MirasBlockTest.loss;
import static io.mnemo.modules.miras.MirasBlockTest.randn;
import static io.mnemo.modules.miras.MirasBlockTest.randomLike;

import io.mnemo.core.Mixer;
import io.mnemo.core.Parameter;
import java.util.List;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The Miras layer from its learned initial memory: dx and every parameter's gradient (the initial
 * memory included) against finite differences in double, for the three presets and a
 * linear/vector-decay/momentum composition (split from {@link MirasBlockTest} to keep each class short).
 */
class MirasBlockGradientTest {
    @ParameterizedTest(name = "{0}")
    @MethodSource("io.mnemo.modules.miras.MirasBlockTest#configs")
    void gradientsFromTheLearnedInitialMemoryMatchFiniteDifferences(String name, MirasConfig m) {
        MirasBlock blk = block(m);
        int b = 1;
        int t = 5;
        INDArray x = randn(1, b, t, 4).muli(0.5);
        INDArray ry = randn(3, b, t, 4);
        Mixer.Forward<MirasBlockState> probe = blk.forward(x, blk.initialState(b), false);
        List<INDArray> rs = randomLike(arrays(probe.state()), 20);
        Mixer.Forward<MirasBlockState> f = blk.forward(x, blk.initialState(b), true);
        Mixer.Backward<MirasBlockState> bw = blk.backward(f, ry, like(probe.state(), rs));
        DoubleSupplier l = () -> loss(blk, x, blk.initialState(b), ry, rs);
        checkArray(name + " dx", x, bw.dx(), l);
        for (Parameter p : blk.parameters()) {
            checkArray(name + " " + p.name(), p.value(), p.grad(), l);
        }
    }

}
