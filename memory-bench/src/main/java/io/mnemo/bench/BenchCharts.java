package io.mnemo.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** PNG charts of the report, drawn with XChart (headless). */
public final class BenchCharts {
    private BenchCharts() {}

    /**
     * A line: x values with their y values.
     *
     * @param name legend entry
     * @param x sequence lengths
     * @param y microseconds per token per head
     * @param flat a T-independent cost (a step) drawn as a dashed line without markers
     */
    public record Series(String name, List<Double> x, List<Double> y, boolean flat) {}

    /** µs per token per head against T, log-x; log-y when the series span more than 20×. */
    public static void costPerToken(Path png, String title, List<Series> series) throws IOException {
        costPerToken(png, title, "µs per token per head", series);
    }

    /** Cost against T with the y axis titled {@code yTitle}, log-x; log-y when the series span more than 20×. */
    public static void costPerToken(Path png, String title, String yTitle, List<Series> series) throws IOException {
        headless();
        XYChart chart = new XYChartBuilder().width(820).height(500).title(title).xAxisTitle("T (tokens, log scale)")
                .yAxisTitle(yTitle).build();
        chart.getStyler().setXAxisLogarithmic(true);
        chart.getStyler().setXAxisDecimalPattern("#,###");
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        chart.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        double min = Double.POSITIVE_INFINITY;
        double max = 0;
        for (Series s : series) {
            for (double v : s.y()) {
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
        }
        if (max > 20 * min) {
            chart.getStyler().setYAxisLogarithmic(true);
        }
        for (Series s : series) {
            if (s.x().isEmpty()) {
                continue;
            }
            XYSeries xs = chart.addSeries(s.name(), new ArrayList<>(s.x()), new ArrayList<>(s.y()));
            if (s.flat()) {
                xs.setMarker(SeriesMarkers.NONE);
                xs.setLineStyle(new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f,
                        new float[] {6f, 4f}, 0f));
            }
        }
        save(chart, png);
    }

    /** sgemm GFLOP/s per shape, one bar series per OPENBLAS_CORETYPE. */
    public static void sgemm(Path png, List<String> shapes, List<String> labels, List<List<Double>> gflops)
            throws IOException {
        headless();
        CategoryChart chart = new CategoryChartBuilder().width(820).height(460)
                .title("ND4J mmul (FLOAT) per OPENBLAS_CORETYPE").xAxisTitle("shape (N = N×N·N×N; MxKxN)")
                .yAxisTitle("GFLOP/s").build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        chart.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        for (int i = 0; i < labels.size(); i++) {
            List<Double> ys = new ArrayList<>();
            for (Double v : gflops.get(i)) {
                ys.add(v == null || Double.isNaN(v) ? 0.0 : v);
            }
            chart.addSeries(labels.get(i), new ArrayList<>(shapes), ys);
        }
        save(chart, png);
    }

    private static void save(Chart<?, ?> chart, Path png) throws IOException {
        Files.createDirectories(png.toAbsolutePath().getParent());
        try (OutputStream out = Files.newOutputStream(png)) {
            BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
        }
    }

    /** Charts render off-screen; a runner on a server has no display. */
    private static void headless() {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }
}
