package io.mnemo.train.data;

import io.mnemo.train.data.RSerial.RList;
import io.mnemo.train.data.RSerial.RObject;
import io.mnemo.train.data.RSerial.RStrings;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Command-line entry point used by {@code scripts/fetch-corpora.sh}: turns the text held in R data
 * files ({@code .rdb/.rdx}, {@code .rda}, {@code .rds}) into one {@code .txt} file per document.
 *
 * <pre>
 *   java -cp CLASSES io.mnemo.train.data.RTextExport list   FILE
 *   java -cp CLASSES io.mnemo.train.data.RTextExport export FILE OUT_DIR [NAME ...]
 * </pre>
 * {@code list} prints each object with its type. {@code export} writes (only the given names, when
 * some are given):
 * <ul>
 *   <li>a character vector {@code x} as {@code OUT_DIR/x.txt}, its elements as lines;</li>
 *   <li>a data frame with a character column {@code text} and a grouping column (the first factor or
 *       other character column, e.g. janeaustenr's {@code book} or gutenbergr's {@code title}) as one
 *       file per group, named after the group and holding its lines in order.</li>
 * </ul>
 * Other objects are reported as skipped. Depends only on the JDK and {@link RSerial}, so it runs
 * from freshly compiled classes.
 */
public final class RTextExport {
    private RTextExport() {}

    /** Entry point; exits with status 2 on a usage error and 1 on a read or write error. */
    public static void main(String[] args) {
        try {
            if (args.length >= 2 && args[0].equals("list")) {
                list(Path.of(args[1]));
            } else if (args.length >= 3 && args[0].equals("export")) {
                List<String> only = List.of(args).subList(3, args.length);
                long[] totals = export(Path.of(args[1]), Path.of(args[2]), only, System.out);
                System.out.printf("%s: wrote %d documents, %d bytes to %s%n", args[1], totals[0], totals[1], args[2]);
            } else {
                System.err.println("usage: RTextExport list FILE | export FILE OUT_DIR [NAME ...]\n"
                        + "  FILE: an R lazy-load database (.rdb/.rdx), .rda/.RData or .rds file");
                System.exit(2);
            }
        } catch (IOException | RuntimeException e) {
            System.err.println("RTextExport: " + e.getMessage());
            System.exit(1);
        }
    }

    private static void list(Path file) throws IOException {
        for (Map.Entry<String, RObject> e : RSerial.readAny(file).entrySet()) {
            RObject o = e.getValue();
            String cols = o.isDataFrame() ? " columns=" + o.names() : "";
            System.out.println(e.getKey() + ": " + o.summary() + cols);
        }
    }

    /**
     * Exports the text objects of an R file.
     *
     * @param file the R file
     * @param outDir directory to write into (created when missing)
     * @param only names of the objects to export; empty for all
     * @param log where to report each file written and each object skipped
     * @return {documents written, bytes written}
     */
    public static long[] export(Path file, Path outDir, List<String> only, PrintStream log) throws IOException {
        Map<String, RObject> objects = RSerial.readAny(file);
        for (String n : only) {
            if (!objects.containsKey(n)) {
                throw new IllegalArgumentException("no object '" + n + "' in " + file + "; it holds " + objects.keySet());
            }
        }
        Files.createDirectories(outDir);
        long docs = 0;
        long bytes = 0;
        for (Map.Entry<String, RObject> e : objects.entrySet()) {
            if (!only.isEmpty() && !only.contains(e.getKey())) {
                continue;
            }
            Map<String, List<String>> documents = documents(e.getKey(), e.getValue());
            if (documents.isEmpty()) {
                log.println("  skipped " + e.getKey() + ": " + e.getValue().summary() + " holds no text");
                continue;
            }
            for (Map.Entry<String, List<String>> d : documents.entrySet()) {
                byte[] content = (String.join("\n", d.getValue()).strip() + "\n").getBytes(StandardCharsets.UTF_8);
                Path out = outDir.resolve(slug(d.getKey()) + ".txt");
                Files.write(out, content);
                log.printf("  %-48s %,12d bytes%n", out, content.length);
                docs++;
                bytes += content.length;
            }
        }
        return new long[] {docs, bytes};
    }

    /** The documents an object holds, by name (empty when it holds no text). */
    static Map<String, List<String>> documents(String name, RObject o) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        if (o instanceof RStrings s) {
            out.put(name, nonNull(s.values()));
            return out;
        }
        if (!o.isDataFrame()) {
            return out;
        }
        RList df = (RList) o;
        RObject text = df.get("text");
        if (!(text instanceof RStrings lines)) {
            return out;
        }
        RObject group = null;
        for (String col : df.names()) {
            RObject c = df.get(col);
            if (!col.equals("text") && (c.isFactor() || c instanceof RStrings)) {
                group = c;
                break;
            }
        }
        if (group == null) {
            out.put(name, nonNull(lines.values()));
            return out;
        }
        List<String> keys = RSerial.asStrings(group);
        for (int i = 0; i < lines.values().size(); i++) {
            String k = keys.get(i) == null ? "NA" : keys.get(i);
            String line = lines.values().get(i);
            out.computeIfAbsent(k, x -> new ArrayList<>()).add(line == null ? "" : line);
        }
        return out;
    }

    /** A file name for a document title: lower case, runs of other characters replaced by '-'. */
    static String slug(String title) {
        String s = title.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("^-+|-+$", "");
        return s.isEmpty() ? "document" : s;
    }

    private static List<String> nonNull(List<String> lines) {
        List<String> out = new ArrayList<>(lines.size());
        for (String l : lines) {
            out.add(l == null ? "" : l);
        }
        return out;
    }
}
