package io.mnemo.core.io;

import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Reads and writes NumPy {@code .npy} files as ND4J arrays, so that inputs and outputs can be exchanged
 * with NumPy / PyTorch code (e.g. flash-linear-attention) without Python on the Java side.
 *
 * <p>Format (numpy.lib.format): the magic {@code \x93NUMPY}, a major and minor version byte, the header
 * length (2 bytes little-endian in version 1.0, 4 bytes in 2.0 and 3.0), then a Python dict literal such
 * as {@code {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }} padded with spaces and a final
 * {@code \n} so that the data starts at a multiple of 64 bytes, then the raw elements.
 *
 * <table>
 *   <caption>supported element types</caption>
 *   <tr><th>descr</th><th>ND4J type</th></tr>
 *   <tr><td>{@code <f4}</td><td>FLOAT</td></tr>
 *   <tr><td>{@code <f8}</td><td>DOUBLE</td></tr>
 *   <tr><td>{@code <i4}</td><td>INT</td></tr>
 *   <tr><td>{@code <i8}</td><td>LONG</td></tr>
 *   <tr><td>{@code |b1} (or {@code ?})</td><td>BOOL</td></tr>
 * </table>
 * Big-endian ({@code >f4}) and native-order ({@code =f4}) files are read too. Any rank is supported,
 * including 0-d scalars (shape {@code ()}, read as a rank-0 array) and zero-length dimensions (read as an
 * empty array of that shape). Fortran-ordered files are read into a c-ordered array with the same shape
 * and elements.
 *
 * <p>{@link #write} writes format 1.0 (2.0 only if the header does not fit), little-endian, c order,
 * byte for byte as {@code numpy.save} does; the file is written to a temporary file and renamed, so a
 * failed write never leaves a half-written file. Arrays are limited to 2 GiB of data each.
 *
 * <p>Errors are {@link NpyFormatException}s whose message names the file and what is wrong.
 */
public final class Npy {
    private Npy() {}

    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /** numpy.lib.format.ARRAY_ALIGN: the data starts at a multiple of this. */
    private static final int ARRAY_ALIGN = 64;
    /** numpy.lib.format.GROWTH_AXIS_MAX_DIGITS: numpy leaves room to rewrite the first dimension in place. */
    private static final int GROWTH_AXIS_MAX_DIGITS = 21;
    /** Bytes copied per step when converting byte order; a multiple of every element size. */
    private static final int CHUNK = 1 << 20;

    /** The element types this class understands. */
    private enum Kind {
        F4("f4", DataType.FLOAT, 4), F8("f8", DataType.DOUBLE, 8), I4("i4", DataType.INT, 4),
        I8("i8", DataType.LONG, 8), B1("b1", DataType.BOOL, 1);

        final String code;
        final DataType type;
        final int size;

        Kind(String code, DataType type, int size) {
            this.code = code;
            this.type = type;
            this.size = size;
        }

        /** The descr numpy writes for this type on a little-endian file. */
        String descr() {
            return (size == 1 ? "|" : "<") + code;
        }

        static Kind of(DataType t) {
            for (Kind k : values()) {
                if (k.type == t) {
                    return k;
                }
            }
            return null;
        }
    }

    private static final String SUPPORTED = "<f4, <f8, <i4, <i8, |b1";

    /**
     * The header of a {@code .npy} file.
     *
     * @param major format major version (1, 2 or 3)
     * @param minor format minor version (0)
     * @param descr the numpy type string, e.g. {@code "<f4"}
     * @param fortranOrder whether the data is stored in Fortran (column-major) order
     * @param shape the array's shape; empty for a 0-d scalar
     * @param dataOffset byte offset of the first element in the file
     */
    public record Header(int major, int minor, String descr, boolean fortranOrder, long[] shape, long dataOffset) {
        /** Number of elements: the product of the shape (1 for a scalar; Long.MAX_VALUE on overflow). */
        public long length() {
            return elementCount(shape);
        }

        @Override
        public String toString() {
            return "Header[" + major + "." + minor + ", " + descr + ", fortran_order=" + fortranOrder + ", shape="
                    + Arrays.toString(shape) + ", data at " + dataOffset + "]";
        }
    }

    /**
     * The numpy type string {@link #write} uses for a data type: {@code "<f4"} for FLOAT, {@code "<f8"} for
     * DOUBLE, {@code "<i4"}, {@code "<i8"}, {@code "|b1"} for INT, LONG, BOOL; the type's name otherwise.
     */
    public static String descr(DataType t) {
        Kind k = Kind.of(t);
        return k == null ? t.name() : k.descr();
    }

    /** Reads only the header of {@code file}. */
    public static Header readHeader(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return readHeader(file, ch);
        }
    }

    /**
     * Reads a {@code .npy} file.
     *
     * @return a new c-ordered array with the file's shape (rank 0 for shape {@code ()}) and the ND4J type
     *     of its descr (see the class comment)
     * @throws NpyFormatException if the file is not a {@code .npy} file, has an unsupported type, or its
     *     data is shorter or longer than its shape says
     */
    public static INDArray read(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            Header h = readHeader(file, ch);
            ByteOrder order = byteOrder(h.descr());
            Kind kind = kind(file, h.descr());
            long n = elementCount(h.shape());
            long nbytes = n <= Integer.MAX_VALUE ? n * kind.size : Long.MAX_VALUE;
            if (nbytes > Integer.MAX_VALUE) {
                throw new NpyFormatException(file, "shape " + shapeRepr(h.shape()) + " of " + h.descr()
                        + " is too large: at most 2 GiB of data per array");
            }
            long available = ch.size() - h.dataOffset();
            if (available < nbytes) {
                throw new NpyFormatException(file, "truncated data: shape " + shapeRepr(h.shape()) + " of "
                        + h.descr() + " needs " + nbytes + " bytes after the " + h.dataOffset()
                        + "-byte header, the file has " + available);
            }
            if (available > nbytes) {
                throw new NpyFormatException(file, (available - nbytes) + " unexpected bytes after the "
                        + nbytes + " bytes of data of shape " + shapeRepr(h.shape()) + " of " + h.descr());
            }
            if (n == 0) {
                return Nd4j.create(kind.type, h.shape());
            }
            int rank = h.shape().length;
            boolean transpose = h.fortranOrder() && rank > 1;
            // Fortran order is c order of the reversed shape; read it so and permute back.
            long[] stored = transpose ? reversed(h.shape()) : h.shape();
            INDArray a = rank == 0 ? Nd4j.scalar(kind.type, 0) : Nd4j.createUninitialized(kind.type, stored, 'c');
            fill(file, ch, h.dataOffset(), a, kind, order, (int) nbytes);
            if (transpose) {
                int[] axes = new int[rank];
                for (int i = 0; i < rank; i++) {
                    axes[i] = rank - 1 - i;
                }
                a = a.permute(axes).dup('c');
            }
            return a;
        }
    }

    /**
     * Writes {@code a} as a {@code .npy} file (format 1.0, little-endian, c order), replacing an existing
     * file. Views and non-c-ordered arrays are written with their logical shape and elements.
     *
     * @param a any shape, including rank 0 and empty; FLOAT, DOUBLE, INT, LONG or BOOL
     * @throws NpyFormatException if the data type has no supported numpy equivalent
     */
    public static void write(Path file, INDArray a) throws IOException {
        Kind kind = Kind.of(a.dataType());
        if (kind == null) {
            throw new NpyFormatException(file, "cannot write data type " + a.dataType()
                    + ", expected FLOAT, DOUBLE, INT, LONG or BOOL");
        }
        long[] shape = a.shape();
        long n = a.length();
        long nbytes = n * kind.size;
        if (nbytes > Integer.MAX_VALUE) {
            throw new NpyFormatException(file, "array of shape " + Arrays.toString(shape)
                    + " is too large: at most 2 GiB of data per array");
        }
        byte[] header = header(kind.descr(), shape);
        Path abs = file.toAbsolutePath();
        Path tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName(), ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                writeFully(ch, ByteBuffer.wrap(header));
                if (n > 0) {
                    INDArray c = a.ordering() == 'c' && Shape.hasDefaultStridesForShape(a) ? a : a.dup('c');
                    writeData(ch, c, kind, (int) nbytes);
                }
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * The header bytes numpy writes for an array (magic, version, length, dict, padding): format 1.0, or
     * 2.0 when the dict does not fit in 65535 bytes.
     *
     * @param descr numpy type string, e.g. {@code "<f4"}
     * @param shape the shape; empty for a scalar
     */
    static byte[] header(String descr, long[] shape) {
        StringBuilder d = new StringBuilder("{'descr': '").append(descr).append("', 'fortran_order': False, ")
                .append("'shape': ").append(shapeRepr(shape)).append(", }");
        // numpy >= 1.24 leaves room to grow the first dimension in place (numpy.lib.format._write_array_header).
        if (shape.length > 0) {
            d.append(" ".repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - Long.toString(shape[0]).length())));
        }
        byte[] dict = d.toString().getBytes(StandardCharsets.ISO_8859_1);
        int major = 1;
        int lenBytes = 2;
        int hlen = dict.length + 1;
        int pad = ARRAY_ALIGN - ((MAGIC.length + 2 + lenBytes + hlen) % ARRAY_ALIGN);
        if (hlen + pad > 0xFFFF) {
            major = 2;
            lenBytes = 4;
            pad = ARRAY_ALIGN - ((MAGIC.length + 2 + lenBytes + hlen) % ARRAY_ALIGN);
        }
        int total = hlen + pad;
        ByteBuffer b = ByteBuffer.allocate(MAGIC.length + 2 + lenBytes + total).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).put((byte) major).put((byte) 0);
        if (lenBytes == 2) {
            b.putShort((short) total);
        } else {
            b.putInt(total);
        }
        b.put(dict);
        for (int i = 0; i < pad; i++) {
            b.put((byte) ' ');
        }
        b.put((byte) '\n');
        return b.array();
    }

    /** Python's repr of a shape tuple: {@code ()}, {@code (5,)}, {@code (2, 3)}. */
    static String shapeRepr(long[] shape) {
        if (shape.length == 1) {
            return "(" + shape[0] + ",)";
        }
        StringBuilder b = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            b.append(i == 0 ? "" : ", ").append(shape[i]);
        }
        return b.append(')').toString();
    }

    private static Header readHeader(Path file, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < MAGIC.length + 4) {
            throw new NpyFormatException(file, "too short to be a .npy file (" + size + " bytes)");
        }
        ByteBuffer pre = readAt(file, ch, 0, MAGIC.length + 2);
        byte[] magic = new byte[MAGIC.length];
        pre.get(magic);
        if (!Arrays.equals(magic, MAGIC)) {
            throw new NpyFormatException(file, "not a .npy file: bad magic " + escape(magic)
                    + ", expected \\x93NUMPY");
        }
        int major = pre.get() & 0xFF;
        int minor = pre.get() & 0xFF;
        if ((major != 1 && major != 2 && major != 3) || minor != 0) {
            throw new NpyFormatException(file, "unsupported .npy format version " + major + "." + minor
                    + ", expected 1.0, 2.0 or 3.0");
        }
        int lenBytes = major == 1 ? 2 : 4;
        ByteBuffer lb = readAt(file, ch, MAGIC.length + 2, lenBytes).order(ByteOrder.LITTLE_ENDIAN);
        long hlen = lenBytes == 2 ? lb.getShort() & 0xFFFF : lb.getInt() & 0xFFFFFFFFL;
        long offset = MAGIC.length + 2 + lenBytes;
        if (offset + hlen > size) {
            throw new NpyFormatException(file, "truncated header: it claims " + hlen + " bytes, the file has "
                    + (size - offset) + " after the magic");
        }
        if (hlen > 1 << 24) {
            throw new NpyFormatException(file, "header of " + hlen + " bytes is implausibly large");
        }
        ByteBuffer hb = readAt(file, ch, offset, (int) hlen);
        String text = new String(hb.array(), major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        Map<String, Object> dict = new HeaderParser(file, text).dict();
        for (String key : dict.keySet()) {
            if (!key.equals("descr") && !key.equals("fortran_order") && !key.equals("shape")) {
                throw new NpyFormatException(file, "unexpected key '" + key + "' in header " + text.strip()
                        + ", expected descr, fortran_order, shape");
            }
        }
        Object descr = require(file, dict, "descr", text);
        Object fortran = require(file, dict, "fortran_order", text);
        Object shape = require(file, dict, "shape", text);
        if (!(descr instanceof String)) {
            throw new NpyFormatException(file, "unsupported dtype " + descr
                    + " (structured dtypes are not supported), expected one of " + SUPPORTED);
        }
        if (!(fortran instanceof Boolean)) {
            throw new NpyFormatException(file, "fortran_order is " + fortran + ", expected True or False");
        }
        if (!(shape instanceof List<?> dims)) {
            throw new NpyFormatException(file, "shape is " + shape + ", expected a tuple of integers");
        }
        long[] s = new long[dims.size()];
        for (int i = 0; i < s.length; i++) {
            if (!(dims.get(i) instanceof Long v) || v < 0) {
                throw new NpyFormatException(file, "shape " + text.strip() + " has a dimension " + dims.get(i)
                        + ", expected non-negative integers");
            }
            s[i] = v;
        }
        return new Header(major, minor, (String) descr, (Boolean) fortran, s, offset + hlen);
    }

    private static Object require(Path file, Map<String, Object> dict, String key, String text)
            throws NpyFormatException {
        if (!dict.containsKey(key)) {
            throw new NpyFormatException(file, "header " + text.strip() + " has no '" + key + "'");
        }
        return dict.get(key);
    }

    /** The byte order of a descr: '<' little, '>' big; '=', '|' and no prefix mean native. */
    private static ByteOrder byteOrder(String descr) {
        if (descr.startsWith("<")) {
            return ByteOrder.LITTLE_ENDIAN;
        }
        return descr.startsWith(">") ? ByteOrder.BIG_ENDIAN : ByteOrder.nativeOrder();
    }

    private static Kind kind(Path file, String descr) throws NpyFormatException {
        String code = descr;
        char order = 0;
        if (!descr.isEmpty() && "<>=|".indexOf(descr.charAt(0)) >= 0) {
            order = descr.charAt(0);
            code = descr.substring(1);
        }
        if (code.equals("?")) {
            code = "b1";
        }
        for (Kind k : Kind.values()) {
            // '|' (not applicable) is only valid for one-byte types; a bare code is NumPy's native order.
            if (k.code.equals(code) && (order != '|' || k.size == 1)) {
                return k;
            }
        }
        throw new NpyFormatException(file, "unsupported dtype '" + descr + "', expected one of " + SUPPORTED);
    }

    /** Reads {@code nbytes} of data in {@code order} into the (fresh, offset 0) buffer of {@code a}. */
    private static void fill(Path file, FileChannel ch, long pos, INDArray a, Kind kind, ByteOrder order,
            int nbytes) throws IOException {
        ByteBuffer dst = a.data().asNio().order(ByteOrder.nativeOrder());
        dst.position(0).limit(nbytes);
        ByteBuffer buf = ByteBuffer.allocate(Math.min(CHUNK, nbytes)).order(order);
        while (dst.hasRemaining()) {
            buf.clear().limit(Math.min(buf.capacity(), dst.remaining()));
            while (buf.hasRemaining()) {
                int r = ch.read(buf, pos);
                if (r < 0) {
                    throw new NpyFormatException(file, "truncated data at byte " + pos);
                }
                pos += r;
            }
            buf.flip();
            copy(buf, dst, kind.size);
        }
        // asNio() does not keep the array's memory alive (DESIGN.md §2, item 6).
        Reference.reachabilityFence(a);
    }

    /** Writes the {@code nbytes} of data of the contiguous c-ordered {@code c} little-endian. */
    private static void writeData(FileChannel ch, INDArray c, Kind kind, int nbytes) throws IOException {
        ByteBuffer src = c.data().asNio().order(ByteOrder.nativeOrder());
        // A view's buffer starts at its parent's first element (DESIGN.md §2, item 6).
        int start = Math.toIntExact(c.offset() * kind.size);
        src.position(start).limit(start + nbytes);
        ByteBuffer buf = ByteBuffer.allocate(Math.min(CHUNK, nbytes)).order(ByteOrder.LITTLE_ENDIAN);
        while (src.hasRemaining()) {
            int len = Math.min(buf.capacity(), src.remaining());
            ByteBuffer part = src.slice().limit(len).order(ByteOrder.nativeOrder());
            buf.clear();
            copy(part, buf, kind.size);
            buf.flip();
            writeFully(ch, buf);
            src.position(src.position() + len);
        }
        Reference.reachabilityFence(c);
    }

    /** Copies the remaining bytes of {@code from} into {@code to} as elements of {@code size} bytes,
     * converting between the two buffers' byte orders; advances both. */
    private static void copy(ByteBuffer from, ByteBuffer to, int size) {
        int n = from.remaining();
        switch (size) {
            case 1 -> to.put(from);
            case 4 -> to.asIntBuffer().put(from.asIntBuffer());
            case 8 -> to.asLongBuffer().put(from.asLongBuffer());
            default -> throw new IllegalStateException("element size " + size);
        }
        if (size != 1) {
            from.position(from.position() + n);
            to.position(to.position() + n);
        }
    }

    private static ByteBuffer readAt(Path file, FileChannel ch, long pos, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            int r = ch.read(b, pos + b.position());
            if (r < 0) {
                throw new NpyFormatException(file, "truncated header");
            }
        }
        return b.flip();
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** Product of the dimensions; {@link Long#MAX_VALUE} if it overflows. */
    private static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d == 0) {
                return 0;
            }
        }
        try {
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
        return n;
    }

    private static long[] reversed(long[] s) {
        long[] r = new long[s.length];
        for (int i = 0; i < s.length; i++) {
            r[i] = s[s.length - 1 - i];
        }
        return r;
    }

    private static String escape(byte[] bytes) {
        StringBuilder b = new StringBuilder();
        for (byte x : bytes) {
            int v = x & 0xFF;
            if (v >= 0x20 && v < 0x7F) {
                b.append((char) v);
            } else {
                b.append(String.format("\\x%02x", v));
            }
        }
        return b.toString();
    }

    /**
     * Parses the Python literal subset numpy writes in headers: dicts, tuples, lists, strings, integers,
     * True/False/None.
     */
    private static final class HeaderParser {
        /** Python's None, distinct from the string 'None'. */
        private static final Object NONE = new Object() {
            @Override
            public String toString() {
                return "None";
            }
        };

        private final Path file;
        private final String s;
        private int i;

        HeaderParser(Path file, String s) {
            this.file = file;
            this.s = s;
        }

        @SuppressWarnings("unchecked")
        Map<String, Object> dict() throws NpyFormatException {
            Object v = value();
            skipSpace();
            if (i != s.length()) {
                throw fail("unexpected text after the dict");
            }
            if (!(v instanceof Map<?, ?>)) {
                throw fail("the header is not a dict");
            }
            return (Map<String, Object>) v;
        }

        private Object value() throws NpyFormatException {
            skipSpace();
            if (i >= s.length()) {
                throw fail("unexpected end");
            }
            char c = s.charAt(i);
            switch (c) {
                case '{': {
                    i++;
                    Map<String, Object> m = new LinkedHashMap<>();
                    while (true) {
                        skipSpace();
                        if (peek('}')) {
                            i++;
                            return m;
                        }
                        Object key = value();
                        if (!(key instanceof String k)) {
                            throw fail("dict key " + key + " is not a string");
                        }
                        skipSpace();
                        expect(':');
                        m.put(k, value());
                        skipSpace();
                        if (peek(',')) {
                            i++;
                        } else if (!peek('}')) {
                            throw fail("expected ',' or '}'");
                        }
                    }
                }
                case '(':
                case '[': {
                    char close = c == '(' ? ')' : ']';
                    i++;
                    List<Object> l = new ArrayList<>();
                    while (true) {
                        skipSpace();
                        if (peek(close)) {
                            i++;
                            return l;
                        }
                        l.add(value());
                        skipSpace();
                        if (peek(',')) {
                            i++;
                        } else if (!peek(close)) {
                            throw fail("expected ',' or '" + close + "'");
                        }
                    }
                }
                case '\'':
                case '"': {
                    int end = s.indexOf(c, i + 1);
                    if (end < 0) {
                        throw fail("unterminated string");
                    }
                    String str = s.substring(i + 1, end);
                    i = end + 1;
                    return str;
                }
                default:
                    break;
            }
            if (c == '-' || Character.isDigit(c)) {
                int start = i++;
                while (i < s.length() && Character.isDigit(s.charAt(i))) {
                    i++;
                }
                String num = s.substring(start, i);
                // Python 2 wrote long integers with an L suffix.
                if (i < s.length() && (s.charAt(i) == 'L' || s.charAt(i) == 'l')) {
                    i++;
                }
                try {
                    return Long.parseLong(num);
                } catch (NumberFormatException e) {
                    throw fail("bad integer " + num);
                }
            }
            for (String word : new String[] {"True", "False", "None"}) {
                if (s.startsWith(word, i)) {
                    i += word.length();
                    return word.equals("None") ? NONE : Boolean.valueOf(word.equals("True"));
                }
            }
            throw fail("unexpected character '" + c + "'");
        }

        private boolean peek(char c) {
            return i < s.length() && s.charAt(i) == c;
        }

        private void expect(char c) throws NpyFormatException {
            if (!peek(c)) {
                throw fail("expected '" + c + "'");
            }
            i++;
        }

        private void skipSpace() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        private NpyFormatException fail(String what) {
            return new NpyFormatException(file, "malformed header " + s.strip() + ": " + what + " at character " + i);
        }
    }
}
