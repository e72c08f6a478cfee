package io.mnemo.train.tasks;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.function.Function;

/**
 * Builds tasks by name from string options, as the command line gives them
 * ({@code mqar seqLen=256 pairs=16}). Unknown task names and options are rejected with a message
 * listing the valid ones; {@link #list()} describes every task and its options with their defaults.
 */
public final class Tasks {
    private Tasks() {}

    /**
     * One option of a task.
     *
     * @param name option key
     * @param defaultValue value used when the option is absent
     * @param help what it means and its valid range
     */
    public record Option(String name, String defaultValue, String help) {}

    /**
     * A task the factory knows.
     *
     * @param name task name
     * @param summary one line on what it measures
     * @param options accepted options
     */
    public record Spec(String name, String summary, List<Option> options) {}

    private record Entry(Spec spec, Function<Options, Task> factory) {}

    private static final Map<String, Entry> TASKS = new LinkedHashMap<>();

    static {
        Option seed = new Option("seed", "0", "seed of the generator (any long)");
        register(new Spec("mqar", "multi-query associative recall (Zoology): K key-value pairs, then K queries", List.of(
                new Option("vocab", "8192", "vocabulary size, >= 2*pairs+2"),
                new Option("seqLen", "256", "sequence length T, >= 4*pairs"),
                new Option("pairs", "16", "number of key-value pairs K >= 1"),
                new Option("powerA", "0.01", "power-law exponent of the query gaps, in (0, 1]; 1 = uniform"),
                seed)),
                o -> new MqarTask(o.integer("vocab"), o.integer("seqLen"), o.integer("pairs"),
                        o.decimal("powerA"), o.longValue("seed")));
        register(new Spec("passkey", "passkey retrieval, byte-level: find the 5-digit key hidden in filler text",
                List.of(new Option("seqLen", "1024", "length T in bytes, >= " + PasskeyTask.minSeqLen(5)
                                + " for 5 digits"),
                        new Option("depth", "random", "relative depth of the key in [0, 1], or 'random'"),
                        new Option("digits", "5", "digits of the pass key, 1..18"),
                        new Option("contextWeight", "0", "training loss weight of the non-answer bytes, in [0, 1]"
                                + " (the score counts the answer only)"),
                        seed)),
                o -> new PasskeyTask(o.integer("seqLen"), o.depth("depth"), o.integer("digits"),
                        o.decimal("contextWeight"), o.longValue("seed")));
        register(new Spec("niah", "single needle in a haystack (RULER S-NIAH), byte-level: recall a keyed number",
                List.of(new Option("seqLen", "1024", "length T in bytes, >= " + NeedleTask.minSeqLen(7)
                                + " for 7 digits"),
                        new Option("depth", "random", "relative depth of the needle in [0, 1], or 'random'"),
                        new Option("digits", "7", "digits of the magic number, 1..18"),
                        new Option("haystack", "repeat", "haystack text: repeat (filler sentences) or noise "
                                + "(random word sentences)"),
                        seed)),
                o -> new NeedleTask(o.integer("seqLen"), o.depth("depth"), o.integer("digits"), o.haystack("haystack"),
                        o.longValue("seed")));
        register(new Spec("selective-copy", "selective copying (Mamba): output the data tokens scattered among blanks",
                List.of(new Option("vocab", "16", "vocabulary size >= 3 (0 blank, vocab-1 separator)"),
                        new Option("seqLen", "256", "total length T, >= 2*tokens"),
                        new Option("tokens", "16", "number of data tokens to copy, >= 1"),
                        seed)),
                o -> new SelectiveCopyTask(o.integer("vocab"), o.integer("seqLen"), o.integer("tokens"),
                        o.longValue("seed")));
        register(new Spec("induction", "induction heads: recall the token that followed the trigger (train short, "
                        + "test long)",
                List.of(new Option("vocab", "16", "vocabulary size >= 3 (vocab-1 is the trigger)"),
                        new Option("seqLen", "256", "sequence length T >= 4"),
                        seed)),
                o -> new InductionTask(o.integer("vocab"), o.integer("seqLen"), o.longValue("seed")));
        register(new Spec("text", "byte-level language modelling on a fetched corpus (scripts/fetch-corpora.sh): "
                + "random windows of one document split", List.of(
                        new Option("corpus", "austen", "directory under the corpora root (austen, sotu, moby-dick, "
                                + "tidytext)"),
                        new Option("seqLen", "512", "window length T in bytes"),
                        new Option("split", "train", "train, validation or test (documents split 80/10/10 by a "
                                + "seeded hash of their names)"),
                        seed)),
                o -> {
                    io.mnemo.train.data.TextCorpus.Split sp = io.mnemo.train.data.CorpusLoader.load(o.values().get("corpus"))
                            .split(0.1, 0.1, 17);
                    io.mnemo.train.data.TextCorpus c = switch (o.values().get("split")) {
                        case "train" -> sp.train();
                        case "validation" -> sp.validation();
                        case "test" -> sp.test();
                        default -> throw new IllegalArgumentException("option split of task text must be train, "
                                + "validation or test, got '" + o.values().get("split") + "'");
                    };
                    return c.windows(o.integer("seqLen"), o.longValue("seed"));
                });
    }

    private static void register(Spec spec, Function<Options, Task> factory) {
        TASKS.put(spec.name(), new Entry(spec, factory));
    }

    /** The names of all tasks, in the order {@link #list()} gives them. */
    public static List<String> names() {
        return List.copyOf(TASKS.keySet());
    }

    /** Every task with its options and defaults. */
    public static List<Spec> specs() {
        List<Spec> out = new ArrayList<>();
        TASKS.values().forEach(e -> out.add(e.spec()));
        return out;
    }

    /** A human-readable description of every task and its options, one block per task. */
    public static String list() {
        StringBuilder sb = new StringBuilder();
        for (Spec s : specs()) {
            sb.append(s.name()).append(": ").append(s.summary()).append('\n');
            for (Option o : s.options()) {
                sb.append(String.format("    %-9s (default %s) %s%n", o.name(), o.defaultValue(), o.help()));
            }
        }
        return sb.toString();
    }

    /**
     * Builds a task.
     *
     * @param name one of {@link #names()}
     * @param options option values by name; absent options take their defaults
     * @throws IllegalArgumentException for an unknown name or option, or a value out of range
     */
    public static Task create(String name, Map<String, String> options) {
        Entry e = TASKS.get(name);
        if (e == null) {
            throw new IllegalArgumentException("unknown task '" + name + "', expected one of " + names());
        }
        List<String> valid = e.spec().options().stream().map(Option::name).toList();
        for (String key : options.keySet()) {
            if (!valid.contains(key)) {
                throw new IllegalArgumentException("unknown option '" + key + "' for task " + name
                        + ", expected one of " + valid);
            }
        }
        Map<String, String> values = new LinkedHashMap<>();
        e.spec().options().forEach(o -> values.put(o.name(), o.defaultValue()));
        values.putAll(options);
        return e.factory().apply(new Options(name, values));
    }

    /** Option values with parsing that names the option in its errors. */
    private record Options(String task, Map<String, String> values) {

        int integer(String key) {
            try {
                return Integer.parseInt(values.get(key).trim());
            } catch (NumberFormatException ex) {
                throw bad(key, "an integer");
            }
        }

        long longValue(String key) {
            try {
                return Long.parseLong(values.get(key).trim());
            } catch (NumberFormatException ex) {
                throw bad(key, "an integer");
            }
        }

        double decimal(String key) {
            try {
                return Double.parseDouble(values.get(key).trim());
            } catch (NumberFormatException ex) {
                throw bad(key, "a number");
            }
        }

        OptionalDouble depth(String key) {
            String v = values.get(key).trim();
            if (v.equalsIgnoreCase("random")) {
                return OptionalDouble.empty();
            }
            try {
                return OptionalDouble.of(Double.parseDouble(v));
            } catch (NumberFormatException ex) {
                throw bad(key, "a number in [0, 1] or 'random'");
            }
        }

        NeedleTask.HaystackKind haystack(String key) {
            try {
                return NeedleTask.HaystackKind.valueOf(values.get(key).trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException ex) {
                throw bad(key, "one of repeat, noise");
            }
        }

        private IllegalArgumentException bad(String key, String expected) {
            return new IllegalArgumentException("option " + key + "=" + values.get(key) + " of task " + task
                    + " is not " + expected);
        }
    }
}
