package io.mnemo.modules.titans;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The activations' own tanh, values and derivatives against Math.tanh and central differences. */
class TitansActivationTest {
    @Test
    void tanhMatchesMathTanhEverywhere() {
        for (double x = -30; x <= 30; x += 0.0137) {
            assertEquals(Math.tanh(x), TitansActivation.tanh(x), 4e-16, "x=" + x);
        }
        for (double x : new double[] {0, 1e-300, -1e-12, 3e-5, -9.99e-5, 1e-4, -1.0001e-4, 19.99, -20.01}) {
            assertEquals(Math.tanh(x), TitansActivation.tanh(x), Math.abs(Math.tanh(x)) * 1e-12 + 1e-300, "x=" + x);
        }
    }

    @Test
    void derivativesMatchCentralDifferences() {
        double h = 1e-5;
        for (TitansActivation a : TitansActivation.values()) {
            for (double x = -6; x <= 6; x += 0.173) {
                double fd1 = (a.value(x + h) - a.value(x - h)) / (2 * h);
                double fd2 = (a.d1(x + h) - a.d1(x - h)) / (2 * h);
                assertEquals(fd1, a.d1(x), 1e-8, a + " d1 at x=" + x);
                assertEquals(fd2, a.d2(x), 1e-8, a + " d2 at x=" + x);
            }
        }
    }
}
