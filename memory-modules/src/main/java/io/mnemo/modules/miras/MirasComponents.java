package io.mnemo.modules.miras;

import io.mnemo.modules.miras.MirasComponentFactory.Kind;
import io.mnemo.modules.titans.TitansActivation;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.ServiceLoader;
import java.util.function.Function;

/**
 * The registry of Miras component names: the built-in architectures, biases, retention gates and rules,
 * plus every {@link MirasComponentFactory} found by {@link ServiceLoader}. A JSON config names each of
 * the four choices with an options map and gets a {@link MirasConfig}:
 * <pre>{@code
 * MirasConfig cfg = MirasComponents.config(
 *         new MirasComponents.Spec("mlp", Map.of("expansion", 4)), new MirasComponents.Spec("lp", Map.of("p", 3)),
 *         new MirasComponents.Spec("lq", Map.of("q", 4)), new MirasComponents.Spec("gd", Map.of()), 16);
 * }</pre>
 * Built-in names and options (defaults in parentheses):
 * <ul>
 *   <li>architecture: {@code linear}; {@code mlp} {expansion (4), activation: silu | gelu_tanh (silu)}</li>
 *   <li>bias: {@code dot}; {@code l2}; {@code lp} {p (3), eps (1e-6)}; {@code huber} {mode: coordinate | norm
 *       (coordinate), delta: a number, or "token" for δ_t per token ("token")}; {@code value-shift} {shift
 *       (0.1), eps (1e-6)}</li>
 *   <li>retention: {@code none}; {@code l2-prev}; {@code scalar-decay}; {@code vector-decay};
 *       {@code elastic-net} {lambda (0.01), tau (0.01)}; {@code lq} {q (4), eps (1e-6)}; {@code kl} {scale (1)}</li>
 *   <li>rule: {@code gd}; {@code momentum}</li>
 * </ul>
 */
public final class MirasComponents {
    private static volatile Map<Kind, Map<String, MirasComponentFactory>> registry;

    private MirasComponents() {}

    /**
     * One named component with its options (the JSON form).
     *
     * @param name registered name
     * @param options values by key (may be empty, never null)
     */
    public record Spec(String name, Map<String, ?> options) {
        public Spec {
            Objects.requireNonNull(name, "name");
            options = options == null ? Map.of() : Map.copyOf(options);
        }

        /** A spec without options. */
        public static Spec of(String name) {
            return new Spec(name, Map.of());
        }
    }

    private static Map<Kind, Map<String, MirasComponentFactory>> registry() {
        Map<Kind, Map<String, MirasComponentFactory>> r = registry;
        if (r == null) {
            synchronized (MirasComponents.class) {
                if (registry == null) {
                    Map<Kind, Map<String, MirasComponentFactory>> m = new EnumMap<>(Kind.class);
                    for (Kind k : Kind.values()) {
                        m.put(k, new LinkedHashMap<>());
                    }
                    for (MirasComponentFactory f : builtIns()) {
                        register(m, f);
                    }
                    for (MirasComponentFactory f : ServiceLoader.load(MirasComponentFactory.class)) {
                        register(m, f);
                    }
                    registry = m;
                }
                r = registry;
            }
        }
        return r;
    }

    private static void register(Map<Kind, Map<String, MirasComponentFactory>> m, MirasComponentFactory f) {
        MirasComponentFactory prev = m.get(f.kind()).putIfAbsent(f.name(), f);
        if (prev != null && prev != f) {
            throw new IllegalStateException("Miras " + f.kind().name().toLowerCase(Locale.ROOT) + " '" + f.name()
                    + "' is registered twice: by " + prev.getClass().getName() + " and " + f.getClass().getName());
        }
    }

    /** Every name a config may use for a kind. */
    public static List<String> names(Kind kind) {
        return new ArrayList<>(registry().get(kind).keySet());
    }

    /**
     * Builds a component.
     *
     * @throws IllegalArgumentException for an unknown name or option (the message lists the valid ones)
     */
    public static Object create(Kind kind, Spec spec) {
        MirasComponentFactory f = registry().get(kind).get(spec.name());
        String what = kind.name().toLowerCase(Locale.ROOT);
        if (f == null) {
            throw new IllegalArgumentException("unknown Miras " + what + " '" + spec.name() + "', expected one of "
                    + names(kind));
        }
        for (String key : spec.options().keySet()) {
            if (!f.optionNames().contains(key)) {
                throw new IllegalArgumentException("Miras " + what + " '" + spec.name() + "': unknown option '" + key
                        + "', expected one of " + f.optionNames());
            }
        }
        Object c = f.create(spec.options());
        if (!kind.type().isInstance(c)) {
            throw new IllegalStateException("factory " + f.getClass().getName() + " for " + what + " '" + spec.name()
                    + "' returned " + (c == null ? "null" : c.getClass().getName()) + ", expected a "
                    + kind.type().getSimpleName());
        }
        return c;
    }

    public static MemoryArchitecture architecture(Spec spec) {
        return (MemoryArchitecture) create(Kind.ARCHITECTURE, spec);
    }

    public static AttentionalBias bias(Spec spec) {
        return (AttentionalBias) create(Kind.BIAS, spec);
    }

    public static RetentionGate retention(Spec spec) {
        return (RetentionGate) create(Kind.RETENTION, spec);
    }

    public static UpdateRule rule(Spec spec) {
        return (UpdateRule) create(Kind.RULE, spec);
    }

    /** A config from the four named choices. */
    public static MirasConfig config(Spec architecture, Spec bias, Spec retention, Spec rule, int chunkSize) {
        return new MirasConfig(architecture(architecture), bias(bias), retention(retention), rule(rule), chunkSize,
                false);
    }

    /** A number option (or its default). */
    public static double number(Map<String, ?> o, String key, double dflt) {
        Object v = o.get(key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        if (v instanceof String s) {
            try {
                return Double.parseDouble(s);
            } catch (NumberFormatException e) {
                // fall through to the message
            }
        }
        throw new IllegalArgumentException("option '" + key + "' must be a number, got " + v);
    }

    /** A string option (or its default). */
    public static String string(Map<String, ?> o, String key, String dflt) {
        Object v = o.get(key);
        return v == null ? dflt : v.toString();
    }

    private static int integer(Map<String, ?> o, String key, int dflt) {
        double d = number(o, key, dflt);
        if (d != Math.rint(d)) {
            throw new IllegalArgumentException("option '" + key + "' must be an integer, got " + d);
        }
        return (int) d;
    }

    private record Builtin(Kind kind, String name, List<String> optionNames, Function<Map<String, ?>, Object> make)
            implements MirasComponentFactory {
        @Override
        public Object create(Map<String, ?> options) {
            return make.apply(options);
        }
    }

    private static List<MirasComponentFactory> builtIns() {
        List<MirasComponentFactory> l = new ArrayList<>();
        l.add(new Builtin(Kind.ARCHITECTURE, "linear", List.of(), o -> new MemoryArchitecture.Linear()));
        l.add(new Builtin(Kind.ARCHITECTURE, "mlp", List.of("expansion", "activation"),
                o -> new MemoryArchitecture.Mlp(integer(o, "expansion", 4), activation(string(o, "activation", "silu")))));
        l.add(new Builtin(Kind.BIAS, "dot", List.of(), o -> new AttentionalBias.Dot()));
        l.add(new Builtin(Kind.BIAS, "l2", List.of(), o -> new AttentionalBias.L2()));
        l.add(new Builtin(Kind.BIAS, "lp", List.of("p", "eps"),
                o -> new AttentionalBias.Lp(number(o, "p", 3), number(o, "eps", 1e-6))));
        l.add(new Builtin(Kind.BIAS, "huber", List.of("mode", "delta"), o -> {
            AttentionalBias.Huber.Mode mode = switch (string(o, "mode", "coordinate")) {
                case "coordinate" -> AttentionalBias.Huber.Mode.COORDINATE;
                case "norm" -> AttentionalBias.Huber.Mode.NORM;
                default -> throw new IllegalArgumentException("huber option 'mode' must be coordinate or norm, got "
                        + o.get("mode"));
            };
            Object d = o.get("delta");
            return d == null || "token".equals(d) ? AttentionalBias.Huber.perToken(mode)
                    : AttentionalBias.Huber.fixed(mode, number(o, "delta", 1));
        }));
        l.add(new Builtin(Kind.BIAS, "value-shift", List.of("shift", "eps"),
                o -> new AttentionalBias.ValueShift(number(o, "shift", 0.1), number(o, "eps", 1e-6))));
        l.add(new Builtin(Kind.RETENTION, "none", List.of(), o -> new RetentionGate.None()));
        l.add(new Builtin(Kind.RETENTION, "l2-prev", List.of(), o -> new RetentionGate.L2Prev()));
        l.add(new Builtin(Kind.RETENTION, "scalar-decay", List.of(), o -> new RetentionGate.ScalarDecay()));
        l.add(new Builtin(Kind.RETENTION, "vector-decay", List.of(), o -> new RetentionGate.VectorDecay()));
        l.add(new Builtin(Kind.RETENTION, "elastic-net", List.of("lambda", "tau"),
                o -> new RetentionGate.ElasticNet(number(o, "lambda", 0.01), number(o, "tau", 0.01))));
        l.add(new Builtin(Kind.RETENTION, "lq", List.of("q", "eps"),
                o -> new RetentionGate.Lq(number(o, "q", 4), number(o, "eps", 1e-6))));
        l.add(new Builtin(Kind.RETENTION, "kl", List.of("scale"), o -> new RetentionGate.Kl(number(o, "scale", 1))));
        l.add(new Builtin(Kind.RULE, "gd", List.of(), o -> new UpdateRule.Gd()));
        l.add(new Builtin(Kind.RULE, "momentum", List.of(), o -> new UpdateRule.Momentum()));
        return l;
    }

    private static TitansActivation activation(String s) {
        return switch (s) {
            case "silu" -> TitansActivation.SILU;
            case "gelu_tanh", "gelu" -> TitansActivation.GELU_TANH;
            default -> throw new IllegalArgumentException("mlp option 'activation' must be silu or gelu_tanh, got " + s);
        };
    }
}
