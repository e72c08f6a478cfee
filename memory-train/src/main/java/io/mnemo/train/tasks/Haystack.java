package io.mnemo.train.tasks;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/** Package-private helpers shared by the byte-level retrieval tasks (passkey, needle). */
final class Haystack {
    private Haystack() {}

    /**
     * The filler of the passkey test (Mohtashami &amp; Jaggi 2023), also RULER's "repeat" noise:
     * the same five sentences over and over, so nothing in the haystack is worth remembering.
     */
    static final String REPEAT = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ";

    private static final String[] ADJECTIVES = {
        "amber", "ancient", "brave", "bright", "calm", "clever", "cold", "crimson", "curious", "distant",
        "dusty", "eager", "early", "fierce", "gentle", "golden", "hidden", "hollow", "humble", "icy",
        "jolly", "keen", "late", "lively", "lonely", "lucky", "mellow", "misty", "modest", "noble",
        "odd", "pale", "patient", "plain", "proud", "quiet", "rapid", "restless", "rough", "rusty",
        "silent", "silver", "sleepy", "slow", "smooth", "solid", "steady", "stormy", "sturdy", "sunny",
        "swift", "tender", "tidy", "tiny", "velvet", "vivid", "warm", "wary", "wild", "wise",
        "witty", "wooden", "young", "zealous"
    };

    private static final String[] NOUNS = {
        "anchor", "apple", "arrow", "badger", "barrel", "beacon", "bell", "bridge", "candle", "canyon",
        "castle", "cedar", "cliff", "comet", "compass", "cottage", "crane", "desert", "falcon", "feather",
        "forest", "fountain", "garden", "glacier", "harbor", "hammer", "island", "kettle", "ladder", "lantern",
        "meadow", "mirror", "mountain", "needle", "orchard", "otter", "parrot", "pebble", "pigeon", "planet",
        "pocket", "quarry", "rabbit", "river", "saddle", "shadow", "signal", "spindle", "spring", "statue",
        "thicket", "thunder", "tower", "valley", "violin", "wagon", "walnut", "whistle", "window", "winter",
        "wizard", "wolf", "yarn", "zephyr"
    };

    private static final String[] VERBS = {
        "watches", "follows", "carries", "finds", "paints", "hears", "remembers", "visits", "builds", "crosses",
        "guards", "chases", "greets", "mends", "sells", "counts"
    };

    /** A two-word key such as {@code "rusty-lantern"} (RULER draws adjective-noun keys too). */
    static String key(SplittableRandom rnd) {
        return ADJECTIVES[rnd.nextInt(ADJECTIVES.length)] + "-" + NOUNS[rnd.nextInt(NOUNS.length)];
    }

    /** At least {@code length} bytes of random plain sentences ("The quiet otter paints the old wagon."). */
    static String noise(SplittableRandom rnd, int length) {
        StringBuilder sb = new StringBuilder(length + 64);
        while (sb.length() < length) {
            sb.append("The ").append(pick(rnd, ADJECTIVES)).append(' ').append(pick(rnd, NOUNS)).append(' ')
                    .append(pick(rnd, VERBS)).append(" the ").append(pick(rnd, ADJECTIVES)).append(' ')
                    .append(pick(rnd, NOUNS)).append(". ");
        }
        return sb.toString();
    }

    /** {@code text} repeated and cut to exactly {@code length} characters. */
    static String repeat(String text, int length) {
        StringBuilder sb = new StringBuilder(length);
        while (sb.length() < length) {
            sb.append(text, 0, Math.min(text.length(), length - sb.length()));
        }
        return sb.toString();
    }

    /**
     * The split point of a filler at relative depth {@code depth}: {@code round(depth * length)} moved
     * back to the start of the sentence it falls in, so the needle never cuts a sentence in two.
     */
    static int splitAt(String filler, double depth) {
        int s = (int) Math.round(depth * filler.length());
        while (s > 0 && !(s >= 2 && filler.charAt(s - 1) == ' ' && filler.charAt(s - 2) == '.')) {
            s--;
        }
        return s;
    }

    /** A random number of exactly {@code digits} decimal digits (no leading zero). */
    static String number(SplittableRandom rnd, int digits) {
        StringBuilder sb = new StringBuilder(digits);
        sb.append((char) ('1' + rnd.nextInt(9)));
        for (int i = 1; i < digits; i++) {
            sb.append((char) ('0' + rnd.nextInt(10)));
        }
        return sb.toString();
    }

    /**
     * The byte-level example of a text whose last {@code answerLength} bytes are the answer: inputs are
     * the text without its last byte, targets the text without its first, the mask covers the answer.
     */
    static Sequence sequence(String text, int answerLength) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int[] seq = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            seq[i] = bytes[i] & 0xFF;
        }
        Sequence s = Sequence.shifted(seq);
        int t = seq.length - 1;
        for (int i = t - answerLength; i < t; i++) {
            s.mask()[i] = 1f;
        }
        return s;
    }

    private static String pick(SplittableRandom rnd, String[] words) {
        return words[rnd.nextInt(words.length)];
    }
}
