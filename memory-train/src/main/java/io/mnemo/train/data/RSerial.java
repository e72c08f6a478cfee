package io.mnemo.train.data;

import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.GZIPInputStream;
import java.util.zip.Inflater;

/**
 * A reader for R's binary serialisation format (XDR, versions 2 and 3), enough to get text data
 * out of R packages without R: character, integer, logical, double and raw vectors, lists, pairlists,
 * factors, data frames and attributes, plus the containers they come in:
 * <ul>
 *   <li>{@code .rds} ({@code saveRDS}): one serialised object, usually gzip-compressed;</li>
 *   <li>{@code .rda}/{@code .RData} ({@code save}): {@code "RDX2\n"}/{@code "RDX3\n"} then a pairlist
 *       of named objects;</li>
 *   <li>lazy-load databases ({@code .rdx} index + {@code .rdb} data, as in a package's
 *       {@code data/Rdata.*}): the index is a gzip'd serialised list whose {@code variables} element
 *       maps each name to {@code (offset, length)} in the {@code .rdb}; each entry there is a 4-byte
 *       big-endian uncompressed length followed by a zlib stream (or, for {@code compressed = 2/3},
 *       one type byte: {@code 'Z'} zlib, {@code '0'} stored, {@code '2'} bzip2, {@code 'X'} xz).</li>
 * </ul>
 * The JDK has gzip and zlib but neither bzip2 nor xz; those are rejected with a message. Functions,
 * byte code and environments' contents are not decoded (environments become {@link ROther}).
 *
 * <p>Format source: R's {@code src/main/serialize.c} ({@code WriteItem}/{@code ReadItem}); each
 * item starts with an int of flags: type in bits 0-7, "is object" bit 8, "has attributes" bit 9,
 * "has tag" bit 10, general-purpose levels (string encoding) in bits 12-27.
 *
 * <p>This class depends only on the JDK, so {@code scripts/fetch-corpora.sh} can compile and run it
 * (through {@link RTextExport}) without the rest of the project.
 */
public final class RSerial {
    private RSerial() {}

    /** Any R value this reader returns. */
    public sealed interface RObject permits RNull, RStrings, RInts, RLogicals, RDoubles, RRaw, RList, RPairList,
            RSymbol, ROther {

        /** Attributes by name (empty map when none). */
        Map<String, RObject> attributes();

        /** The {@code names} attribute, or an empty list. */
        default List<String> names() {
            return attributes().get("names") instanceof RStrings s ? s.values() : List.of();
        }

        /** The {@code class} attribute, or an empty list. */
        default List<String> classes() {
            return attributes().get("class") instanceof RStrings s ? s.values() : List.of();
        }

        /** True for a data frame (or tibble): a list with class {@code data.frame}. */
        default boolean isDataFrame() {
            return this instanceof RList && classes().contains("data.frame");
        }

        /** True for a factor: an integer vector with class {@code factor} and {@code levels}. */
        default boolean isFactor() {
            return this instanceof RInts && classes().contains("factor") && attributes().get("levels") instanceof RStrings;
        }

        /** A short description: type, length and class, e.g. {@code "list[6] class=[data.frame]"}. */
        String summary();
    }

    /** R's {@code NULL}. */
    public record RNull() implements RObject {
        /** The single value. */
        public static final RNull INSTANCE = new RNull();

        @Override
        public Map<String, RObject> attributes() {
            return Map.of();
        }

        @Override
        public String summary() {
            return "NULL";
        }
    }

    /** A character vector; {@code NA} elements are {@code null}. */
    public record RStrings(List<String> values, Map<String, RObject> attributes) implements RObject {
        @Override
        public String summary() {
            return "character[" + values.size() + "]" + classSuffix(this);
        }
    }

    /** An integer vector (also factors: codes 1..levels, NA = {@link Integer#MIN_VALUE}). */
    public record RInts(int[] values, Map<String, RObject> attributes) implements RObject {
        @Override
        public String summary() {
            return "integer[" + values.length + "]" + classSuffix(this);
        }
    }

    /** A logical vector: 0 false, 1 true, {@link Integer#MIN_VALUE} NA. */
    public record RLogicals(int[] values, Map<String, RObject> attributes) implements RObject {
        @Override
        public String summary() {
            return "logical[" + values.length + "]" + classSuffix(this);
        }
    }

    /** A double vector. */
    public record RDoubles(double[] values, Map<String, RObject> attributes) implements RObject {
        @Override
        public String summary() {
            return "double[" + values.length + "]" + classSuffix(this);
        }
    }

    /** A raw vector. */
    public record RRaw(byte[] values, Map<String, RObject> attributes) implements RObject {
        @Override
        public String summary() {
            return "raw[" + values.length + "]" + classSuffix(this);
        }
    }

    /** A generic vector (list, data frame, expression vector). */
    public record RList(List<RObject> values, Map<String, RObject> attributes) implements RObject {

        /** The element with this name (a data frame's column), or null. */
        public RObject get(String name) {
            int i = names().indexOf(name);
            return i < 0 ? null : values.get(i);
        }

        @Override
        public String summary() {
            return "list[" + values.size() + "]" + classSuffix(this);
        }
    }

    /**
     * A pairlist or a language object, flattened: element {@code i} has tag {@code tags.get(i)}
     * (null when untagged).
     *
     * @param kind {@code "pairlist"}, {@code "language"}, {@code "closure"} and so on
     */
    public record RPairList(String kind, List<String> tags, List<RObject> values, Map<String, RObject> attributes)
            implements RObject {
        @Override
        public String summary() {
            return kind + "[" + values.size() + "]" + classSuffix(this);
        }
    }

    /** A symbol (a name). */
    public record RSymbol(String name) implements RObject {
        @Override
        public Map<String, RObject> attributes() {
            return Map.of();
        }

        @Override
        public String summary() {
            return "symbol " + name;
        }
    }

    /** Anything read but not decoded: environments, builtins, S4 objects, complex vectors. */
    public record ROther(String kind, Map<String, RObject> attributes) implements RObject {
        @Override
        public String summary() {
            return kind + classSuffix(this);
        }
    }

    /**
     * The strings of a character vector or the labels of a factor ({@code NA} as null).
     *
     * @throws IllegalArgumentException for any other object
     */
    public static List<String> asStrings(RObject o) {
        if (o instanceof RStrings s) {
            return s.values();
        }
        if (o.isFactor()) {
            List<String> levels = ((RStrings) o.attributes().get("levels")).values();
            int[] codes = ((RInts) o).values();
            List<String> out = new ArrayList<>(codes.length);
            for (int c : codes) {
                out.add(c == Integer.MIN_VALUE || c < 1 || c > levels.size() ? null : levels.get(c - 1));
            }
            return out;
        }
        throw new IllegalArgumentException("expected a character vector or a factor, got " + o.summary());
    }

    // ---------------------------------------------------------------------------------------------
    // Containers

    /**
     * Reads any supported file by its suffix: {@code .rds} gives one entry named after the file,
     * {@code .rda}/{@code .RData} its saved objects, {@code .rdb}/{@code .rdx} (or the base path of
     * the pair) the objects of the lazy-load database.
     */
    public static Map<String, RObject> readAny(Path file) throws IOException {
        String n = file.getFileName().toString();
        String lower = n.toLowerCase(java.util.Locale.ROOT);
        if (lower.endsWith(".rds")) {
            return Map.of(n.substring(0, n.length() - 4), readRds(file));
        }
        if (lower.endsWith(".rda") || lower.endsWith(".rdata")) {
            return readRda(file);
        }
        if (lower.endsWith(".rdb") || lower.endsWith(".rdx") || !Files.exists(file)) {
            return readLazyLoad(file);
        }
        throw new IllegalArgumentException("cannot tell the format of " + file
                + ": expected a name ending in .rds, .rda, .RData, .rdb or .rdx");
    }

    /** Reads an {@code .rds} file: one serialised object, gzip-compressed or not. */
    public static RObject readRds(Path file) throws IOException {
        try (InputStream in = decompressed(file)) {
            return read(in);
        }
    }

    /** Reads an {@code .rda}/{@code .RData} file: the objects it holds, by name, in file order. */
    public static Map<String, RObject> readRda(Path file) throws IOException {
        try (InputStream in = decompressed(file)) {
            RObject o = read(in);
            if (!(o instanceof RPairList p)) {
                throw new IOException(file + " does not hold a pairlist of saved objects but " + o.summary());
            }
            Map<String, RObject> out = new LinkedHashMap<>();
            for (int i = 0; i < p.values().size(); i++) {
                out.put(p.tags().get(i), p.values().get(i));
            }
            return out;
        }
    }

    /**
     * Reads every object of a lazy-load database.
     *
     * @param path the {@code .rdb}, the {@code .rdx}, or their common path without suffix
     * @return objects by name, in index order
     */
    public static Map<String, RObject> readLazyLoad(Path path) throws IOException {
        String s = path.toString();
        String base = s.endsWith(".rdb") || s.endsWith(".rdx") ? s.substring(0, s.length() - 4) : s;
        Path rdx = Path.of(base + ".rdx");
        Path rdb = Path.of(base + ".rdb");
        if (!Files.exists(rdx) || !Files.exists(rdb)) {
            throw new IOException("lazy-load database needs both " + rdx + " and " + rdb);
        }
        RObject index = readRds(rdx);
        if (!(index instanceof RList idx) || !(idx.get("variables") instanceof RList vars)) {
            throw new IOException(rdx + " is not a lazy-load index (a list with 'variables'), got " + index.summary());
        }
        int compressed = 1;
        RObject c = idx.get("compressed");
        if (c instanceof RLogicals l && l.values().length > 0) {
            compressed = l.values()[0];
        } else if (c instanceof RInts i && i.values().length > 0) {
            compressed = i.values()[0];
        } else if (c instanceof RDoubles d && d.values().length > 0) {
            compressed = (int) d.values()[0];
        }
        Map<String, RObject> out = new LinkedHashMap<>();
        try (RandomAccessFile f = new RandomAccessFile(rdb.toFile(), "r")) {
            List<String> names = vars.names();
            for (int i = 0; i < names.size(); i++) {
                RObject key = vars.values().get(i);
                long offset;
                int length;
                if (key instanceof RInts k && k.values().length == 2) {
                    offset = k.values()[0];
                    length = k.values()[1];
                } else if (key instanceof RDoubles k && k.values().length == 2) {
                    offset = (long) k.values()[0];
                    length = (int) k.values()[1];
                } else {
                    throw new IOException("index entry '" + names.get(i) + "' of " + rdx + " is not (offset, length): "
                            + key.summary());
                }
                byte[] raw = new byte[length];
                f.seek(offset);
                f.readFully(raw);
                out.put(names.get(i), read(new ByteArrayInputStream(unpackEntry(raw, compressed, names.get(i)))));
            }
        }
        return out;
    }

    /** Decompresses one {@code .rdb} entry (R's {@code R_decompress1/2/3}). */
    private static byte[] unpackEntry(byte[] raw, int compressed, String name) throws IOException {
        if (raw.length < 4) {
            throw new IOException("entry '" + name + "' is " + raw.length + " bytes, too short for a length header");
        }
        int outLen = ((raw[0] & 0xFF) << 24) | ((raw[1] & 0xFF) << 16) | ((raw[2] & 0xFF) << 8) | (raw[3] & 0xFF);
        int dataStart = 4;
        char method = 'Z';
        if (compressed == 2 || compressed == 3) {
            method = (char) raw[4];
            dataStart = 5;
        } else if (compressed != 1) {
            throw new IOException("lazy-load compression " + compressed + " of entry '" + name
                    + "' is not supported (expected 1, 2 or 3)");
        }
        switch (method) {
            case '0':
                return Arrays.copyOfRange(raw, dataStart, raw.length);
            case 'Z': {
                Inflater inf = new Inflater();
                try {
                    inf.setInput(raw, dataStart, raw.length - dataStart);
                    byte[] out = new byte[outLen];
                    int n = 0;
                    while (n < outLen && !inf.finished()) {
                        int k = inf.inflate(out, n, outLen - n);
                        if (k == 0 && (inf.needsInput() || inf.needsDictionary())) {
                            break;
                        }
                        n += k;
                    }
                    if (n != outLen) {
                        throw new IOException("entry '" + name + "' inflated to " + n + " bytes, expected " + outLen);
                    }
                    return out;
                } catch (DataFormatException e) {
                    throw new IOException("entry '" + name + "' is not a valid zlib stream", e);
                } finally {
                    inf.end();
                }
            }
            case '2':
            case 'X':
                throw new IOException("entry '" + name + "' is " + (method == '2' ? "bzip2" : "xz")
                        + "-compressed, which this reader does not support (the JDK has only zlib/gzip)");
            default:
                throw new IOException("entry '" + name + "' has unknown compression type '" + method + "'");
        }
    }

    /** A stream over the file's bytes, gunzipped when they start with the gzip magic. */
    private static InputStream decompressed(Path file) throws IOException {
        InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
        in.mark(8);
        byte[] magic = in.readNBytes(6);
        in.reset();
        if (magic.length >= 2 && (magic[0] & 0xFF) == 0x1F && (magic[1] & 0xFF) == 0x8B) {
            return new BufferedInputStream(new GZIPInputStream(in, 1 << 16), 1 << 16);
        }
        if (magic.length >= 3 && magic[0] == 'B' && magic[1] == 'Z' && magic[2] == 'h') {
            in.close();
            throw new IOException(file + " is bzip2-compressed, which this reader does not support; "
                    + "decompress it first (bunzip2 -c FILE > FILE.raw)");
        }
        if (magic.length >= 6 && (magic[0] & 0xFF) == 0xFD && magic[1] == '7' && magic[2] == 'z' && magic[3] == 'X') {
            in.close();
            throw new IOException(file + " is xz-compressed, which this reader does not support; "
                    + "decompress it first (xz -dc FILE > FILE.raw)");
        }
        return in;
    }

    // ---------------------------------------------------------------------------------------------
    // The serialisation stream

    /**
     * Reads one serialised object from an uncompressed stream that starts with the format line
     * {@code "X\n"} (XDR binary), optionally preceded by an {@code .rda} header {@code "RDXn\n"}.
     */
    public static RObject read(InputStream stream) throws IOException {
        DataInputStream in = new DataInputStream(stream instanceof BufferedInputStream || stream instanceof ByteArrayInputStream
                ? stream : new BufferedInputStream(stream, 1 << 16));
        byte[] head = new byte[2];
        in.readFully(head);
        if (head[0] == 'R' && head[1] == 'D') {
            byte[] rest = new byte[3];
            in.readFully(rest);
            if (rest[0] != 'X' || rest[2] != '\n') {
                throw new IOException("unknown save header 'RD" + new String(rest, StandardCharsets.US_ASCII).trim()
                        + "', expected RDX2 or RDX3");
            }
            in.readFully(head);
        }
        if (head[0] != 'X' || head[1] != '\n') {
            String fmt = head[0] == 'A' ? "ASCII" : head[0] == 'B' ? "native binary" : "unknown";
            throw new IOException("serialisation format '" + (char) head[0] + "' (" + fmt
                    + ") is not supported; expected XDR ('X'), R's default");
        }
        int version = in.readInt();
        if (version != 2 && version != 3) {
            throw new IOException("serialisation version " + version + " is not supported (expected 2 or 3)");
        }
        in.readInt(); // R version that wrote it
        in.readInt(); // oldest R version that can read it
        Charset nativeEncoding = StandardCharsets.UTF_8;
        if (version == 3) {
            int n = in.readInt();
            byte[] enc = new byte[n];
            in.readFully(enc);
            String name = new String(enc, StandardCharsets.US_ASCII);
            try {
                nativeEncoding = Charset.forName(name);
            } catch (IllegalArgumentException e) {
                // an encoding name the JDK does not know: strings without an encoding flag stay UTF-8
                nativeEncoding = StandardCharsets.UTF_8;
            }
        }
        return new Reader(in, nativeEncoding).item();
    }

    private static String classSuffix(RObject o) {
        List<String> c = o.classes();
        return c.isEmpty() ? "" : " class=" + c;
    }

    /** The recursive item reader, with the table of back-references. */
    private static final class Reader {
        // SEXP types (Rinternals.h)
        private static final int NILSXP = 0;
        private static final int SYMSXP = 1;
        private static final int LISTSXP = 2;
        private static final int CLOSXP = 3;
        private static final int ENVSXP = 4;
        private static final int PROMSXP = 5;
        private static final int LANGSXP = 6;
        private static final int SPECIALSXP = 7;
        private static final int BUILTINSXP = 8;
        private static final int CHARSXP = 9;
        private static final int LGLSXP = 10;
        private static final int INTSXP = 13;
        private static final int REALSXP = 14;
        private static final int CPLXSXP = 15;
        private static final int STRSXP = 16;
        private static final int DOTSXP = 17;
        private static final int VECSXP = 19;
        private static final int EXPRSXP = 20;
        private static final int BCODESXP = 21;
        private static final int EXTPTRSXP = 22;
        private static final int WEAKREFSXP = 23;
        private static final int RAWSXP = 24;
        private static final int S4SXP = 25;
        // pseudo-types of the stream (serialize.c)
        private static final int REFSXP = 255;
        private static final int NILVALUE_SXP = 254;
        private static final int GLOBALENV_SXP = 253;
        private static final int UNBOUNDVALUE_SXP = 252;
        private static final int MISSINGARG_SXP = 251;
        private static final int BASENAMESPACE_SXP = 250;
        private static final int NAMESPACESXP = 249;
        private static final int PACKAGESXP = 248;
        private static final int PERSISTSXP = 247;
        private static final int EMPTYENV_SXP = 242;
        private static final int BASEENV_SXP = 241;
        private static final int ATTRLANGSXP = 240;
        private static final int ATTRLISTSXP = 239;
        private static final int ALTREP_SXP = 238;

        private static final int HAS_ATTR = 1 << 9;
        private static final int HAS_TAG = 1 << 10;
        // string encoding flags in the levels field
        private static final int BYTES_MASK = 1 << 1;
        private static final int LATIN1_MASK = 1 << 2;
        private static final int UTF8_MASK = 1 << 3;
        private static final int ASCII_MASK = 1 << 6;

        private final DataInputStream in;
        private final Charset nativeEncoding;
        private final List<RObject> refs = new ArrayList<>();

        Reader(DataInputStream in, Charset nativeEncoding) {
            this.in = in;
            this.nativeEncoding = nativeEncoding;
        }

        RObject item() throws IOException {
            return item(in.readInt());
        }

        RObject item(int flags) throws IOException {
            int type = flags & 0xFF;
            boolean hasAttr = (flags & HAS_ATTR) != 0;
            switch (type) {
                case NILVALUE_SXP:
                case NILSXP:
                    return RNull.INSTANCE;
                case EMPTYENV_SXP:
                    return new ROther("emptyenv", Map.of());
                case BASEENV_SXP:
                    return new ROther("baseenv", Map.of());
                case GLOBALENV_SXP:
                    return new ROther("globalenv", Map.of());
                case UNBOUNDVALUE_SXP:
                    return new ROther("unbound", Map.of());
                case MISSINGARG_SXP:
                    return new ROther("missing-arg", Map.of());
                case BASENAMESPACE_SXP:
                    return new ROther("base-namespace", Map.of());
                case REFSXP: {
                    int idx = flags >>> 8;
                    if (idx == 0) {
                        idx = in.readInt();
                    }
                    if (idx < 1 || idx > refs.size()) {
                        throw new IOException("reference " + idx + " outside the " + refs.size() + " objects read so far");
                    }
                    return refs.get(idx - 1);
                }
                case PERSISTSXP:
                case NAMESPACESXP:
                case PACKAGESXP: {
                    List<String> names = stringVec();
                    String kind = type == PERSISTSXP ? "persistent" : type == NAMESPACESXP ? "namespace" : "package";
                    RObject o = new ROther(kind + " " + names, Map.of());
                    refs.add(o);
                    return o;
                }
                case SYMSXP: {
                    RObject name = item();
                    RObject sym = new RSymbol(name instanceof RStrings s && !s.values().isEmpty()
                            ? s.values().get(0) : "");
                    refs.add(sym);
                    return sym;
                }
                case ENVSXP: {
                    ROther env = new ROther("environment", Map.of());
                    // registered before its contents, which may refer back to it
                    refs.add(env);
                    in.readInt(); // locked
                    item(); // enclosing environment
                    item(); // frame
                    item(); // hash table
                    item(); // attributes
                    return env;
                }
                case LISTSXP:
                case LANGSXP:
                case CLOSXP:
                case PROMSXP:
                case DOTSXP:
                case ATTRLANGSXP:
                case ATTRLISTSXP:
                    return pairList(flags);
                case EXTPTRSXP: {
                    ROther o = new ROther("externalptr", Map.of());
                    refs.add(o);
                    item(); // protected value
                    item(); // tag
                    return withAttributes(o, hasAttr);
                }
                case WEAKREFSXP: {
                    ROther o = new ROther("weakref", Map.of());
                    refs.add(o);
                    return withAttributes(o, hasAttr);
                }
                case SPECIALSXP:
                case BUILTINSXP: {
                    int n = in.readInt();
                    byte[] b = new byte[n];
                    in.readFully(b);
                    return new ROther("builtin " + new String(b, StandardCharsets.US_ASCII), Map.of());
                }
                case CHARSXP: {
                    // a lone CHARSXP (inside a symbol): returned as a length-1 character vector
                    List<String> one = new ArrayList<>(1);
                    one.add(chars(flags));
                    return new RStrings(one, Map.of());
                }
                case LGLSXP:
                case INTSXP: {
                    int n = length();
                    int[] v = new int[n];
                    for (int i = 0; i < n; i++) {
                        v[i] = in.readInt();
                    }
                    Map<String, RObject> a = attributes(hasAttr);
                    return type == LGLSXP ? new RLogicals(v, a) : new RInts(v, a);
                }
                case REALSXP: {
                    int n = length();
                    double[] v = new double[n];
                    for (int i = 0; i < n; i++) {
                        v[i] = in.readDouble();
                    }
                    return new RDoubles(v, attributes(hasAttr));
                }
                case CPLXSXP: {
                    int n = length();
                    for (int i = 0; i < 2 * n; i++) {
                        in.readDouble();
                    }
                    return new ROther("complex[" + n + "]", attributes(hasAttr));
                }
                case STRSXP: {
                    int n = length();
                    List<String> v = new ArrayList<>(n);
                    for (int i = 0; i < n; i++) {
                        int f = in.readInt();
                        if ((f & 0xFF) != CHARSXP) {
                            throw new IOException("element " + i + " of a character vector has type " + (f & 0xFF)
                                    + ", expected CHARSXP (9)");
                        }
                        v.add(chars(f));
                    }
                    return new RStrings(Collections.unmodifiableList(v), attributes(hasAttr));
                }
                case VECSXP:
                case EXPRSXP: {
                    int n = length();
                    List<RObject> v = new ArrayList<>(n);
                    for (int i = 0; i < n; i++) {
                        v.add(item());
                    }
                    return new RList(Collections.unmodifiableList(v), attributes(hasAttr));
                }
                case RAWSXP: {
                    int n = length();
                    byte[] v = new byte[n];
                    in.readFully(v);
                    return new RRaw(v, attributes(hasAttr));
                }
                case S4SXP:
                    return new ROther("S4", attributes(hasAttr));
                case ALTREP_SXP:
                    return altrep();
                case BCODESXP:
                    throw new IOException("byte code (type 21) is not supported: this reader decodes data objects, "
                            + "not compiled functions");
                default:
                    throw new IOException("unknown item type " + type + " (flags 0x" + Integer.toHexString(flags) + ")");
            }
        }

        /** A pairlist-like chain read iteratively, so long pairlists do not exhaust the Java stack. */
        private RObject pairList(int flags) throws IOException {
            int type = flags & 0xFF;
            String kind = switch (type) {
                case LANGSXP, ATTRLANGSXP -> "language";
                case CLOSXP -> "closure";
                case PROMSXP -> "promise";
                case DOTSXP -> "dots";
                default -> "pairlist";
            };
            Map<String, RObject> attrs = Map.of();
            List<String> tags = new ArrayList<>();
            List<RObject> values = new ArrayList<>();
            boolean first = true;
            int f = flags;
            while (true) {
                int t = f & 0xFF;
                Map<String, RObject> a = attributes((f & HAS_ATTR) != 0 || t == ATTRLANGSXP || t == ATTRLISTSXP);
                if (first) {
                    attrs = a;
                    first = false;
                }
                RObject tag = (f & HAS_TAG) != 0 ? item() : null;
                tags.add(tag instanceof RSymbol s ? s.name() : null);
                values.add(item());
                int next = in.readInt();
                int nt = next & 0xFF;
                if (nt == LISTSXP || nt == ATTRLISTSXP) {
                    f = next;
                    continue;
                }
                RObject tail = item(next);
                if (!(tail instanceof RNull)) {
                    // a closure's body or a dotted pair: kept as a last untagged element
                    tags.add(null);
                    values.add(tail);
                }
                break;
            }
            return new RPairList(kind, Collections.unmodifiableList(tags), Collections.unmodifiableList(values), attrs);
        }

        /** ALTREP objects: compact sequences, deferred strings and wrappers are expanded to plain vectors. */
        private RObject altrep() throws IOException {
            RObject info = item();
            RObject state = item();
            RObject attr = item();
            String cls = info instanceof RPairList p && !p.values().isEmpty() && p.values().get(0) instanceof RSymbol s
                    ? s.name() : "?";
            Map<String, RObject> attrs = pairListToMap(attr);
            switch (cls) {
                case "compact_intseq": {
                    double[] s = ((RDoubles) state).values();
                    int n = (int) s[0];
                    int[] v = new int[n];
                    for (int i = 0; i < n; i++) {
                        v[i] = (int) (s[1] + i * s[2]);
                    }
                    return new RInts(v, attrs);
                }
                case "compact_realseq": {
                    double[] s = ((RDoubles) state).values();
                    int n = (int) s[0];
                    double[] v = new double[n];
                    for (int i = 0; i < n; i++) {
                        v[i] = s[1] + i * s[2];
                    }
                    return new RDoubles(v, attrs);
                }
                case "deferred_string": {
                    RObject arg = state instanceof RPairList p ? p.values().get(0) : state;
                    List<String> v = new ArrayList<>();
                    if (arg instanceof RInts ints) {
                        for (int x : ints.values()) {
                            v.add(x == Integer.MIN_VALUE ? null : Integer.toString(x));
                        }
                    } else if (arg instanceof RDoubles ds) {
                        for (double x : ds.values()) {
                            v.add(x == Math.rint(x) && Math.abs(x) < 1e15 ? Long.toString((long) x) : Double.toString(x));
                        }
                    } else if (arg instanceof RStrings ss) {
                        v.addAll(ss.values());
                    } else {
                        throw new IOException("deferred_string over " + arg.summary() + " is not supported");
                    }
                    return new RStrings(Collections.unmodifiableList(v), attrs);
                }
                default:
                    if (cls.startsWith("wrap_") && state instanceof RList l && !l.values().isEmpty()) {
                        return replaceAttributes(l.values().get(0), attrs);
                    }
                    throw new IOException("ALTREP class '" + cls + "' is not supported (supported: compact_intseq, "
                            + "compact_realseq, deferred_string, wrap_*)");
            }
        }

        private static RObject replaceAttributes(RObject o, Map<String, RObject> a) {
            if (o instanceof RStrings s) {
                return new RStrings(s.values(), a);
            } else if (o instanceof RInts s) {
                return new RInts(s.values(), a);
            } else if (o instanceof RLogicals s) {
                return new RLogicals(s.values(), a);
            } else if (o instanceof RDoubles s) {
                return new RDoubles(s.values(), a);
            } else if (o instanceof RRaw s) {
                return new RRaw(s.values(), a);
            } else if (o instanceof RList s) {
                return new RList(s.values(), a);
            }
            return o;
        }

        private RObject withAttributes(ROther o, boolean hasAttr) throws IOException {
            Map<String, RObject> a = attributes(hasAttr);
            return a.isEmpty() ? o : new ROther(o.kind(), a);
        }

        private Map<String, RObject> attributes(boolean hasAttr) throws IOException {
            return hasAttr ? pairListToMap(item()) : Map.of();
        }

        private static Map<String, RObject> pairListToMap(RObject o) {
            if (!(o instanceof RPairList p)) {
                return Map.of();
            }
            Map<String, RObject> m = new LinkedHashMap<>();
            for (int i = 0; i < p.values().size(); i++) {
                String tag = p.tags().get(i);
                m.put(tag == null ? "" : tag, p.values().get(i));
            }
            return Collections.unmodifiableMap(m);
        }

        /** R's {@code InStringVec}: a zero, a count, then that many CHARSXP items. */
        private List<String> stringVec() throws IOException {
            if (in.readInt() != 0) {
                throw new IOException("names in persistent string vectors are not supported");
            }
            int n = in.readInt();
            List<String> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                RObject s = item();
                out.add(s instanceof RStrings rs && !rs.values().isEmpty() ? rs.values().get(0) : null);
            }
            return out;
        }

        private String chars(int flags) throws IOException {
            int n = in.readInt();
            if (n == -1) {
                return null; // NA_character_
            }
            byte[] b = new byte[n];
            in.readFully(b);
            int levels = flags >>> 12;
            Charset cs;
            if ((levels & UTF8_MASK) != 0) {
                cs = StandardCharsets.UTF_8;
            } else if ((levels & LATIN1_MASK) != 0) {
                cs = StandardCharsets.ISO_8859_1;
            } else if ((levels & (ASCII_MASK | BYTES_MASK)) != 0) {
                // ASCII is valid UTF-8; "bytes" strings have no encoding, UTF-8 with U+FFFD is the safe reading
                cs = StandardCharsets.UTF_8;
            } else {
                cs = nativeEncoding;
            }
            return new String(b, cs);
        }

        private int length() throws IOException {
            int n = in.readInt();
            if (n == -1) {
                long upper = in.readInt() & 0xFFFFFFFFL;
                long lower = in.readInt() & 0xFFFFFFFFL;
                long len = (upper << 32) | lower;
                throw new IOException("vector of length " + len + " exceeds what this reader holds (2^31 - 1)");
            }
            if (n < 0) {
                throw new EOFException("negative vector length " + n + ": corrupt stream");
            }
            return n;
        }
    }
}
