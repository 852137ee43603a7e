package io.tollgate.loadtests.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * Draws HdrHistogram percentile distributions (the {@code .hgrm} text HdrHistogram writes) as one
 * PNG: x is the percentile on the usual 1/(1-p) log scale, y the latency in ms on a log scale so a
 * 0.2 ms and a 200 ms series both stay readable. Headless AWT, no library.
 */
public final class PercentilePlot {

  /** One line of the plot: a label and its (percentile, latency ms) points. */
  public record Series(String label, List<double[]> points) {
  }

  private static final Color[] PALETTE = {
      new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c), new Color(0xd62728),
      new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f)};
  private static final int WIDTH = 960;
  private static final int HEIGHT = 540;
  private static final int LEFT = 80;
  private static final int RIGHT = 30;
  private static final int TOP = 50;
  private static final int BOTTOM = 60;
  private static final double MAX_X = 5; // 99.999 %

  private PercentilePlot() {
  }

  /** Reads the (percentile, value) pairs of an .hgrm file; values are in the unit it was written with. */
  public static Series read(String label, Path hgrm) throws IOException {
    List<double[]> points = new ArrayList<>();
    for (String line : Files.readAllLines(hgrm)) {
      String[] t = line.trim().split("\\s+");
      if (t.length != 4 || line.startsWith("#")) {
        continue;
      }
      try {
        double value = Double.parseDouble(t[0]);
        double percentile = Double.parseDouble(t[1]);
        if (percentile < 1.0) {
          points.add(new double[] {percentile, value});
        }
      } catch (NumberFormatException e) {
        // the header line ("Value Percentile TotalCount 1/(1-Percentile)")
      }
    }
    return new Series(label, points);
  }

  public static void write(String title, List<Series> series, Path png) throws IOException {
    System.setProperty("java.awt.headless", "true");
    BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, WIDTH, HEIGHT);

    double min = Double.MAX_VALUE;
    double max = 0;
    for (Series s : series) {
      for (double[] p : s.points()) {
        if (p[1] > 0) {
          min = Math.min(min, p[1]);
        }
        max = Math.max(max, p[1]);
      }
    }
    if (max <= 0) {
      min = 0.01;
      max = 1;
    }
    double lo = Math.floor(Math.log10(Math.max(min, 0.001)));
    double hi = Math.ceil(Math.log10(max));
    if (hi <= lo) {
      hi = lo + 1;
    }
    int plotW = WIDTH - LEFT - RIGHT;
    int plotH = HEIGHT - TOP - BOTTOM;

    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
    g.setColor(Color.BLACK);
    g.drawString(title, LEFT, 30);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));

    // Grid and axes.
    String[] xLabels = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"};
    for (int i = 0; i <= MAX_X; i++) {
      int x = LEFT + (int) (plotW * i / MAX_X);
      g.setColor(new Color(0xdddddd));
      g.drawLine(x, TOP, x, TOP + plotH);
      g.setColor(Color.DARK_GRAY);
      g.drawString(xLabels[i], i == MAX_X ? x - 50 : x - 15, TOP + plotH + 18);
    }
    for (double e = lo; e <= hi; e++) {
      int y = TOP + plotH - (int) (plotH * (e - lo) / (hi - lo));
      g.setColor(new Color(0xdddddd));
      g.drawLine(LEFT, y, LEFT + plotW, y);
      g.setColor(Color.DARK_GRAY);
      g.drawString(formatMs(Math.pow(10, e)), 8, y + 4);
    }
    g.setColor(Color.BLACK);
    g.drawRect(LEFT, TOP, plotW, plotH);
    g.drawString("percentile", LEFT + plotW / 2 - 30, HEIGHT - 15);
    g.drawString("latency (ms, log)", 8, TOP - 8);

    // Series.
    int legendY = TOP + 18;
    for (int i = 0; i < series.size(); i++) {
      Series s = series.get(i);
      Color color = PALETTE[i % PALETTE.length];
      Path2D path = new Path2D.Double();
      boolean first = true;
      for (double[] p : s.points()) {
        double xv = Math.min(MAX_X, -Math.log10(1 - p[0]));
        double yv = Math.log10(Math.max(p[1], Math.pow(10, lo)));
        double x = LEFT + plotW * xv / MAX_X;
        double y = TOP + plotH - plotH * (yv - lo) / (hi - lo);
        if (first) {
          path.moveTo(x, y);
          first = false;
        } else {
          path.lineTo(x, y);
        }
      }
      g.setColor(color);
      g.setStroke(new BasicStroke(2f));
      g.draw(path);
      g.fillRect(LEFT + 12, legendY - 9, 18, 4);
      g.setColor(Color.BLACK);
      g.drawString(s.label(), LEFT + 36, legendY - 4);
      legendY += 18;
    }
    g.dispose();
    Files.createDirectories(png.toAbsolutePath().getParent());
    ImageIO.write(image, "png", png.toFile());
  }

  private static String formatMs(double ms) {
    if (ms >= 1) {
      return String.format(Locale.ROOT, "%.0f ms", ms);
    }
    return String.format(Locale.ROOT, "%s ms", ms >= 0.1 ? "0.1" : ms >= 0.01 ? "0.01" : "0.001");
  }
}
