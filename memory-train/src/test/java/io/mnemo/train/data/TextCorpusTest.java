package io.mnemo.train.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.train.tasks.Batch;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextCorpusTest {

    private static TextCorpus corpus(int n) {
        List<Document> docs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            StringBuilder sb = new StringBuilder();
            for (int k = 0; k < 20 + 7 * i; k++) {
                sb.append("doc ").append(i).append(" line ").append(k).append(" é\n");
            }
            docs.add(Document.ofText(String.format("book-%02d", i), sb.toString()));
        }
        return new TextCorpus(docs);
    }

    private static Set<String> names(TextCorpus c) {
        Set<String> s = new HashSet<>();
        c.documents().forEach(d -> s.add(d.name()));
        return s;
    }

    @Test
    void splitIsDisjointCompleteAndDeterministic() {
        TextCorpus c = corpus(40);
        TextCorpus.Split s = c.split(0.1, 0.2, 7);
        assertEquals(4, s.validation().size());
        assertEquals(8, s.test().size());
        assertEquals(28, s.train().size());
        Set<String> all = new HashSet<>();
        all.addAll(names(s.train()));
        all.addAll(names(s.validation()));
        all.addAll(names(s.test()));
        assertEquals(names(c), all, "every document is in exactly one part");
        assertEquals(40, s.train().size() + s.validation().size() + s.test().size());

        TextCorpus.Split again = c.split(0.1, 0.2, 7);
        assertEquals(names(s.test()), names(again.test()));
        assertEquals(names(s.validation()), names(again.validation()));

        List<Document> shuffled = new ArrayList<>(c.documents());
        Collections.reverse(shuffled);
        assertEquals(names(s.test()), names(new TextCorpus(shuffled).split(0.1, 0.2, 7).test()),
                "the split does not depend on load order");
        assertNotEquals(names(s.test()), names(c.split(0.1, 0.2, 8).test()), "another seed, another split");
    }

    @Test
    void splitOfATinyCorpusKeepsOneDocumentPerNonEmptyPart() {
        TextCorpus.Split s = corpus(6).split(0.1, 0.1, 0);
        assertEquals(1, s.validation().size());
        assertEquals(1, s.test().size());
        assertEquals(4, s.train().size());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> corpus(2).split(0.3, 0.3, 0));
        assertEquals("a split with validFraction=0.3 and testFraction=0.3 leaves no training document out of 2",
                e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> corpus(5).split(1.0, 0, 0));
    }

    @Test
    void windowsAreDeterministicContiguousAndShifted() {
        TextCorpus c = corpus(5);
        CorpusWindows w = c.windows(32, 3);
        Batch a = w.batch(9, 6);
        Batch b = w.batch(9, 6);
        assertEquals(a.inputs(), b.inputs());
        assertNotEquals(a.inputs(), w.batch(10, 6).inputs());
        assertEquals(6L * 32, a.maskedCount());
        int[][] in = a.inputs().toIntMatrix();
        int[][] tg = a.targets().toIntMatrix();
        for (int r = 0; r < 6; r++) {
            byte[] window = new byte[33];
            for (int t = 0; t < 32; t++) {
                window[t] = (byte) in[r][t];
                if (t > 0) {
                    assertEquals(in[r][t], tg[r][t - 1]);
                }
            }
            window[32] = (byte) tg[r][31];
            boolean found = false;
            for (Document d : c.documents()) {
                found |= indexOf(d.bytes(), window) >= 0;
            }
            assertTrue(found, "row " + r + " is a window of one document");
        }
        long expected = 0;
        for (Document d : c.documents()) {
            expected += d.length() - 32;
        }
        assertEquals(expected, w.windowCount());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.windows(100_000, 0));
        assertTrue(e.getMessage().startsWith("no document of TextCorpus[5 documents"), e.getMessage());
    }

    @Test
    void segmentsCoverAWholeDocumentInOrder() {
        Document d = corpus(3).documents().get(2);
        int segLen = 64;
        int count = TextCorpus.segmentCount(d, segLen);
        assertEquals((d.length() - 1 + segLen - 1) / segLen, count);
        ByteArrayOutputStream inputs = new ByteArrayOutputStream();
        ByteArrayOutputStream targets = new ByteArrayOutputStream();
        int i = 0;
        for (TextCorpus.Segment s : TextCorpus.segments(d, segLen)) {
            assertEquals(i++, s.index());
            assertEquals(inputs.size(), s.start());
            assertEquals(1, s.batch().batchSize());
            for (int id : s.batch().inputs().toIntMatrix()[0]) {
                inputs.write(id);
            }
            for (int id : s.batch().targets().toIntMatrix()[0]) {
                targets.write(id);
            }
        }
        assertEquals(count, i);
        byte[] bytes = d.bytes();
        assertArrayEquals(java.util.Arrays.copyOfRange(bytes, 0, bytes.length - 1), inputs.toByteArray());
        assertArrayEquals(java.util.Arrays.copyOfRange(bytes, 1, bytes.length), targets.toByteArray());
        assertThrows(IllegalArgumentException.class, () -> TextCorpus.segment(d, segLen, count));
    }

    @Test
    void loaderReadsTxtFilesWithRelativeNames(@TempDir Path dir) throws Exception {
        Files.createDirectories(dir.resolve("austen"));
        Files.writeString(dir.resolve("austen/emma.txt"), "Emma Woodhouse, handsome, clever, and rich", StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("austen/persuasion.txt"), "Sir Walter Elliot", StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("moby.txt"), "Call me Ishmael. — ", StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("notes.md"), "ignored", StandardCharsets.UTF_8);
        TextCorpus c = CorpusLoader.load(dir);
        assertEquals(List.of("austen/emma", "austen/persuasion", "moby"),
                c.documents().stream().map(Document::name).toList());
        assertEquals("Call me Ishmael. — ", c.document("moby").orElseThrow().text());
        assertEquals(2, CorpusLoader.load(dir.resolve("austen")).size());
        assertEquals(List.of("austen/emma", "austen/persuasion"),
                c.filter(n -> n.startsWith("austen/")).documents().stream().map(Document::name).toList());
    }

    @Test
    void loaderSaysToRunTheFetchScript(@TempDir Path dir) throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CorpusLoader.load(dir.resolve("none")));
        assertTrue(e.getMessage().contains("does not exist: run scripts/fetch-corpora.sh first"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> CorpusLoader.load(dir));
        assertTrue(e.getMessage().contains("holds no .txt file: run scripts/fetch-corpora.sh first"), e.getMessage());
    }

    @Test
    void duplicateNamesAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TextCorpus(List.of(Document.ofText("a", "x"), Document.ofText("a", "y"))));
        assertEquals("duplicate document name 'a'", e.getMessage());
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
