package io.mnemo.train.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.train.data.RSerial.RInts;
import io.mnemo.train.data.RSerial.RList;
import io.mnemo.train.data.RSerial.RObject;
import io.mnemo.train.data.RSerial.RStrings;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reader against streams written by hand in R's XDR format (R's serialize.c, version 3), so no
 * R and no binary fixture is needed: what R's {@code saveRDS}, {@code save} and lazy-load databases
 * would write for a character vector, a factor, a data frame and a compact integer sequence.
 */
class RSerialTest {

    /** A minimal writer of R's XDR serialisation, with the symbol back-reference table R uses. */
    private static final class XdrWriter {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final DataOutputStream out = new DataOutputStream(bytes);
        final List<String> symbols = new ArrayList<>();

        XdrWriter header() throws IOException {
            out.writeBytes("X\n");
            out.writeInt(3);
            out.writeInt(0x040201); // written by R 4.2.1
            out.writeInt(0x030500); // readable from R 3.5.0
            out.writeInt(5);
            out.writeBytes("UTF-8");
            return this;
        }

        static int flags(int type, boolean object, boolean attr, boolean tag, int levels) {
            return type | (object ? 1 << 8 : 0) | (attr ? 1 << 9 : 0) | (tag ? 1 << 10 : 0) | (levels << 12);
        }

        void chars(String s) throws IOException {
            if (s == null) {
                out.writeInt(flags(9, false, false, false, 0));
                out.writeInt(-1);
                return;
            }
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            boolean ascii = b.length == s.length();
            out.writeInt(flags(9, false, false, false, ascii ? 64 : 8));
            out.writeInt(b.length);
            out.write(b);
        }

        void symbol(String name) throws IOException {
            int idx = symbols.indexOf(name);
            if (idx >= 0) {
                out.writeInt(((idx + 1) << 8) | 255); // REFSXP with the index packed in the flags
                return;
            }
            symbols.add(name);
            out.writeInt(1);
            chars(name);
        }

        void strings(boolean attr, String... values) throws IOException {
            out.writeInt(flags(16, false, attr, false, 0));
            out.writeInt(values.length);
            for (String v : values) {
                chars(v);
            }
        }

        void ints(boolean object, boolean attr, int... values) throws IOException {
            out.writeInt(flags(13, object, attr, false, 0));
            out.writeInt(values.length);
            for (int v : values) {
                out.writeInt(v);
            }
        }

        void nil() throws IOException {
            out.writeInt(254);
        }

        /** A pairlist cell with a tag; the caller writes the value next, then more cells or {@link #nil}. */
        void cell(String tag) throws IOException {
            out.writeInt(flags(2, false, false, true, 0));
            symbol(tag);
        }

        /** A factor over {@code levels}; codes are 1-based. */
        void factor(String[] levels, int... codes) throws IOException {
            ints(true, true, codes);
            cell("levels");
            strings(false, levels);
            cell("class");
            strings(false, "factor");
            nil();
        }

        /** data.frame(text = ..., book = factor(...)) with R's compact row names c(NA, -n). */
        void dataFrame(String[] text, String[] levels, int[] codes) throws IOException {
            out.writeInt(flags(19, true, true, false, 0));
            out.writeInt(2);
            strings(false, text);
            factor(levels, codes);
            cell("names");
            strings(false, "text", "book");
            cell("class");
            strings(false, "tbl_df", "tbl", "data.frame");
            cell("row.names");
            ints(false, false, Integer.MIN_VALUE, -text.length);
            nil();
        }

        /** ALTREP compact 1:n, as R 3.5+ writes {@code seq_len(n)}. */
        void compactSeq(int n) throws IOException {
            out.writeInt(238);
            out.writeInt(flags(2, false, false, false, 0));
            symbol("compact_intseq");
            out.writeInt(flags(2, false, false, false, 0));
            symbol("base");
            out.writeInt(flags(2, false, false, false, 0));
            ints(false, false, 13);
            nil();
            out.writeInt(flags(14, false, false, false, 0));
            out.writeInt(3);
            out.writeDouble(n);
            out.writeDouble(1);
            out.writeDouble(1);
            nil();
        }

        byte[] toBytes() throws IOException {
            out.flush();
            return bytes.toByteArray();
        }
    }

    private static final java.io.PrintStream QUIET = new java.io.PrintStream(OutputStream.nullOutputStream());

    private static final String[] LINES = {"EMMA", "", "Emma Woodhouse, handsome, clever", null, "Café naïve"};
    private static final String[] BOOKS = {"Emma", "Persuasion"};
    private static final int[] CODES = {1, 1, 2, 2, 2};

    private static byte[] gzip(byte[] b) throws IOException {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        try (OutputStream g = new GZIPOutputStream(bo)) {
            g.write(b);
        }
        return bo.toByteArray();
    }

    @Test
    void readsAGzippedRdsCharacterVector(@TempDir Path dir) throws IOException {
        XdrWriter w = new XdrWriter().header();
        w.strings(false, LINES);
        Path f = dir.resolve("lines.rds");
        Files.write(f, gzip(w.toBytes()));
        RObject o = RSerial.readRds(f);
        assertTrue(o instanceof RStrings);
        List<String> v = ((RStrings) o).values();
        assertEquals(5, v.size());
        assertEquals("Emma Woodhouse, handsome, clever", v.get(2));
        assertNull(v.get(3), "NA_character_");
        assertEquals("Café naïve", v.get(4));
        assertEquals(Map.of("lines", o).keySet(), RSerial.readAny(f).keySet());
    }

    @Test
    void readsAnRdaWithADataFrameFactorAndSymbolReferences(@TempDir Path dir) throws IOException {
        XdrWriter w = new XdrWriter();
        w.out.writeBytes("RDX3\n");
        w.header();
        w.cell("books");
        w.dataFrame(LINES, BOOKS, CODES);
        w.cell("idx");
        w.compactSeq(4);
        w.nil();
        Path f = dir.resolve("books.rda");
        Files.write(f, gzip(w.toBytes()));

        Map<String, RObject> objects = RSerial.readRda(f);
        assertEquals(List.of("books", "idx"), new ArrayList<>(objects.keySet()));
        RObject df = objects.get("books");
        assertTrue(df.isDataFrame());
        assertEquals(List.of("text", "book"), df.names());
        assertEquals(List.of("tbl_df", "tbl", "data.frame"), df.classes());
        RObject book = ((RList) df).get("book");
        assertTrue(book.isFactor());
        assertEquals(List.of("Emma", "Emma", "Persuasion", "Persuasion", "Persuasion"), RSerial.asStrings(book));
        assertArrayEquals(new int[] {1, 2, 3, 4}, ((RInts) objects.get("idx")).values());

        Map<String, List<String>> docs = RTextExport.documents("books", df);
        assertEquals(List.of("Emma", "Persuasion"), new ArrayList<>(docs.keySet()));
        assertEquals(List.of("EMMA", ""), docs.get("Emma"));
        assertEquals(List.of("Emma Woodhouse, handsome, clever", "", "Café naïve"), docs.get("Persuasion"));

        Path out = dir.resolve("out");
        long[] totals = RTextExport.export(f, out, List.of("books"), QUIET);
        assertEquals(2, totals[0]);
        assertEquals("EMMA\n", Files.readString(out.resolve("emma.txt")));
        assertEquals("Emma Woodhouse, handsome, clever\n\nCafé naïve\n",
                Files.readString(out.resolve("persuasion.txt"), StandardCharsets.UTF_8));
    }

    @Test
    void readsALazyLoadDatabase(@TempDir Path dir) throws IOException {
        // .rdb: each object serialised on its own, zlib-compressed after a 4-byte big-endian length
        ByteArrayOutputStream rdb = new ByteArrayOutputStream();
        String[] names = {"emma", "persuasion"};
        int[][] keys = new int[2][];
        for (int i = 0; i < 2; i++) {
            XdrWriter w = new XdrWriter().header();
            w.strings(false, i == 0 ? new String[] {"EMMA", "By Jane Austen"} : new String[] {"Persuasion"});
            byte[] raw = w.toBytes();
            Deflater d = new Deflater();
            d.setInput(raw);
            d.finish();
            byte[] buf = new byte[raw.length + 64];
            int n = d.deflate(buf);
            d.end();
            int offset = rdb.size();
            new DataOutputStream(rdb).writeInt(raw.length);
            rdb.write(buf, 0, n);
            keys[i] = new int[] {offset, rdb.size() - offset};
        }
        // .rdx: list(variables = list(emma = c(off, len), ...), references = list(), compressed = TRUE)
        XdrWriter x = new XdrWriter().header();
        x.out.writeInt(XdrWriter.flags(19, false, true, false, 0));
        x.out.writeInt(3);
        x.out.writeInt(XdrWriter.flags(19, false, true, false, 0));
        x.out.writeInt(2);
        x.ints(false, false, keys[0]);
        x.ints(false, false, keys[1]);
        x.cell("names");
        x.strings(false, names);
        x.nil();
        x.out.writeInt(XdrWriter.flags(19, false, false, false, 0));
        x.out.writeInt(0);
        x.out.writeInt(XdrWriter.flags(10, false, false, false, 0));
        x.out.writeInt(1);
        x.out.writeInt(1);
        x.cell("names");
        x.strings(false, "variables", "references", "compressed");
        x.nil();
        Files.write(dir.resolve("Rdata.rdb"), rdb.toByteArray());
        Files.write(dir.resolve("Rdata.rdx"), gzip(x.toBytes()));

        Map<String, RObject> objects = RSerial.readAny(dir.resolve("Rdata.rdb"));
        assertEquals(List.of("emma", "persuasion"), new ArrayList<>(objects.keySet()));
        assertEquals(List.of("EMMA", "By Jane Austen"), RSerial.asStrings(objects.get("emma")));
        assertEquals(objects.keySet(), RSerial.readLazyLoad(dir.resolve("Rdata")).keySet());

        long[] totals = RTextExport.export(dir.resolve("Rdata.rdx"), dir.resolve("out"), List.of(), QUIET);
        assertEquals(2, totals[0]);
        assertEquals("EMMA\nBy Jane Austen\n", Files.readString(dir.resolve("out/emma.txt")));
    }

    @Test
    void unsupportedInputsFailWithAReason(@TempDir Path dir) throws IOException {
        Path bz = dir.resolve("x.rds");
        Files.write(bz, new byte[] {'B', 'Z', 'h', '9', 0, 0});
        IOException e = assertThrows(IOException.class, () -> RSerial.readRds(bz));
        assertTrue(e.getMessage().contains("bzip2-compressed"), e.getMessage());
        Path ascii = dir.resolve("a.rds");
        Files.write(ascii, "A\n3\n".getBytes(StandardCharsets.US_ASCII));
        e = assertThrows(IOException.class, () -> RSerial.readRds(ascii));
        assertTrue(e.getMessage().contains("'A' (ASCII) is not supported"), e.getMessage());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> RSerial.asStrings(new RInts(new int[] {1}, Map.of())));
        assertEquals("expected a character vector or a factor, got integer[1]", bad.getMessage());
    }
}
