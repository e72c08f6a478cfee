package io.mnemo.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.NdBuffers;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class NpyTest {
    @TempDir
    Path dir;

    private INDArray roundTrip(String name, INDArray a) throws IOException {
        Path f = dir.resolve(name);
        Npy.write(f, a);
        INDArray b = Npy.read(f);
        assertEquals(a.dataType(), b.dataType(), name + " data type");
        assertArrayEquals(a.shape(), b.shape(), name + " shape");
        return b;
    }

    @Test
    void float32RoundTripIsExact() throws IOException {
        Nd4j.getRandom().setSeed(1);
        INDArray a = Nd4j.randn(DataType.FLOAT, 7, 13);
        INDArray b = roundTrip("f4.npy", a);
        assertArrayEquals(NdBuffers.toFloats(a), NdBuffers.toFloats(b));
    }

    @Test
    void float64Rank4RoundTripIsExact() throws IOException {
        Nd4j.getRandom().setSeed(2);
        INDArray a = Nd4j.randn(DataType.DOUBLE, 2, 3, 4, 5);
        INDArray b = roundTrip("f8.npy", a);
        assertArrayEquals(NdBuffers.toDoubles(a), NdBuffers.toDoubles(b));
    }

    @Test
    void integerAndBoolArraysRoundTrip() throws IOException {
        INDArray i4 = Nd4j.createFromArray(new int[] {1, -2, 3, Integer.MAX_VALUE, Integer.MIN_VALUE, 0}).reshape(2, 3);
        assertArrayEquals(i4.reshape(6).toIntVector(), roundTrip("i4.npy", i4).reshape(6).toIntVector());
        INDArray i8 = Nd4j.createFromArray(new long[] {Long.MAX_VALUE, -5, 7});
        assertArrayEquals(i8.toLongVector(), roundTrip("i8.npy", i8).toLongVector());
        INDArray b1 = Nd4j.createFromArray(new boolean[] {true, false, true});
        INDArray back = roundTrip("b1.npy", b1);
        assertEquals(b1, back);
    }

    @Test
    void scalarsAreRankZero() throws IOException {
        INDArray d = roundTrip("scale.npy", Nd4j.scalar(0.125));
        assertEquals(0, d.rank());
        assertEquals(0.125, d.getDouble(0));
        INDArray f = roundTrip("f.npy", Nd4j.scalar(2.5f));
        assertEquals(2.5f, f.getFloat(0));
        INDArray l = roundTrip("chunk_size.npy", Nd4j.scalar(64L));
        assertEquals(0, l.rank());
        assertEquals(64L, l.getLong(0));
        INDArray b = roundTrip("flag.npy", Nd4j.scalar(true));
        assertEquals(0, b.rank());
        assertTrue(b.getDouble(0) != 0);
        INDArray no = roundTrip("noflag.npy", Nd4j.scalar(false));
        assertEquals(0.0, no.getDouble(0));
    }

    @Test
    void zeroLengthDimensionsKeepTheirShape() throws IOException {
        INDArray a = roundTrip("empty.npy", Nd4j.create(DataType.FLOAT, 2, 0, 3));
        assertEquals(0, a.length());
        INDArray b = roundTrip("empty1.npy", Nd4j.create(DataType.DOUBLE, 0));
        assertArrayEquals(new long[] {0}, b.shape());
        assertEquals(128, Files.size(dir.resolve("empty1.npy")), "header only");
    }

    @Test
    void viewsAreWrittenWithTheirLogicalElements() throws IOException {
        INDArray base = Nd4j.arange(24).castTo(DataType.FLOAT).reshape(4, 6);
        INDArray t = base.transpose();
        assertArrayEquals(NdBuffers.toFloats(t), NdBuffers.toFloats(roundTrip("t.npy", t)));
        INDArray row = base.getRow(2);
        assertArrayEquals(new float[] {12, 13, 14, 15, 16, 17}, NdBuffers.toFloats(roundTrip("row.npy", row)));
    }

    /** numpy >= 1.24: 21 - len(str(shape[0])) spaces of growth room, then padding to 64 and '\n'. */
    @Test
    void writesTheBytesNumpySaveWrites() throws IOException {
        INDArray a = Nd4j.arange(6).castTo(DataType.FLOAT).reshape(2, 3);
        Path f = dir.resolve("a.npy");
        Npy.write(f, a);
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + " ".repeat(20);
        byte[] expected = npy(1, dict, le(4, 0f, 1f, 2f, 3f, 4f, 5f));
        assertEquals(128 + 24, expected.length);
        assertArrayEquals(expected, Files.readAllBytes(f));
        // The header np.save(np.array(0.5)) writes: no growth room for a 0-d array.
        Npy.write(f, Nd4j.scalar(0.5));
        byte[] scalar = npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", le(8, 0.5));
        assertArrayEquals(scalar, Files.readAllBytes(f));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(f), s.toList(), "no temporary file left behind");
        }
    }

    /**
     * Files from numpy < 1.24 have no growth room (and before 1.14 were aligned to 16 bytes, not 64);
     * versions 2.0 and 3.0 use a 4-byte header length.
     */
    @Test
    void readsHeadersOfOlderNumpyAndFormatTwo() throws IOException {
        Path f = dir.resolve("old.npy");
        Files.write(f, npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", le(4, 0f, 1f, 2f, 3f,
                4f, 5f)));
        INDArray a = Npy.read(f);
        assertArrayEquals(new long[] {2, 3}, a.shape());
        assertEquals(5f, a.getFloat(1, 2));
        assertEquals(128, Npy.readHeader(f).dataOffset());
        Files.write(f, npy(1, 16, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", le(4, 0f, 1f, 2f, 3f,
                4f, 5f)));
        assertEquals(80, Npy.readHeader(f).dataOffset());
        assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5}, NdBuffers.toFloats(Npy.read(f)));
        Files.write(f, npy(2, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", le(8, 1.0, 2.0, 3.0)));
        assertArrayEquals(new double[] {1, 2, 3}, NdBuffers.toDoubles(Npy.read(f)));
        Files.write(f, npy(3, "{\"descr\": \"<i8\", \"fortran_order\": False, \"shape\": (1L, 2L)}", le(8, 7L, 9L)));
        assertArrayEquals(new long[] {7, 9}, Npy.read(f).reshape(2).toLongVector());
    }

    @Test
    void fortranOrderIsTransposedIntoCOrder() throws IOException {
        Path f = dir.resolve("fortran.npy");
        // [[0, 1, 2], [3, 4, 5]] stored column by column.
        Files.write(f, npy(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                le(8, 0.0, 3.0, 1.0, 4.0, 2.0, 5.0)));
        INDArray a = Npy.read(f);
        assertArrayEquals(new long[] {2, 3}, a.shape());
        assertArrayEquals(new double[] {0, 1, 2, 3, 4, 5}, NdBuffers.toDoubles(a));
    }

    @Test
    void bigEndianAndBoolQuestionMarkAreRead() throws IOException {
        Path f = dir.resolve("be.npy");
        ByteBuffer be = ByteBuffer.allocate(16).order(ByteOrder.BIG_ENDIAN).putDouble(1.5).putDouble(-2.25);
        Files.write(f, npy(1, "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", be.array()));
        assertArrayEquals(new double[] {1.5, -2.25}, NdBuffers.toDoubles(Npy.read(f)));
        Files.write(f, npy(1, "{'descr': '?', 'fortran_order': False, 'shape': (), }", new byte[] {1}));
        INDArray b = Npy.read(f);
        assertEquals(DataType.BOOL, b.dataType());
        assertEquals(0, b.rank());
    }

    @Test
    void errorsNameTheFileAndTheProblem() throws IOException {
        Path f = dir.resolve("bad.npy");
        Files.write(f, "PK\u0003\u0004 this is a zip file".getBytes(StandardCharsets.ISO_8859_1));
        assertMessage(f, "not a .npy file: bad magic");

        Files.write(f, npy(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", new byte[4]));
        assertMessage(f, "unsupported dtype '<f2', expected one of <f4, <f8, <i4, <i8, |b1");

        Files.write(f, npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", le(4, 1f, 2f)));
        assertMessage(f, "truncated data: shape (2, 3) of <f4 needs 24 bytes after the 128-byte header, "
                + "the file has 8");

        Files.write(f, npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", le(4, 1f, 2f)));
        assertMessage(f, "4 unexpected bytes after the 4 bytes of data");

        Files.write(f, npy(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", le(4, 1f)));
        assertMessage(f, "structured dtypes are not supported");

        Files.write(f, npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,) ", le(4, 1f)));
        assertMessage(f, "malformed header");

        byte[] v4 = npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", le(4, 1f));
        v4[6] = 4;
        Files.write(f, v4);
        assertMessage(f, "unsupported .npy format version 4.0, expected 1.0, 2.0 or 3.0");

        Files.write(f, new byte[] {(byte) 0x93, 'N'});
        assertMessage(f, "too short to be a .npy file");

        NpyFormatException e = assertThrows(NpyFormatException.class,
                () -> Npy.write(dir.resolve("h.npy"), Nd4j.create(DataType.HALF, 2)));
        assertTrue(e.getMessage().contains("h.npy: cannot write data type HALF"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("h.npy")));
    }

    private static void assertMessage(Path f, String part) {
        NpyFormatException e = assertThrows(NpyFormatException.class, () -> Npy.read(f));
        assertTrue(e.getMessage().startsWith(f + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(part), e.getMessage());
        assertEquals(f, e.file());
    }

    /** A .npy file as numpy lays it out: dict padded with spaces and '\n' to a multiple of 64 bytes. */
    private static byte[] npy(int major, String dict, byte[] data) {
        return npy(major, 64, dict, data);
    }

    private static byte[] npy(int major, int align, String dict, byte[] data) {
        int lenBytes = major == 1 ? 2 : 4;
        int hlen = dict.length() + 1;
        int pad = align - ((8 + lenBytes + hlen) % align);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0});
        ByteBuffer len = ByteBuffer.allocate(lenBytes).order(ByteOrder.LITTLE_ENDIAN);
        if (lenBytes == 2) {
            len.putShort((short) (hlen + pad));
        } else {
            len.putInt(hlen + pad);
        }
        out.writeBytes(len.array());
        out.writeBytes((dict + " ".repeat(pad) + "\n").getBytes(StandardCharsets.UTF_8));
        out.writeBytes(data);
        return out.toByteArray();
    }

    /** Little-endian bytes of numbers written as elements of {@code size} bytes. */
    private static byte[] le(int size, Number... xs) {
        ByteBuffer b = ByteBuffer.allocate(size * xs.length).order(ByteOrder.LITTLE_ENDIAN);
        for (Number x : xs) {
            if (x instanceof Float f) {
                b.putFloat(f);
            } else if (x instanceof Double d) {
                b.putDouble(d);
            } else if (x instanceof Long l) {
                b.putLong(l);
            } else {
                b.putInt(x.intValue());
            }
        }
        return b.array();
    }
}
