package io.mnemo.train.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mnemo.core.NdBuffers;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Reads and writes the safetensors format (Hugging Face): an 8-byte little-endian header length, a
 * JSON header {@code {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 * "__metadata__": {..}}}, then the raw little-endian tensor bytes. F32 and F64 are supported, which is
 * what Mnemo stores; files load in PyTorch with {@code safetensors.torch.load_file}.
 */
public final class SafeTensors {
    private static final ObjectMapper JSON = new ObjectMapper();

    private SafeTensors() {}

    /** Writes {@code tensors} (FLOAT or DOUBLE) and string metadata to {@code file}. */
    public static void write(Path file, Map<String, INDArray> tensors, Map<String, String> metadata) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Map.Entry<String, INDArray> e : tensors.entrySet()) {
            INDArray a = e.getValue();
            int width = width(e.getKey(), a.dataType());
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", a.dataType() == DataType.DOUBLE ? "F64" : "F32");
            var shape = t.putArray("shape");
            for (long s : a.shape()) {
                shape.add(s);
            }
            long bytes = a.length() * width;
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] h = JSON.writeValueAsBytes(header);
        // pad the header with spaces to a multiple of 8 bytes, as the reference writer does
        int padded = (h.length + 7) / 8 * 8;
        try (OutputStream out = Files.newOutputStream(file)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded);
            out.write(len.array());
            out.write(h);
            for (int i = h.length; i < padded; i++) {
                out.write(' ');
            }
            for (INDArray a : tensors.values()) {
                ByteBuffer bb;
                if (a.dataType() == DataType.DOUBLE) {
                    double[] d = NdBuffers.toDoubles(a);
                    bb = ByteBuffer.allocate(d.length * 8).order(ByteOrder.LITTLE_ENDIAN);
                    bb.asDoubleBuffer().put(d);
                } else {
                    float[] f = NdBuffers.toFloats(a);
                    bb = ByteBuffer.allocate(f.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                    bb.asFloatBuffer().put(f);
                }
                out.write(bb.array());
            }
        }
    }

    /** The tensors of a file, in file order. */
    public static Map<String, INDArray> read(Path file) throws IOException {
        return readWithMetadata(file, null);
    }

    /** The tensors of a file; its metadata strings are put into {@code metadataOut} if non-null. */
    public static Map<String, INDArray> readWithMetadata(Path file, Map<String, String> metadataOut) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new IOException(file + " is not a safetensors file (" + size + " bytes)");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long n = lenBuf.flip().getLong();
            if (n <= 0 || n > size - 8 || n > 100_000_000) {
                throw new IOException(file + " is not a safetensors file (header length " + n + ", file size " + size
                        + ")");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) n);
            readFully(ch, hb, 8);
            JsonNode header;
            try {
                header = JSON.readTree(new String(hb.array(), StandardCharsets.UTF_8).trim());
            } catch (IOException e) {
                throw new IOException(file + ": the header is not valid JSON (" + e.getMessage().lines().findFirst()
                        .orElse("") + ")", e);
            }
            if (header == null || !header.isObject()) {
                throw new IOException(file + ": the header is not a JSON object");
            }
            Map<String, INDArray> out = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext();) {
                Map.Entry<String, JsonNode> e = it.next();
                if (e.getKey().equals("__metadata__")) {
                    if (metadataOut != null) {
                        e.getValue().fields().forEachRemaining(m -> metadataOut.put(m.getKey(), m.getValue().asText()));
                    }
                    continue;
                }
                JsonNode t = e.getValue();
                String dtype = t.path("dtype").asText();
                int width = switch (dtype) {
                    case "F32" -> 4;
                    case "F64" -> 8;
                    default -> throw new IOException(file + ": tensor " + e.getKey() + " has dtype " + dtype
                            + "; supported: F32, F64");
                };
                JsonNode sh = t.path("shape");
                JsonNode off = t.path("data_offsets");
                if (!sh.isArray() || !off.isArray() || off.size() != 2) {
                    throw new IOException(file + ": tensor " + e.getKey() + " lacks a shape array or a data_offsets "
                            + "pair");
                }
                long[] shape = new long[sh.size()];
                long count = 1;
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = sh.get(i).asLong(-1);
                    if (shape[i] < 0) {
                        throw new IOException(file + ": tensor " + e.getKey() + " has a negative or non-integer "
                                + "dimension in its shape " + sh);
                    }
                    count *= shape[i];
                }
                long begin = off.get(0).asLong(-1);
                long end = off.get(1).asLong(-1);
                if (begin < 0 || end < begin || end - begin != count * width || 8 + n + end > size
                        || count > Integer.MAX_VALUE) {
                    throw new IOException(file + ": tensor " + e.getKey() + " has inconsistent offsets [" + begin
                            + ", " + end + "] for shape " + java.util.Arrays.toString(shape) + " (truncated file?)");
                }
                ByteBuffer data = ByteBuffer.allocate((int) (end - begin)).order(ByteOrder.LITTLE_ENDIAN);
                readFully(ch, data, 8 + n + begin);
                data.flip();
                if (width == 8) {
                    double[] d = new double[(int) count];
                    data.asDoubleBuffer().get(d);
                    out.put(e.getKey(), NdBuffers.ofDoubles(d, shape));
                } else {
                    float[] f = new float[(int) count];
                    data.asFloatBuffer().get(f);
                    out.put(e.getKey(), NdBuffers.ofFloats(f, shape));
                }
            }
            return out;
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            int r = ch.read(b, pos + b.position());
            if (r < 0) {
                throw new IOException("unexpected end of file");
            }
        }
    }

    private static int width(String name, DataType t) {
        if (t == DataType.FLOAT) {
            return 4;
        }
        if (t == DataType.DOUBLE) {
            return 8;
        }
        throw new IllegalArgumentException("tensor " + name + " has data type " + t + "; only FLOAT and DOUBLE are stored");
    }
}
