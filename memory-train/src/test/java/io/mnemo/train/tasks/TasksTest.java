package io.mnemo.train.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;

class TasksTest {

    private static final Map<String, Map<String, String>> SMALL = Map.of(
            "mqar", Map.of("vocab", "64", "seqLen", "64", "pairs", "4"),
            "passkey", Map.of("seqLen", "200"),
            "niah", Map.of("seqLen", "400", "haystack", "noise"),
            "selective-copy", Map.of("seqLen", "48", "tokens", "8"),
            "induction", Map.of("seqLen", "32"));

    @Test
    void everyTaskIsDeterministicByIndexAndInRange() {
        assertEquals(Tasks.names(), java.util.List.of("mqar", "passkey", "niah", "selective-copy", "induction",
                "text"));
        // the synthetic tasks (text needs fetched corpora: textTaskReadsACorpusDirectory)
        for (String name : Tasks.names().subList(0, 5)) {
            Task task = Tasks.create(name, SMALL.get(name));
            assertEquals(name, task.name());
            Batch a = task.batch(3, 4);
            Batch b = task.batch(3, 4);
            assertEquals(a.inputs(), b.inputs(), name);
            assertEquals(a.targets(), b.targets(), name);
            assertEquals(a.mask(), b.mask(), name);
            assertNotEquals(a.inputs(), task.batch(4, 4).inputs(), name);
            assertEquals(4, a.batchSize());
            assertEquals(task.seqLen(), a.seqLen());
            assertTrue(a.inputs().maxNumber().intValue() < task.vocabSize(), name);
            assertTrue(a.targets().minNumber().intValue() >= 0, name);
            assertTrue(a.maskedCount() > 0, name);
            // the first rows do not depend on the batch size
            assertEquals(a.inputs().getRow(0), task.batch(3, 2).inputs().getRow(0), name);
            assertTrue(task.describe().startsWith(name + ":"), task.describe());
        }
    }

    @Test
    void optionsAreParsedAndDefaulted() {
        MqarTask t = (MqarTask) Tasks.create("mqar", Map.of("seqLen", "128", "pairs", "8", "seed", "5"));
        assertEquals(new MqarTask(8192, 128, 8, 0.01, 5), t);
        Task p = Tasks.create("passkey", Map.of("depth", "0.25", "seqLen", "256"));
        assertEquals(0.25, ((PasskeyTask) p).depth().getAsDouble());
    }

    @Test
    void unknownNamesAndOptionsAreRejectedWithTheValidOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tasks.create("copy", Map.of()));
        assertEquals("unknown task 'copy', expected one of [mqar, passkey, niah, selective-copy, induction, text]",
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Tasks.create("induction", Map.of("pairs", "3")));
        assertEquals("unknown option 'pairs' for task induction, expected one of [vocab, seqLen, seed]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Tasks.create("mqar", Map.of("seqLen", "abc")));
        assertEquals("option seqLen=abc of task mqar is not an integer", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Tasks.create("niah", Map.of("haystack", "essay")));
        assertEquals("option haystack=essay of task niah is not one of repeat, noise", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Tasks.create("mqar", Map.of("seqLen", "128", "pairs", "64")));
        assertEquals("numPairs=64 needs seqLen >= 4*64=256 (pairs plus queries), got 128", e.getMessage());
    }

    @Test
    void listDescribesEveryTaskAndOption() {
        String list = Tasks.list();
        for (Tasks.Spec s : Tasks.specs()) {
            assertTrue(list.contains(s.name() + ": "), s.name());
            for (Tasks.Option o : s.options()) {
                assertTrue(list.contains(o.name()), o.name());
            }
        }
    }

    @Test
    void batchValidatesShapesTypesAndIds() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Batch(Nd4j.createFromArray(new int[][] {{1, 2}}), Nd4j.createFromArray(new int[][] {{1, 2, 3}}),
                        Nd4j.createFromArray(new float[][] {{1, 1}})));
        assertTrue(e.getMessage().startsWith("inputs, targets and mask must all be [B, T]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new Batch(Nd4j.createFromArray(new long[][] {{1, 2}}), Nd4j.createFromArray(new int[][] {{1, 2}}),
                        Nd4j.createFromArray(new float[][] {{1, 1}})));
        assertEquals("inputs has data type LONG, expected INT32", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Batch.of(new int[][] {{1, 9}}, new int[][] {{1, 2}}, new float[][] {{1, 1}}, 8));
        assertEquals("inputs[0, 1] = 9 is outside the vocabulary [0, 8)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new InductionTask(16, 8, 0).batch(0, 0));
        assertEquals("batchSize must be >= 1, got 0", e.getMessage());
        Batch b = Batch.of(new int[][] {{1, 2}}, new int[][] {{2, 3}}, new float[][] {{0, 1}}, 8);
        e = assertThrows(IllegalArgumentException.class, () -> Task.accuracy(b, Nd4j.createFromArray(new int[] {2, 3})));
        assertEquals("predictedIds has shape [2], expected [B, T] = [1, 2]", e.getMessage());
        assertEquals(1.0, Task.accuracy(b, Nd4j.createFromArray(new int[][] {{0, 3}})));
        assertEquals(1.0, Task.accuracy(b, Nd4j.createFromArray(new float[][] {{0f, 3f}})), "float-typed ids");
        assertEquals(0.0, Task.exampleAccuracy(b, Nd4j.createFromArray(new int[][] {{2, 2}})));
    }

    @org.junit.jupiter.api.Test
    void textTaskReadsACorpusDirectory(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        java.nio.file.Path dir = tmp.resolve("mini");
        java.nio.file.Files.createDirectories(dir);
        for (int d = 0; d < 10; d++) {
            java.nio.file.Files.writeString(dir.resolve("doc" + d + ".txt"), ("document " + d + " says hello. ").repeat(20));
        }
        String old = System.getProperty("mnemo.corpora");
        System.setProperty("mnemo.corpora", tmp.toString());
        try {
            Task train = Tasks.create("text", java.util.Map.of("corpus", "mini", "seqLen", "32"));
            Task valid = Tasks.create("text", java.util.Map.of("corpus", "mini", "seqLen", "32", "split", "validation"));
            assertEquals(256, train.vocabSize());
            assertEquals(32, train.batch(0, 2).seqLen());
            assertNotEquals(train.batch(0, 2).inputs(), valid.batch(0, 2).inputs());
            var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> Tasks.create("text", java.util.Map.of("corpus", "mini", "split", "dev")));
            assertTrue(e.getMessage().contains("train, validation or test"), e.getMessage());
        } finally {
            if (old == null) {
                System.clearProperty("mnemo.corpora");
            } else {
                System.setProperty("mnemo.corpora", old);
            }
        }
    }
}
