package io.mnemo.train.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads the text corpora that {@code scripts/fetch-corpora.sh} writes: a directory tree of
 * {@code .txt} files, one document per file. A document's name is its path relative to the loaded
 * directory without the {@code .txt} suffix and with {@code /} separators, e.g.
 * {@code "austen/emma"} when loading {@code corpora/} or {@code "emma"} when loading
 * {@code corpora/austen/}. Documents are ordered by name.
 */
public final class CorpusLoader {
    private static final Logger LOG = LoggerFactory.getLogger(CorpusLoader.class);

    /** System property that overrides the default corpus root. */
    public static final String ROOT_PROPERTY = "mnemo.corpora";

    /** Environment variable that overrides the default corpus root when the property is unset. */
    public static final String ROOT_ENV = "MNEMO_CORPORA";

    private CorpusLoader() {}

    /**
     * Where the fetch script puts the corpora: the system property {@value #ROOT_PROPERTY}, else the
     * environment variable {@value #ROOT_ENV}, else {@code corpora/} in the working directory.
     */
    public static Path defaultRoot() {
        String p = System.getProperty(ROOT_PROPERTY);
        if (p == null || p.isBlank()) {
            p = System.getenv(ROOT_ENV);
        }
        return Paths.get(p == null || p.isBlank() ? "corpora" : p);
    }

    /**
     * Loads every {@code .txt} file under {@code dir} (recursively).
     *
     * @param dir a corpus directory such as {@code corpora/sotu} or the root {@code corpora}
     * @return the corpus, documents ordered by name
     * @throws IllegalArgumentException if the directory is missing or holds no {@code .txt} file
     * @throws UncheckedIOException if a file cannot be read
     */
    public static TextCorpus load(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("corpus directory " + dir.toAbsolutePath()
                    + " does not exist: run scripts/fetch-corpora.sh first (it writes corpora/ at the repository root)");
        }
        List<Path> files;
        try (Stream<Path> s = Files.walk(dir)) {
            files = s.filter(p -> Files.isRegularFile(p) && p.getFileName().toString().endsWith(".txt")).toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list corpus directory " + dir, e);
        }
        if (files.isEmpty()) {
            throw new IllegalArgumentException("corpus directory " + dir.toAbsolutePath()
                    + " holds no .txt file: run scripts/fetch-corpora.sh first");
        }
        List<Document> docs = new ArrayList<>(files.size());
        for (Path f : files) {
            String rel = dir.relativize(f).toString().replace(f.getFileSystem().getSeparator(), "/");
            String name = rel.substring(0, rel.length() - ".txt".length());
            try {
                docs.add(new Document(name, Files.readAllBytes(f)));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read corpus file " + f, e);
            }
        }
        docs.sort((a, b) -> a.name().compareTo(b.name()));
        TextCorpus corpus = new TextCorpus(docs);
        LOG.info("loaded {} from {}", corpus, dir);
        return corpus;
    }

    /** Loads the named corpus under {@link #defaultRoot()}, e.g. {@code "austen"} or {@code "sotu"}. */
    public static TextCorpus load(String name) {
        return load(defaultRoot().resolve(name));
    }
}
