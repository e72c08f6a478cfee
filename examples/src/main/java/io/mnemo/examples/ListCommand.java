package io.mnemo.examples;

import io.mnemo.train.model.Mixers;
import io.mnemo.train.model.Presets;
import io.mnemo.train.tasks.Tasks;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code mnemo list}: mixers, model presets and tasks. */
@Command(name = "list", mixinStandardHelpOptions = true, description = "List mixers, model presets and tasks.")
final class ListCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--json", description = "print as JSON")
    boolean json;

    @Override
    public Integer call() throws Exception {
        PrintWriter o = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("mixers", Mixers.names());
            m.put("presets", Presets.names());
            m.put("tasks", Tasks.names());
            o.println(Runs.JSON.writeValueAsString(m));
            return 0;
        }
        o.println("mixers (MixerSpec.type in a config.json):");
        Mixers.names().forEach(n -> o.println("  " + n));
        o.println("model presets (--model):");
        for (String p : Presets.names()) {
            var c = Presets.create(p, 256);
            o.printf("  %-18s %d layers, d=%d, mixers %s%n", p, c.layers().size(), c.dModel(),
                    c.layers().stream().map(l -> l.type() + "/" + l.heads() + "h").toList());
        }
        o.println("tasks (--task, options with -o KEY=VALUE):");
        o.print(Tasks.list().indent(2));
        return 0;
    }
}
