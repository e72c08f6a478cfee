package io.mnemo.train.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class ByteTokenizerTest {

    private final ByteTokenizer tok = ByteTokenizer.INSTANCE;

    @Test
    void roundTripIncludingNonAscii() {
        for (String s : new String[] {"", "hello", "Café naïve — 日本語 🎉", "line\nbreak\ttab\u0000nul"}) {
            int[] ids = tok.encode(s);
            for (int id : ids) {
                assertEquals(id, id & 0xFF);
            }
            assertEquals(s, tok.decode(ids));
        }
        assertArrayEquals(new int[] {0x43, 0x61, 0x66, 0xC3, 0xA9}, tok.encode("Café"));
        assertEquals(256, tok.vocabSize());
    }

    @Test
    void invalidUtf8DecodesToReplacementCharacters() {
        // a window cut inside "é" (0xC3 0xA9) and a lone continuation byte
        assertEquals("Caf\uFFFD", tok.decode(new int[] {0x43, 0x61, 0x66, 0xC3}));
        assertEquals("\uFFFDa", tok.decode(new int[] {0xA9, 0x61}));
        assertEquals("\uFFFD", tok.decode(new int[] {0xFF}).substring(0, 1));
    }

    @Test
    void idsOutsideTheByteRangeAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {65, 256}));
        assertEquals("ids[1] = 256 is outside the byte vocabulary [0, 256)", e.getMessage());
    }
}
