package io.mnemo.train.tasks;

import java.util.SplittableRandom;

/** Derives independent, reproducible random streams from a seed and indices. */
public final class Seeds {
    private Seeds() {}

    /**
     * Mixes a seed with indices into a 64-bit value; each step is the SplitMix64 finaliser, so nearby
     * seeds and indices give unrelated streams.
     */
    public static long mix(long seed, long... indices) {
        long h = fmix(seed ^ 0x9E3779B97F4A7C15L);
        for (long i : indices) {
            h = fmix(h + 0x9E3779B97F4A7C15L + fmix(i));
        }
        return h;
    }

    /** The random stream of one example: row {@code row} of batch {@code index}. */
    public static SplittableRandom forExample(long seed, long index, int row) {
        return new SplittableRandom(mix(seed, index, row));
    }

    private static long fmix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
