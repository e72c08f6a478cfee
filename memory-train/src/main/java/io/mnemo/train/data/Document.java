package io.mnemo.train.data;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * One named document of a corpus, held as its UTF-8 bytes (the byte-level tokens, ids
 * {@code bytes[i] & 0xFF}). The array is not copied; treat it as read-only.
 *
 * @param name unique name within the corpus, e.g. {@code "austen/emma"}
 * @param bytes the document's UTF-8 bytes
 */
public record Document(String name, byte[] bytes) {

    public Document {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(bytes, "bytes");
        if (name.isBlank()) {
            throw new IllegalArgumentException("document name is blank");
        }
    }

    /** A document of text, stored as UTF-8. */
    public static Document ofText(String name, String text) {
        return new Document(name, text.getBytes(StandardCharsets.UTF_8));
    }

    /** Length in bytes (= tokens). */
    public int length() {
        return bytes.length;
    }

    /** The text (invalid UTF-8 becomes U+FFFD). */
    public String text() {
        return ByteTokenizer.INSTANCE.decode(bytes);
    }

    /** Equal when names and contents are equal (a record would compare the arrays by identity). */
    @Override
    public boolean equals(Object o) {
        return o instanceof Document d && d.name.equals(name) && Arrays.equals(d.bytes, bytes);
    }

    @Override
    public int hashCode() {
        return 31 * name.hashCode() + Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return "Document[" + name + ", " + bytes.length + " bytes]";
    }
}
