package io.mnemo.train.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class MqarTaskTest {

    @Test
    void everyMaskedTargetIsTheValueOfTheQueriedKey() {
        for (int[] tk : MqarTask.STANDARD_GRID) {
            int t = tk[0];
            int k = tk[1];
            MqarTask task = new MqarTask(1024, t, k, 0.01, 7);
            Batch b = task.batch(5, 8);
            int[][] in = b.inputs().toIntMatrix();
            int[][] tg = b.targets().toIntMatrix();
            float[][] mask = b.mask().toFloatMatrix();
            for (int r = 0; r < 8; r++) {
                Map<Integer, Integer> kv = new HashMap<>();
                Set<Integer> values = new HashSet<>();
                for (int i = 0; i < k; i++) {
                    int key = in[r][2 * i];
                    int value = in[r][2 * i + 1];
                    assertTrue(key >= 1 && key < 512, "key " + key + " outside [1, V/2)");
                    assertTrue(value >= 512 && value < 1024, "value " + value + " outside [V/2, V)");
                    assertEquals(null, kv.put(key, value), "duplicate key " + key);
                    assertTrue(values.add(value), "duplicate value " + value);
                    assertEquals(0f, mask[r][2 * i]);
                    assertEquals(0f, mask[r][2 * i + 1]);
                }
                int masked = 0;
                Set<Integer> queried = new HashSet<>();
                for (int p = 0; p < t; p++) {
                    if (mask[r][p] != 0f) {
                        masked++;
                        assertTrue(p >= 2 * k && (p - 2 * k) % 2 == 0, "query at position " + p);
                        assertTrue(kv.containsKey(in[r][p]), "masked input " + in[r][p] + " is not a key");
                        assertEquals(kv.get(in[r][p]), tg[r][p]);
                        queried.add(in[r][p]);
                    } else if (p + 1 < t) {
                        assertEquals(in[r][p + 1], tg[r][p], "unmasked target is the next input");
                    }
                }
                assertEquals(k, masked, "one query per pair");
                assertEquals(kv.keySet(), queried, "every key is queried once");
            }
            assertEquals(8L * k, b.maskedCount());
        }
    }

    @Test
    void smallPowerAPutsQueriesEarly() {
        // with powerA = 0.01 the gap law is ~ 1/gap: the first gap slots are chosen far more often than the last
        MqarTask task = new MqarTask(1024, 512, 4, 0.01, 1);
        int early = 0;
        int late = 0;
        for (long i = 0; i < 20; i++) {
            float[][] mask = task.batch(i, 16).mask().toFloatMatrix();
            for (float[] row : mask) {
                for (int p = 8; p < 512; p++) {
                    if (row[p] != 0f) {
                        if (p < 8 + 50) {
                            early++;
                        } else if (p >= 512 - 50) {
                            late++;
                        }
                    }
                }
            }
        }
        assertTrue(early > 5 * late, "early=" + early + " late=" + late);
    }

    @Test
    void deterministicByIndex() {
        MqarTask task = new MqarTask(256, 64, 4, 3);
        Batch a = task.batch(11, 4);
        Batch b = task.batch(11, 4);
        assertEquals(a.inputs(), b.inputs());
        assertEquals(a.targets(), b.targets());
        assertEquals(a.mask(), b.mask());
        assertNotEquals(a.inputs(), task.batch(12, 4).inputs());
        assertNotEquals(a.inputs(), new MqarTask(256, 64, 4, 4).batch(11, 4).inputs());
    }

    @Test
    void rejectsImpossibleConfigs() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new MqarTask(8192, 128, 64, 0));
        assertEquals("numPairs=64 needs seqLen >= 4*64=256 (pairs plus queries), got 128", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new MqarTask(16, 64, 8, 0));
        assertTrue(e.getMessage().contains("vocabSize=16 is too small for 8 unique keys"), e.getMessage());
        assertTrue(e.getMessage().contains("need vocabSize >= 18"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new MqarTask(256, 64, 4, 0.0, 0));
        assertTrue(e.getMessage().startsWith("powerA must be in (0, 1]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new MqarTask(256, 64, 0, 0));
    }

    @Test
    void smallestVocabularyWorks() {
        MqarTask task = new MqarTask(10, 16, 4, 0);
        Batch b = task.batch(0, 3);
        assertEquals(12L, b.maskedCount());
    }
}
