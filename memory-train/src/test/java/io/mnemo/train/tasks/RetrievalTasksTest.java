package io.mnemo.train.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.OptionalDouble;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Passkey and needle-in-a-haystack: answers, placement, lengths, scoring. */
class RetrievalTasksTest {

    private static String text(int[] ids) {
        byte[] b = new byte[ids.length];
        for (int i = 0; i < ids.length; i++) {
            b[i] = (byte) ids[i];
        }
        return new String(b, StandardCharsets.UTF_8);
    }

    private static String maskedTargets(Batch b, int row) {
        int[] tg = b.targets().toIntMatrix()[row];
        float[] mask = b.mask().toFloatMatrix()[row];
        StringBuilder sb = new StringBuilder();
        for (int t = 0; t < tg.length; t++) {
            if (mask[t] != 0f) {
                sb.append((char) tg[t]);
            }
        }
        return sb.toString();
    }

    @Test
    void passkeyAnswerIsTheInsertedKey() {
        PasskeyTask task = new PasskeyTask(300, OptionalDouble.empty(), 5, 42);
        Batch b = task.batch(2, 6);
        assertEquals(300, b.seqLen());
        Pattern p = Pattern.compile("The pass key is (\\d{5})\\. Remember it\\. \\1 is the pass key\\.");
        for (int r = 0; r < 6; r++) {
            String input = text(b.inputs().toIntMatrix()[r]);
            Matcher m = p.matcher(input);
            assertTrue(m.find(), input);
            assertEquals(m.group(1), maskedTargets(b, r));
            assertTrue(input.contains(PasskeyTask.QUESTION), input);
            PasskeyTask.Example ex = task.example(2, r);
            assertEquals(m.group(1), ex.answer());
            assertEquals(301, ex.text().getBytes(StandardCharsets.UTF_8).length);
            assertEquals(m.start(), ex.needleOffset());
        }
    }

    @Test
    void passkeyDepthPlacesTheLine() {
        PasskeyTask start = new PasskeyTask(1000, OptionalDouble.of(0), 5, 1);
        assertEquals(0, start.example(0, 0).needleOffset());
        assertTrue(start.example(0, 0).text().startsWith("The pass key is "));
        PasskeyTask end = new PasskeyTask(1000, OptionalDouble.of(1), 5, 1);
        PasskeyTask.Example e = end.example(0, 0);
        // at depth 1 the line follows the last complete filler sentence, close to the question
        assertTrue(e.needleOffset() > 850, "offset " + e.needleOffset());
        PasskeyTask mid = new PasskeyTask(1000, OptionalDouble.of(0.5), 5, 1);
        int off = mid.example(0, 0).needleOffset();
        assertTrue(off > 350 && off < 500, "offset " + off);
        assertTrue(mid.example(0, 0).text().substring(0, off).endsWith(". "), "line starts at a sentence");
    }

    @Test
    void exampleAccuracyNeedsEveryDigit() {
        PasskeyTask task = new PasskeyTask(200, OptionalDouble.of(0.3), 5, 9);
        Batch b = task.batch(0, 4);
        assertEquals(20L, b.maskedCount());
        INDArray perfect = b.targets().dup();
        assertEquals(1.0, Task.exampleAccuracy(b, perfect));
        assertEquals(1.0, Task.accuracy(b, perfect));
        INDArray oneWrong = b.targets().dup();
        int t = b.seqLen() - 1; // the last answer digit of row 0
        oneWrong.putScalar(new int[] {0, t}, (oneWrong.getInt(0, t) == '0') ? '1' : '0');
        assertEquals(0.75, Task.exampleAccuracy(b, oneWrong), 1e-12);
        assertEquals(19.0 / 20, Task.accuracy(b, oneWrong), 1e-12);
    }

    @Test
    void passkeyRejectsBadConfigs() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new PasskeyTask(50, OptionalDouble.empty(), 5, 0));
        assertEquals("seqLen=50 is too short for a passkey example with 5 digits: needs seqLen >= "
                + PasskeyTask.minSeqLen(5), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new PasskeyTask(500, OptionalDouble.of(1.5), 5, 0));
        assertEquals("depth must be in [0, 1], got 1.5", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new PasskeyTask(500, OptionalDouble.empty(), 0, 0));
        assertEquals("digits must be in [1, 18], got 0", e.getMessage());
        // the minimum itself works
        new PasskeyTask(PasskeyTask.minSeqLen(5), OptionalDouble.empty(), 5, 0).batch(0, 2);
    }

    @Test
    void passkeyContextWeightOnlyChangesTheTrainingWeights() {
        PasskeyTask plain = new PasskeyTask(200, OptionalDouble.empty(), 5, 3);
        PasskeyTask weighted = new PasskeyTask(200, OptionalDouble.empty(), 5, 0.25, 3);
        Batch scored = weighted.batch(4, 3);
        Batch trained = weighted.trainingBatch(4, 3);
        // the score is the same task: same data, answer-only mask
        assertEquals(plain.batch(4, 3).inputs(), scored.inputs());
        assertEquals(plain.batch(4, 3).mask(), scored.mask());
        assertEquals(scored.inputs(), trained.inputs());
        assertEquals(scored.targets(), trained.targets());
        float[][] m = scored.mask().toFloatMatrix();
        float[][] w = trained.mask().toFloatMatrix();
        for (int r = 0; r < m.length; r++) {
            for (int t = 0; t < m[r].length; t++) {
                assertEquals(m[r][t] == 1f ? 1f : 0.25f, w[r][t], "row " + r + " position " + t);
            }
        }
        // weight 0 trains on the answer only
        assertEquals(plain.batch(4, 3).mask(), plain.trainingBatch(4, 3).mask());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new PasskeyTask(200, OptionalDouble.empty(), 5, 1.5, 3));
        assertEquals("contextWeight must be in [0, 1], got 1.5", e.getMessage());
        assertEquals(0.25, ((PasskeyTask) Tasks.create("passkey", java.util.Map.of("seqLen", "200",
                "contextWeight", "0.25"))).contextWeight());
    }

    @Test
    void needleAnswerIsTheKeyedNumber() {
        for (NeedleTask.HaystackKind kind : NeedleTask.HaystackKind.values()) {
            NeedleTask task = new NeedleTask(600, OptionalDouble.empty(), 7, kind, 5);
            Batch b = task.batch(1, 5);
            for (int r = 0; r < 5; r++) {
                String input = text(b.inputs().toIntMatrix()[r]);
                Matcher m = Pattern.compile("One of the special magic numbers for ([a-z]+-[a-z]+) is: (\\d{7})\\.")
                        .matcher(input);
                assertTrue(m.find(), input);
                assertTrue(input.contains("What is the special magic number for " + m.group(1) + " mentioned"), input);
                assertEquals(m.group(2), maskedTargets(b, r));
                NeedleTask.Example ex = task.example(1, r);
                assertEquals(m.group(1), ex.key());
                assertEquals(m.group(2), ex.answer());
                assertEquals(601, ex.text().length());
            }
        }
    }

    @Test
    void needleNoiseHaystackDiffersBetweenExamples() {
        NeedleTask task = new NeedleTask(600, OptionalDouble.of(0.5), 7, NeedleTask.HaystackKind.NOISE, 5);
        String a = task.example(0, 0).text();
        String b = task.example(0, 1).text();
        assertNotEquals(a.substring(0, 100), b.substring(0, 100));
        assertEquals(a, task.example(0, 0).text());
    }

    @Test
    void needleRejectsShortSequences() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new NeedleTask(100, OptionalDouble.empty(), 7, NeedleTask.HaystackKind.REPEAT, 0));
        assertTrue(e.getMessage().startsWith("seqLen=100 is too short for a needle example with 7 digits"),
                e.getMessage());
        new NeedleTask(NeedleTask.minSeqLen(7), OptionalDouble.empty(), 7, NeedleTask.HaystackKind.NOISE, 0)
                .batch(3, 4);
    }
}
