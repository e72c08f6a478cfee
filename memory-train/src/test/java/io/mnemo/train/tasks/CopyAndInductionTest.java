package io.mnemo.train.tasks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class CopyAndInductionTest {

    @Test
    void selectiveCopyTargetsAreTheDataTokensInOrder() {
        SelectiveCopyTask task = new SelectiveCopyTask(16, 80, 16, 3);
        Batch b = task.batch(0, 5);
        int[][] in = b.inputs().toIntMatrix();
        int[][] tg = b.targets().toIntMatrix();
        float[][] mask = b.mask().toFloatMatrix();
        for (int r = 0; r < 5; r++) {
            List<Integer> data = new ArrayList<>();
            for (int p = 0; p < 64; p++) {
                assertTrue(in[r][p] != task.separator(), "no separator in the region");
                if (in[r][p] != SelectiveCopyTask.BLANK) {
                    data.add(in[r][p]);
                }
                assertEquals(0f, mask[r][p]);
            }
            assertEquals(16, data.size());
            for (int i = 0; i < 16; i++) {
                assertEquals(task.separator(), in[r][64 + i]);
                assertEquals(1f, mask[r][64 + i]);
                assertEquals((int) data.get(i), tg[r][64 + i]);
            }
        }
        assertEquals(80L, b.maskedCount());
    }

    @Test
    void selectiveCopyRejectsTooShortSequences() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new SelectiveCopyTask(16, 20, 16, 0));
        assertEquals("numTokens=16 needs seqLen >= 2*16=32 (a region holding the tokens plus the output), got 20",
                e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new SelectiveCopyTask(2, 64, 4, 0));
    }

    @Test
    void inductionTargetIsTheTokenAfterTheFirstTrigger() {
        for (int t : new int[] {4, 5, 64, 1000}) {
            InductionTask task = new InductionTask(16, t, 8);
            Batch b = task.batch(7, 6);
            int[][] in = b.inputs().toIntMatrix();
            int[][] tg = b.targets().toIntMatrix();
            float[][] mask = b.mask().toFloatMatrix();
            for (int r = 0; r < 6; r++) {
                int first = -1;
                int count = 0;
                for (int p = 0; p < t; p++) {
                    if (in[r][p] == task.trigger()) {
                        count++;
                        if (first < 0) {
                            first = p;
                        }
                    }
                }
                assertEquals(2, count, "the trigger occurs twice");
                assertTrue(first < (t - 1) / 2, "first trigger in the first half");
                assertEquals(task.trigger(), in[r][t - 1]);
                assertEquals(in[r][first + 1], tg[r][t - 1]);
                float[] expected = new float[t];
                expected[t - 1] = 1f;
                assertArrayEquals(expected, mask[r]);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> new InductionTask(16, 3, 0));
    }
}
