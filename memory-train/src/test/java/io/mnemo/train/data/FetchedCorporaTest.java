package io.mnemo.train.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Checks the corpora written by {@code scripts/fetch-corpora.sh} when they are present (tests run in
 * memory-train/, the corpora live at the repository root); skipped on a machine that has not fetched them.
 */
class FetchedCorporaTest {

    private static final Path ROOT = Path.of("..", "corpora");

    @Test
    void austenHasSixWholeNovels() {
        assumeTrue(Files.isDirectory(ROOT.resolve("austen")), "corpora/austen not fetched");
        TextCorpus c = CorpusLoader.load(ROOT.resolve("austen"));
        assertEquals(6, c.size());
        Document emma = c.document("emma").orElseThrow();
        assertTrue(emma.text().startsWith("EMMA"), emma.text().substring(0, 20));
        assertTrue(emma.length() > 800_000, emma.toString());
    }

    @Test
    void sotuHasAllAddresses() {
        assumeTrue(Files.isDirectory(ROOT.resolve("sotu")), "corpora/sotu not fetched");
        TextCorpus c = CorpusLoader.load(ROOT.resolve("sotu"));
        assertEquals(233, c.size());
        TextCorpus.Split s = c.split(0.05, 0.05, 0);
        assertEquals(233, s.train().size() + s.validation().size() + s.test().size());
    }
}
