package io.mnemo.train.data;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Byte-level tokenizer: a text's UTF-8 bytes are its tokens, ids {@code 0..255}, vocabulary 256.
 * No unknown tokens, no training, and bits per byte is the natural score. Decoding replaces invalid
 * UTF-8 (a window cut inside a multi-byte character, or a model's output) with U+FFFD instead of
 * failing. Stateless and thread-safe.
 */
public final class ByteTokenizer {

    /** Number of token ids. */
    public static final int VOCAB_SIZE = 256;

    /** The single instance; the tokenizer has no state. */
    public static final ByteTokenizer INSTANCE = new ByteTokenizer();

    private ByteTokenizer() {}

    /** Vocabulary size, 256. */
    public int vocabSize() {
        return VOCAB_SIZE;
    }

    /** Token ids of {@code text}: its UTF-8 bytes as unsigned values. */
    public int[] encode(String text) {
        return toIds(text.getBytes(StandardCharsets.UTF_8));
    }

    /** Unsigned ids of raw bytes. */
    public static int[] toIds(byte[] bytes) {
        int[] ids = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            ids[i] = bytes[i] & 0xFF;
        }
        return ids;
    }

    /**
     * Text of token ids; invalid UTF-8 sequences become U+FFFD.
     *
     * @throws IllegalArgumentException if an id is outside {@code [0, 256)}
     */
    public String decode(int[] ids) {
        byte[] bytes = new byte[ids.length];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= VOCAB_SIZE) {
                throw new IllegalArgumentException("ids[" + i + "] = " + ids[i] + " is outside the byte vocabulary [0, 256)");
            }
            bytes[i] = (byte) ids[i];
        }
        return decode(bytes);
    }

    /** Text of raw bytes; invalid UTF-8 sequences become U+FFFD. */
    public String decode(byte[] bytes) {
        CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPLACE)
                .onUnmappableCharacter(CodingErrorAction.REPLACE);
        try {
            return dec.decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            // unreachable with REPLACE actions; kept so a JDK change cannot turn into silent data loss
            throw new IllegalStateException("UTF-8 decoding failed despite REPLACE", e);
        }
    }
}
