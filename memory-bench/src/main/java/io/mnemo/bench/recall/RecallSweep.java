package io.mnemo.bench.recall;

import io.mnemo.train.Evaluator;
import io.mnemo.train.TrainConfig;
import io.mnemo.train.Trainer;
import io.mnemo.train.TrainingListener;
import io.mnemo.train.model.LanguageModel;
import io.mnemo.train.model.Loss;
import io.mnemo.train.model.ModelConfig;
import io.mnemo.train.model.ModelState;
import io.mnemo.train.model.Presets;
import io.mnemo.train.tasks.Batch;
import io.mnemo.train.tasks.Task;
import io.mnemo.train.tasks.Tasks;
import java.io.IOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The recall-versus-length harness: for each model and each length, train a fresh model on the task
 * at that length (Zoology's protocol for MQAR: K grows with T along {@link #mqarPairs}), then score it
 * on held-out batches; optionally also score one trained model at other lengths (length
 * generalisation). Results go to a CSV and a PNG chart side by side.
 */
public final class RecallSweep {
    private RecallSweep() {}

    /**
     * One measured point.
     *
     * @param model preset or config name
     * @param trainLength sequence length trained on
     * @param evalLength sequence length scored
     * @param task task options used for scoring (incl. name under "task")
     * @param accuracy masked-token accuracy
     * @param exampleAccuracy fraction of examples entirely right
     * @param loss mean held-out loss (nats per masked token)
     * @param trainSeconds wall time of the training run
     * @param tokensPerSecond training throughput
     */
    public record Point(String model, int trainLength, int evalLength, Map<String, String> task, double accuracy,
            double exampleAccuracy, double loss, double trainSeconds, double tokensPerSecond) {}

    /** Zoology's MQAR grid: K = 4, 8, 16, 64 at T = 64, 128, 256, 512; T/16 (at least 1) elsewhere. */
    public static int mqarPairs(int seqLen) {
        return switch (seqLen) {
            case 64 -> 4;
            case 128 -> 8;
            case 256 -> 16;
            case 512 -> 64;
            default -> Math.max(1, seqLen / 16);
        };
    }

    /** Task options at a length: seqLen set, and for MQAR the grid's K unless the caller fixed pairs. */
    public static Map<String, String> optionsAt(String task, Map<String, String> base, int length) {
        Map<String, String> o = new LinkedHashMap<>(base);
        o.put("seqLen", Integer.toString(length));
        if (task.equals("mqar") && !base.containsKey("pairs")) {
            o.put("pairs", Integer.toString(mqarPairs(length)));
        }
        return o;
    }

    /**
     * Trains and scores every (model, length).
     *
     * @param evalLengths extra lengths to score each trained model at (may be empty)
     * @param listenerFor a progress listener per run (given a label), or null
     * @param csv where the points so far are written after every point (so a later failure loses
     *     nothing), or null
     */
    public static List<Point> run(List<String> models, String task, Map<String, String> base, List<Integer> lengths,
            List<Integer> evalLengths, TrainConfig cfg, int evalBatches, Function<String, TrainingListener> listenerFor,
            Path csv) throws IOException {
        // every task setting is checked before any training
        for (int len : lengths) {
            Map<String, String> opts = optionsAt(task, base, len);
            Tasks.create(task, opts);
            for (int el : evalLengths) {
                Map<String, String> eo = new LinkedHashMap<>(opts);
                eo.put("seqLen", Integer.toString(el));
                Tasks.create(task, eo);
            }
        }
        List<Point> out = new ArrayList<>();
        for (String model : models) {
            for (int len : lengths) {
                Map<String, String> opts = optionsAt(task, base, len);
                Task t = Tasks.create(task, opts);
                ModelConfig mc = Presets.resolve(model, t.vocabSize());
                LanguageModel m = new LanguageModel(mc);
                Trainer tr = new Trainer(m, t, opts, cfg, null);
                double[] tps = {Double.NaN};
                tr.addListener(new TrainingListener() {
                    @Override
                    public void onStep(StepReport r) {
                        tps[0] = r.tokensPerSecond();
                    }
                });
                if (listenerFor != null) {
                    tr.addListener(listenerFor.apply(model + " T=" + len + ": "));
                }
                long t0 = System.nanoTime();
                tr.run();
                double secs = (System.nanoTime() - t0) / 1e9;
                List<Integer> scoreAt = new ArrayList<>();
                scoreAt.add(len);
                evalLengths.stream().filter(l -> l != len).forEach(scoreAt::add);
                for (int el : scoreAt) {
                    Map<String, String> eo = new LinkedHashMap<>(opts);
                    eo.put("seqLen", Integer.toString(el));
                    Task et = Tasks.create(task, eo);
                    double[] s = score(m, et, evalBatches, cfg.batchSize());
                    Map<String, String> rec = new LinkedHashMap<>();
                    rec.put("task", task);
                    rec.putAll(eo);
                    out.add(new Point(model, len, el, rec, s[0], s[1], s[2], secs, tps[0]));
                    if (csv != null) {
                        writeCsv(csv, out);
                    }
                }
            }
        }
        return out;
    }

    /** Longest piece {@link #score} runs through the model at once; longer sequences go in pieces. */
    public static final int SCORE_SEGMENT = 2048;

    /** {token accuracy, example accuracy, loss} averaged over {@code batches} held-out batches. */
    public static double[] score(LanguageModel m, Task task, int batches, int batchSize) {
        return score(m, task, batches, batchSize, SCORE_SEGMENT);
    }

    /**
     * {token accuracy, example accuracy, loss} averaged over {@code batches} held-out batches. Sequences
     * longer than {@code segment} run through the model in pieces of at most {@code segment} tokens with
     * the state carried (exactly the same result as one pass, by the mixer contract, with memory bounded
     * by the segment instead of the sequence: logits of a 16K-token batch are never held at once).
     */
    public static double[] score(LanguageModel m, Task task, int batches, int batchSize, int segment) {
        if (batches <= 0 || batchSize <= 0 || segment <= 0) {
            throw new IllegalArgumentException("batches, batch size and segment must be > 0, got " + batches + ", "
                    + batchSize + " and " + segment);
        }
        double acc = 0;
        double ex = 0;
        double loss = 0;
        for (int i = 0; i < batches; i++) {
            Batch b = task.batch(Evaluator.EVAL_OFFSET + i, batchSize);
            int t = b.seqLen();
            List<INDArray> preds = new ArrayList<>();
            ModelState state = null;
            double lossSum = 0;
            long count = 0;
            for (int s0 = 0; s0 < t; s0 += segment) {
                int s1 = Math.min(t, s0 + segment);
                INDArrayIndex[] cols = {NDArrayIndex.all(), NDArrayIndex.interval(s0, s1)};
                LanguageModel.Output o = m.forward(b.inputs().get(cols).dup(), state, false);
                state = o.state();
                preds.add(Loss.argmax(o.logits()));
                Loss.Result r = Loss.crossEntropy(o.logits(), b.targets().get(cols).dup(), b.mask().get(cols).dup(),
                        false);
                lossSum += r.loss() * r.count();
                count += r.count();
            }
            INDArray pred = preds.size() == 1 ? preds.get(0) : Nd4j.concat(1, preds.toArray(new INDArray[0]));
            acc += Task.accuracy(b, pred);
            ex += Task.exampleAccuracy(b, pred);
            loss += count == 0 ? 0 : lossSum / count;
        }
        return new double[] {acc / batches, ex / batches, loss / batches};
    }

    /** Writes the points as CSV. */
    public static void writeCsv(Path csv, List<Point> points) throws IOException {
        Files.createDirectories(csv.toAbsolutePath().getParent());
        try (Writer w = Files.newBufferedWriter(csv)) {
            w.write("model,train_length,eval_length,task,accuracy,example_accuracy,loss,train_seconds,"
                    + "train_tokens_per_second\n");
            for (Point p : points) {
                w.write(String.format(Locale.ROOT, "%s,%d,%d,\"%s\",%.4f,%.4f,%.4f,%.1f,%.0f%n", p.model(), p.trainLength(),
                        p.evalLength(), p.task().toString().replace("\"", "'"), p.accuracy(), p.exampleAccuracy(),
                        p.loss(), p.trainSeconds(), p.tokensPerSecond()));
            }
        }
    }

    /**
     * Reads a CSV written by {@link #writeCsv} (several may be concatenated by reading each and joining
     * the lists).
     *
     * @throws IllegalArgumentException naming the file and line when a row does not have the format
     */
    public static List<Point> readCsv(Path csv) throws IOException {
        List<String> lines = Files.readAllLines(csv);
        if (lines.isEmpty() || !lines.get(0).startsWith("model,train_length,eval_length,task,")) {
            throw new IllegalArgumentException(csv + " is not a recall CSV: the header must start with "
                    + "'model,train_length,eval_length,task,', got '" + (lines.isEmpty() ? "" : lines.get(0)) + "'");
        }
        List<Point> out = new ArrayList<>();
        for (int i = 1; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank()) {
                continue;
            }
            int q0 = line.indexOf(",\"");
            int q1 = line.lastIndexOf("\",");
            String[] head = q0 < 0 ? new String[0] : line.substring(0, q0).split(",", -1);
            String[] tail = q1 < 0 ? new String[0] : line.substring(q1 + 2).split(",", -1);
            if (q0 < 0 || q1 <= q0 || head.length != 3 || tail.length != 5) {
                throw new IllegalArgumentException(csv + " line " + (i + 1) + ": expected model,train_length,"
                        + "eval_length,\"{task}\",accuracy,example_accuracy,loss,train_seconds,"
                        + "train_tokens_per_second, got '" + line + "'");
            }
            Map<String, String> task = new LinkedHashMap<>();
            String body = line.substring(q0 + 2, q1).trim();
            if (body.startsWith("{") && body.endsWith("}")) {
                body = body.substring(1, body.length() - 1);
            }
            for (String kv : body.split(", ")) {
                int eq = kv.indexOf('=');
                if (eq > 0) {
                    task.put(kv.substring(0, eq), kv.substring(eq + 1));
                }
            }
            try {
                out.add(new Point(head[0], Integer.parseInt(head[1]), Integer.parseInt(head[2]), task,
                        Double.parseDouble(tail[0]), Double.parseDouble(tail[1]), Double.parseDouble(tail[2]),
                        Double.parseDouble(tail[3]), Double.parseDouble(tail[4])));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(csv + " line " + (i + 1) + ": " + e.getMessage(), e);
            }
        }
        return out;
    }

    /** Which score a chart plots. */
    public enum Metric {
        /** Masked-token accuracy ({@link Point#accuracy}). */
        TOKEN,
        /** Fraction of examples entirely right ({@link Point#exampleAccuracy}), passkey's and NIAH's score. */
        EXAMPLE
    }

    /**
     * Token accuracy against length as PNG: one series per model for models trained at each length, and
     * one per (model, training length) for scores at other lengths.
     */
    public static void writeChart(Path png, String title, List<Point> points) throws IOException {
        writeChart(png, title, points, Metric.TOKEN);
    }

    /** As {@link #writeChart(Path, String, List)}, plotting {@code metric}. */
    public static void writeChart(Path png, String title, List<Point> points, Metric metric) throws IOException {
        XYChart chart = new XYChartBuilder().width(800).height(500).title(title).xAxisTitle("sequence length")
                .yAxisTitle(metric == Metric.TOKEN ? "token accuracy" : "examples entirely right").build();
        chart.getStyler().setXAxisLogarithmic(true);
        chart.getStyler().setYAxisMin(0.0);
        chart.getStyler().setYAxisMax(1.0);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        Map<String, List<Point>> series = new LinkedHashMap<>();
        boolean multiTrain = points.stream().map(Point::trainLength).distinct().count() > 1;
        for (Point p : points) {
            String key = p.trainLength() == p.evalLength() && multiTrain ? p.model() + " (trained at each length)"
                    : multiTrain ? p.model() + " trained at T=" + p.trainLength() : p.model() + " trained at T="
                    + p.trainLength();
            series.computeIfAbsent(key, k -> new ArrayList<>()).add(p);
        }
        for (Map.Entry<String, List<Point>> e : series.entrySet()) {
            List<Point> ps = new ArrayList<>(e.getValue());
            ps.sort(java.util.Comparator.comparingInt(Point::evalLength));
            double[] x = ps.stream().mapToDouble(Point::evalLength).toArray();
            double[] y = ps.stream().mapToDouble(metric == Metric.TOKEN ? Point::accuracy : Point::exampleAccuracy)
                    .toArray();
            chart.addSeries(e.getKey(), x, y).setMarker(SeriesMarkers.CIRCLE);
        }
        Files.createDirectories(png.toAbsolutePath().getParent());
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }
}
