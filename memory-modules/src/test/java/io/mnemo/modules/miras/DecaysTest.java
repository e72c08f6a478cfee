package io.mnemo.modules.miras;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The fast half-integer power against {@link Math#pow}. */
class DecaysTest {
    @Test
    void powMatchesMathPowOnHalfIntegerAndOtherExponents() {
        double[] xs = {1e-12, 1e-6, 0.37, 1, 2.5, 17, 1e6};
        double[] es = {-8, -2.5, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3, 4, 8, 0.3, 2.75, 9, -9.5};
        for (double x : xs) {
            for (double e : es) {
                double want = Math.pow(x, e);
                assertEquals(want, Decays.pow(x, e), Math.abs(want) * 1e-13, "x=" + x + ", e=" + e);
            }
        }
    }
}
