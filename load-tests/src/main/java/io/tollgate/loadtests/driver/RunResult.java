package io.tollgate.loadtests.driver;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import org.HdrHistogram.Histogram;

/** The outcome of one run: a text summary, a JSON summary and HdrHistogram percentile distributions. */
public final class RunResult {

  private final DriverOptions options;
  private final Recorder recorder;
  private final double seconds;

  RunResult(DriverOptions options, Recorder recorder, double seconds) {
    this.options = options;
    this.recorder = recorder;
    this.seconds = seconds;
  }

  public long requests() {
    return recorder.measured;
  }

  public double throughput() {
    return recorder.measured / seconds;
  }

  public long errorCount() {
    return recorder.errorCount();
  }

  public Map<String, Long> errors() {
    return Map.copyOf(recorder.errors);
  }

  public Map<String, Long> allStatuses() {
    return Map.copyOf(recorder.allStatuses);
  }

  /** The human-readable summary printed after a run. */
  public String summary() {
    StringBuilder s = new StringBuilder();
    s.append(String.format(Locale.ROOT, "run %s: scenario %s -> %s%n", options.name(), options.scenario().label(), options.url()));
    s.append(String.format(Locale.ROOT, "  mode %s, %d connections, warm-up %ds (excluded), measured %.1fs%n",
        options.modeLabel(), options.connections(), options.warmup().toSeconds(), seconds));
    s.append(String.format(Locale.ROOT, "  requests %d, throughput %.1f req/s%n", recorder.measured, throughput()));
    s.append(line(options.openLoop() ? "latency (ms, from due time)" : "latency (ms)", recorder.latency));
    if (options.openLoop()) {
      s.append(line("service time (ms, from send)", recorder.service));
    }
    if (recorder.firstChunk.getTotalCount() > 0) {
      s.append(line("time to first chunk (ms)", recorder.firstChunk));
    }
    s.append("  responses ").append(format(recorder.statuses)).append(System.lineSeparator());
    s.append("  errors ").append(errorCount()).append(recorder.errors.isEmpty() ? "" : " " + format(recorder.errors))
        .append(System.lineSeparator());
    return s.toString();
  }

  private static String line(String label, Histogram h) {
    return String.format(Locale.ROOT, "  %-30s p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f%n", label,
        ms(h.getValueAtPercentile(50)), ms(h.getValueAtPercentile(90)), ms(h.getValueAtPercentile(99)),
        ms(h.getValueAtPercentile(99.9)), ms(h.getMaxValue()), h.getMean() / 1000.0);
  }

  private static String format(Map<String, Long> counts) {
    if (counts.isEmpty()) {
      return "(none)";
    }
    StringBuilder s = new StringBuilder();
    counts.forEach((k, v) -> s.append(s.length() == 0 ? "" : ", ").append(k).append('=').append(v));
    return s.toString();
  }

  private static double ms(long micros) {
    return micros / 1000.0;
  }

  public JsonObject toJson() {
    JsonObject json = new JsonObject()
        .put("name", options.name())
        .put("scenario", options.scenario().label())
        .put("url", options.url().toString())
        .put("mode", options.openLoop() ? "open" : "closed")
        .put("rate", options.rate())
        .put("connections", options.connections())
        .put("warmupSeconds", options.warmup().toSeconds())
        .put("measuredSeconds", seconds)
        .put("keys", options.keys().size())
        .put("bodyBytes", options.scenario().body(options.bodyBytes()).length())
        .put("requests", recorder.measured)
        .put("throughput", throughput())
        .put("latencyMs", percentiles(recorder.latency))
        .put("serviceMs", percentiles(recorder.service))
        .put("statuses", new JsonObject(Map.copyOf(recorder.statuses)))
        .put("errors", new JsonObject(Map.copyOf(recorder.errors)))
        .put("errorCount", errorCount())
        .put("allStatuses", new JsonObject(Map.copyOf(recorder.allStatuses)));
    if (recorder.firstChunk.getTotalCount() > 0) {
      json.put("firstChunkMs", percentiles(recorder.firstChunk));
    }
    return json;
  }

  private static JsonObject percentiles(Histogram h) {
    return new JsonObject().put("p50", ms(h.getValueAtPercentile(50))).put("p90", ms(h.getValueAtPercentile(90)))
        .put("p99", ms(h.getValueAtPercentile(99))).put("p999", ms(h.getValueAtPercentile(99.9)))
        .put("max", ms(h.getMaxValue())).put("mean", h.getMean() / 1000.0).put("count", h.getTotalCount());
  }

  /** Writes NAME.json and NAME.hgrm (plus NAME-ttfc.hgrm for SSE) into {@code dir}; values in milliseconds. */
  public void write(Path dir) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve(options.name() + ".json"), toJson().encodePrettily());
    writeDistribution(dir.resolve(options.name() + ".hgrm"), recorder.latency);
    if (recorder.firstChunk.getTotalCount() > 0) {
      writeDistribution(dir.resolve(options.name() + "-ttfc.hgrm"), recorder.firstChunk);
    }
  }

  private static void writeDistribution(Path file, Histogram h) throws IOException {
    try (PrintStream out = new PrintStream(Files.newOutputStream(file), false, StandardCharsets.UTF_8)) {
      h.outputPercentileDistribution(out, 1000.0);
    }
  }
}
