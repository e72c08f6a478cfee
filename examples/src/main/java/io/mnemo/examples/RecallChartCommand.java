package io.mnemo.examples;

import io.mnemo.bench.recall.RecallSweep;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code mnemo recall-chart}: merges recall CSVs (from {@code recall-sweep} or {@code eval --csv}) into one
 * CSV and one chart of accuracy against length.
 */
@Command(name = "recall-chart", mixinStandardHelpOptions = true,
        description = {"Merge recall CSVs (recall-sweep's recall.csv, eval --csv) into one recall.csv and recall.png.",
            "Example: mnemo recall-chart --csv runs/a/recall.csv,runs/b/recall.csv --metric example --out runs/all"})
final class RecallChartCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--csv", required = true, split = ",", description = "recall CSV files, comma-separated")
    List<Path> csvs;

    @Option(names = "--out", required = true, description = "output directory (recall.csv, recall.png)")
    Path out;

    @Option(names = "--title", description = "chart title (default: the task and its options of the first point)")
    String title;

    @Option(names = "--metric", defaultValue = "token", description = "token (masked-token accuracy) or example "
            + "(examples entirely right: passkey, niah); default ${DEFAULT-VALUE}")
    String metric;

    @Override
    public Integer call() throws Exception {
        RecallSweep.Metric m = switch (metric.toLowerCase(Locale.ROOT)) {
            case "token" -> RecallSweep.Metric.TOKEN;
            case "example" -> RecallSweep.Metric.EXAMPLE;
            default -> throw new IllegalArgumentException("--metric must be token or example, got '" + metric + "'");
        };
        List<RecallSweep.Point> pts = new ArrayList<>();
        for (Path c : csvs) {
            if (!Files.isRegularFile(c)) {
                throw new IllegalArgumentException("--csv: no such file " + c);
            }
            pts.addAll(RecallSweep.readCsv(c));
        }
        if (pts.isEmpty()) {
            throw new IllegalArgumentException("the CSVs " + csvs + " hold no points");
        }
        String t = title != null ? title : pts.get(0).task().getOrDefault("task", "recall");
        RecallSweep.writeCsv(out.resolve("recall.csv"), pts);
        RecallSweep.writeChart(out.resolve("recall.png"), t, pts, m);
        PrintWriter o = spec.commandLine().getOut();
        o.printf(Locale.ROOT, "%d points from %d files -> %s, %s%n", pts.size(), csvs.size(),
                out.resolve("recall.csv"), out.resolve("recall.png"));
        return 0;
    }
}
