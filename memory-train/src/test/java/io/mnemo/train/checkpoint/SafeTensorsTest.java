package io.mnemo.train.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mnemo.core.NdBuffers;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class SafeTensorsTest {
    @Test
    void roundTripKeepsValuesShapesOrderAndMetadata(@TempDir Path tmp) throws IOException {
        Map<String, INDArray> t = new LinkedHashMap<>();
        t.put("b.weight", Nd4j.createFromArray(new float[][] {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12.5f}}));
        t.put("a.bias", Nd4j.createFromArray(new double[] {-1, -0.5, 0, 0.5, 1e-300}));
        Path f = tmp.resolve("m.safetensors");
        SafeTensors.write(f, t, Map.of("format", "x"));
        Map<String, String> meta = new HashMap<>();
        Map<String, INDArray> back = SafeTensors.readWithMetadata(f, meta);
        assertEquals(java.util.List.of("b.weight", "a.bias"), java.util.List.copyOf(back.keySet()));
        assertArrayEquals(NdBuffers.toFloats(t.get("b.weight")), NdBuffers.toFloats(back.get("b.weight")));
        assertArrayEquals(new long[] {3, 4}, back.get("b.weight").shape());
        assertArrayEquals(NdBuffers.toDoubles(t.get("a.bias")), NdBuffers.toDoubles(back.get("a.bias")));
        assertEquals(DataType.DOUBLE, back.get("a.bias").dataType());
        assertEquals("x", meta.get("format"));
        // the header length is a multiple of 8 and the data follows it, as in the reference format
        long n = ByteBuffer.wrap(Files.readAllBytes(f), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8);
        assertEquals(8 + n + 12 * 4 + 5 * 8, Files.size(f));
    }

    private static Path raw(Path dir, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path f = dir.resolve("bad-" + Math.abs(header.hashCode()) + ".safetensors");
        Files.write(f, b.array());
        return f;
    }

    @Test
    void badFilesAreRejectedWithTheFileName(@TempDir Path tmp) throws IOException {
        Path truncated = raw(tmp, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8);
        var e = assertThrows(IOException.class, () -> SafeTensors.read(truncated));
        assertTrue(e.getMessage().contains(truncated.toString()) && e.getMessage().contains("truncated"), e.getMessage());
        Path negative = raw(tmp, "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,-4]}}", 0);
        e = assertThrows(IOException.class, () -> SafeTensors.read(negative));
        assertTrue(e.getMessage().contains("negative"), e.getMessage());
        Path noOffsets = raw(tmp, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4);
        e = assertThrows(IOException.class, () -> SafeTensors.read(noOffsets));
        assertTrue(e.getMessage().contains("data_offsets"), e.getMessage());
        Path half = raw(tmp, "{\"w\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2);
        e = assertThrows(IOException.class, () -> SafeTensors.read(half));
        assertTrue(e.getMessage().contains("supported: F32, F64"), e.getMessage());
        Path notJson = raw(tmp, "{oops", 0);
        e = assertThrows(IOException.class, () -> SafeTensors.read(notJson));
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
    }
}
