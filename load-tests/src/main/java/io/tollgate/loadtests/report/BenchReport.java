package io.tollgate.loadtests.report;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * Turns the raw outputs of {@code load-tests/bench.sh} (one directory: run summaries, .hgrm
 * distributions, usage counts, pipeline drain curves, JFR recordings, JMH results, machine facts)
 * into the Markdown report with its percentile plots.
 *
 * <p>{@code java -cp stub-upstream.jar io.tollgate.loadtests.report.BenchReport RAW_DIR REPORT.md}
 */
public final class BenchReport {

  static final Map<String, String> TARGETS = new LinkedHashMap<>();

  static {
    TARGETS.put("direct", "stub upstream, direct");
    TARGETS.put("nginx", "nginx reverse proxy");
    TARGETS.put("pass", "Tollgate pass-through");
    TARGETS.put("metered", "Tollgate fully metered");
  }

  private final Path raw;
  private final Path report;
  private final StringBuilder md = new StringBuilder();
  private final List<String[]> verdicts = new ArrayList<>();

  private BenchReport(Path raw, Path report) {
    this.raw = raw;
    this.report = report;
  }

  public static void main(String[] args) throws IOException {
    if (args.length != 2) {
      System.err.println("usage: BenchReport RAW_DIR REPORT.md");
      System.exit(2);
    }
    new BenchReport(Path.of(args[0]), Path.of(args[1])).write();
  }

  private void write() throws IOException {
    Map<String, String> meta = keyValues(raw.resolve("meta.txt"));
    StringBuilder body = new StringBuilder();
    md.setLength(0);
    comparison();
    scenarios();
    usage();
    pipeline();
    microbenchmarks();
    profiles();
    body.append(md);

    md.setLength(0);
    md.append("# Tollgate benchmark — ").append(meta.getOrDefault("date", "?")).append("\n\n");
    md.append("Produced by one command, from the repository root:\n\n```bash\n")
        .append(meta.getOrDefault("command", "load-tests/bench.sh")).append("\n```\n\n");
    md.append("Raw data (run summaries, `.hgrm` percentile distributions, JFR recordings, JMH JSON): [`")
        .append(raw.getFileName()).append("/`](").append(raw.getFileName()).append("/).\n\n");
    md.append("## Machine and placement\n\n| what | value |\n|---|---|\n");
    meta.forEach((k, v) -> {
      if (!k.equals("command") && !k.equals("date")) {
        md.append("| ").append(k).append(" | ").append(v.replace("|", "\\|")).append(" |\n");
      }
    });
    String busy = meta.getOrDefault("processes using ≥ 10 % CPU at start", "none");
    if (!busy.equals("none")) {
      md.append("\n**The machine was not idle** when the run started (").append(busy)
          .append("): other work shared the two cores, so the numbers below are lower and noisier than an idle machine would give.\n");
    }
    md.append("\n## Targets\n\n| target | measured | met |\n|---|---|---|\n");
    for (String[] v : verdicts) {
      md.append("| ").append(v[0]).append(" | ").append(v[1]).append(" | ").append(v[2]).append(" |\n");
    }
    md.append("\n");
    md.append(body);
    md.append(context());
    Files.writeString(report, md.toString());
    System.out.println("wrote " + report);
  }

  // ---- comparison: the same JSON chat load against the four targets

  private void comparison() throws IOException {
    md.append("## Comparison: JSON chat completions, same stub, same load\n\n");
    md.append("Latency in ms. Open-loop runs count latency from each request's due time (coordinated-omission corrected); ")
        .append("\"added\" is the target's percentile minus the direct run's at the same rate.\n\n");
    TreeSet<Integer> rates = new TreeSet<>();
    try (var files = Files.list(raw)) {
      files.map(p -> p.getFileName().toString()).filter(n -> n.matches("cmp-\\d+-\\w+\\.json"))
          .forEach(n -> rates.add(Integer.parseInt(n.split("-")[1])));
    }
    JsonObject nginxMax = run("cmp-max-nginx");
    JsonObject directMax = run("cmp-max-direct");
    if (nginxMax != null) {
      md.append("### Max throughput (closed loop)\n\n");
      md.append("| target | req/s | × nginx | p50 | p90 | p99 | p99.9 | max | added p50 | added p99 | errors |\n")
          .append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
      List<PercentilePlot.Series> series = new ArrayList<>();
      for (Map.Entry<String, String> t : TARGETS.entrySet()) {
        JsonObject r = run("cmp-max-" + t.getKey());
        if (r == null) {
          continue;
        }
        double ratio = r.getDouble("throughput") / nginxMax.getDouble("throughput");
        JsonObject l = r.getJsonObject("latencyMs");
        md.append(String.format(Locale.ROOT, "| %s | %.0f | %.2f | %s | %s | %s | %s | %s | %s | %s | %s |%n", t.getValue(),
            r.getDouble("throughput"), ratio, f(l, "p50"), f(l, "p90"), f(l, "p99"), f(l, "p999"), f(l, "max"),
            added(r, directMax, "p50"), added(r, directMax, "p99"), errors(r)));
        series.add(PercentilePlot.read(t.getValue() + String.format(Locale.ROOT, " (%.0f req/s)", r.getDouble("throughput")),
            raw.resolve("cmp-max-" + t.getKey() + ".hgrm")));
        if (t.getKey().equals("metered")) {
          verdict("fully metered ≥ 50 % of nginx's max throughput", String.format(Locale.ROOT, "%.0f %%", ratio * 100), ratio >= 0.5);
        }
        if (t.getKey().equals("pass")) {
          verdict("pass-through ≥ 80 % of nginx's max throughput", String.format(Locale.ROOT, "%.0f %%", ratio * 100), ratio >= 0.8);
        }
      }
      md.append(String.format(Locale.ROOT, "%n%d connections, one closed-loop user per connection.%n%n",
          nginxMax.getInteger("connections")));
      plot("cmp-max", "JSON chat, max throughput (closed loop)", series);
    }
    for (int rate : rates) {
      JsonObject direct = run("cmp-" + rate + "-direct");
      md.append(String.format(Locale.ROOT, "### Fixed rate %,d req/s (open loop)%n%n", rate));
      md.append("| target | achieved req/s | p50 | p90 | p99 | p99.9 | max | added p50 | added p99 | errors |\n")
          .append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
      List<PercentilePlot.Series> series = new ArrayList<>();
      for (Map.Entry<String, String> t : TARGETS.entrySet()) {
        JsonObject r = run("cmp-" + rate + "-" + t.getKey());
        if (r == null) {
          continue;
        }
        JsonObject l = r.getJsonObject("latencyMs");
        md.append(String.format(Locale.ROOT, "| %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s |%n", t.getValue(),
            r.getDouble("throughput"), f(l, "p50"), f(l, "p90"), f(l, "p99"), f(l, "p999"), f(l, "max"),
            added(r, direct, "p50"), added(r, direct, "p99"), errors(r)));
        series.add(PercentilePlot.read(t.getValue(), raw.resolve("cmp-" + rate + "-" + t.getKey() + ".hgrm")));
        if (rate == 1000 && t.getKey().equals("metered") && direct != null) {
          double p50 = diff(r, direct, "p50");
          double p99 = diff(r, direct, "p99");
          verdict("at 1,000 req/s metered Tollgate adds ≤ 1 ms p50 over direct", String.format(Locale.ROOT, "%+.3f ms", p50), p50 <= 1.0);
          verdict("at 1,000 req/s metered Tollgate adds ≤ 3 ms p99 over direct", String.format(Locale.ROOT, "%+.3f ms", p99), p99 <= 3.0);
        }
      }
      md.append("\n");
      plot("cmp-" + rate, String.format(Locale.ROOT, "JSON chat at %,d req/s (open loop, from due time)", rate), series);
    }
  }

  // ---- scenarios

  private void scenarios() throws IOException {
    List<String> names = new ArrayList<>();
    try (var files = Files.list(raw)) {
      files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("scn-") && n.endsWith(".json")).sorted()
          .forEach(n -> names.add(n.substring(0, n.length() - 5)));
    }
    if (names.isEmpty()) {
      return;
    }
    md.append("## Scenarios\n\n");
    md.append("| run | scenario | target | load | keys | body bytes | req/s | p50 | p99 | p99.9 | max | first chunk p50 / p99 | responses | errors |\n")
        .append("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|\n");
    Map<String, List<PercentilePlot.Series>> plots = new LinkedHashMap<>();
    for (String name : names) {
      JsonObject r = run(name);
      String target = name.substring(name.lastIndexOf('-') + 1);
      String scenario = r.getString("scenario");
      JsonObject l = r.getJsonObject("latencyMs");
      JsonObject ttfc = r.getJsonObject("firstChunkMs");
      String load = r.getString("mode").equals("open") ? String.format(Locale.ROOT, "%,d req/s open", r.getInteger("rate"))
          : r.getInteger("connections") + " users closed";
      md.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %d | %d | %.0f | %s | %s | %s | %s | %s | %s | %s |%n", name, scenario,
          TARGETS.getOrDefault(target, target), load, r.getInteger("keys"), r.getInteger("bodyBytes"), r.getDouble("throughput"),
          f(l, "p50"), f(l, "p99"), f(l, "p999"), f(l, "max"), ttfc == null ? "—" : f(ttfc, "p50") + " / " + f(ttfc, "p99"),
          counts(r.getJsonObject("statuses")), errors(r)));
      List<PercentilePlot.Series> series = plots.computeIfAbsent(scenario, s -> new ArrayList<>());
      series.add(PercentilePlot.read(TARGETS.getOrDefault(target, target) + (ttfc == null ? "" : ", total"), raw.resolve(name + ".hgrm")));
      if (ttfc != null) {
        series.add(PercentilePlot.read(TARGETS.getOrDefault(target, target) + ", first chunk", raw.resolve(name + "-ttfc.hgrm")));
      }
    }
    md.append("\n");
    for (Map.Entry<String, List<PercentilePlot.Series>> p : plots.entrySet()) {
      plot("scn-" + p.getKey(), "Scenario " + p.getKey(), p.getValue());
    }
    Map<String, String> delay = keyValues(raw.resolve("settle-to-row.txt"));
    if (!delay.isEmpty()) {
      md.append("**Settle-to-row delay** under sustained load (run `").append(delay.getOrDefault("run", "?"))
          .append("`): from the settle script's timestamp (`occurred_at`) to the statement that inserts the row, per event, ")
          .append("recorded by a statement-level trigger on `usage_event_ids` that exists only in the benchmark database and only during that run. ")
          .append("Events: ").append(delay.getOrDefault("count", "?")).append("; ms: p50 ").append(delay.getOrDefault("p50", "?"))
          .append(", p90 ").append(delay.getOrDefault("p90", "?")).append(", p99 ").append(delay.getOrDefault("p99", "?"))
          .append(", p99.9 ").append(delay.getOrDefault("p999", "?")).append(", max ").append(delay.getOrDefault("max", "?"))
          .append(" (flush interval ").append(delay.getOrDefault("flushIntervalMs", "?")).append(" ms).\n\n");
    }
  }

  // ---- usage accounting

  private void usage() throws IOException {
    List<String> names = new ArrayList<>();
    try (var files = Files.list(raw)) {
      files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".usage.txt")).sorted()
          .forEach(n -> names.add(n.substring(0, n.length() - ".usage.txt".length())));
    }
    if (names.isEmpty()) {
      return;
    }
    md.append("## Usage accounting in every metered run\n\n");
    md.append("Admitted = the gateway's `tollgate_admission_decisions_total{decision=\"allowed\"}` over the run (warm-up included); ")
        .append("2xx = what the driver received over the run (warm-up included); rows = new `usage_event_ids` rows once the streams drained. ")
        .append("Lost = admitted − rows.\n\n");
    md.append("| run | admitted | 2xx at the driver | driver errors | rows in Postgres | lost | drained after |\n|---|---:|---:|---:|---:|---:|---:|\n");
    boolean allGood = true;
    long totalRows = 0;
    for (String name : names) {
      Map<String, String> u = keyValues(raw.resolve(name + ".usage.txt"));
      JsonObject r = run(name);
      long admitted = Long.parseLong(u.get("admittedAfter")) - Long.parseLong(u.get("admittedBefore"));
      long rows = Long.parseLong(u.get("rowsAfter")) - Long.parseLong(u.get("rowsBefore"));
      long ok = 0;
      if (r != null) {
        for (Map.Entry<String, Object> e : r.getJsonObject("allStatuses")) {
          if (e.getKey().startsWith("2")) {
            ok += ((Number) e.getValue()).longValue();
          }
        }
      }
      long errs = r == null ? -1 : r.getLong("errorCount");
      allGood &= admitted == rows && ok == admitted && errs == 0;
      totalRows += rows;
      md.append(String.format(Locale.ROOT, "| %s | %d | %d | %d | %d | %d | %s ms |%n", name, admitted, ok, errs, rows, admitted - rows,
          u.getOrDefault("drainMs", "?")));
    }
    md.append("\n");
    verdict("zero errors and zero lost usage events in every metered run",
        String.format(Locale.ROOT, "%d runs, %,d events", names.size(), totalRows), allGood);
  }

  // ---- stream → Postgres

  private void pipeline() throws IOException {
    List<Path> curves = new ArrayList<>();
    try (var files = Files.list(raw)) {
      files.filter(p -> p.getFileName().toString().matches("pipeline-\\d+\\.csv")).sorted().forEach(curves::add);
    }
    if (curves.isEmpty()) {
      return;
    }
    md.append("## Metering pipeline: Redis streams → Postgres\n\n");
    md.append("The gateway is stopped, the 16 shard streams are filled with usage events in the settle script's format, ")
        .append("then the gateway starts and its `UsageStreamConsumer` drains them (no proxy traffic). ")
        .append("Backlog = the streams' total length (stored entries are deleted), sampled every 100 ms; ")
        .append("the rate is taken between 90 % and 10 % of the backlog left, so start-up and the tail are excluded.\n\n");
    md.append("| flushBatchSize | events | drain time (90 %→10 %) | events/s |\n|---:|---:|---:|---:|\n");
    double best = 0;
    for (Path csv : curves) {
      String batch = csv.getFileName().toString().replaceAll("\\D", "");
      List<long[]> points = new ArrayList<>();
      for (String line : Files.readAllLines(csv)) {
        String[] t = line.split(",");
        if (t.length == 2 && t[0].matches("\\d+")) {
          points.add(new long[] {Long.parseLong(t[0]), Long.parseLong(t[1])});
        }
      }
      long total = points.stream().mapToLong(p -> p[1]).max().orElse(0);
      long t90 = -1;
      long t10 = -1;
      long b90 = 0;
      long b10 = 0;
      for (long[] p : points) {
        if (t90 < 0 && p[1] <= total * 0.9) {
          t90 = p[0];
          b90 = p[1];
        }
        if (t10 < 0 && p[1] <= total * 0.1) {
          t10 = p[0];
          b10 = p[1];
        }
      }
      double rate = t10 > t90 && t90 >= 0 ? (b90 - b10) / ((t10 - t90) / 1000.0) : 0;
      best = Math.max(best, rate);
      md.append(String.format(Locale.ROOT, "| %s | %,d | %s | %,.0f |%n", batch, total,
          t10 > t90 ? (t10 - t90) + " ms" : "n/a", rate));
    }
    md.append("\n");
    verdict("stream → Postgres ≥ 50k events/s", String.format(Locale.ROOT, "%,.0f events/s (best batch size)", best), best >= 50_000);
  }

  // ---- JMH

  private void microbenchmarks() throws IOException {
    Path file = raw.resolve("jmh.json");
    if (!Files.exists(file)) {
      return;
    }
    JsonArray results = new JsonArray(Files.readString(file));
    md.append("## Microbenchmarks (JMH): per-request hot-path pieces\n\n");
    md.append("| benchmark | params | mode | score | ± error | unit |\n|---|---|---|---:|---:|---|\n");
    for (Object o : results) {
      JsonObject b = (JsonObject) o;
      JsonObject primary = b.getJsonObject("primaryMetric");
      String name = b.getString("benchmark");
      name = name.substring(name.lastIndexOf('.', name.lastIndexOf('.') - 1) + 1);
      JsonObject params = b.getJsonObject("params");
      md.append(String.format(Locale.ROOT, "| `%s` | %s | %s | %,.1f | %,.1f | %s |%n", name, params == null ? "" : counts(params),
          b.getString("mode"), primary.getDouble("score"), primary.getDouble("scoreError"), primary.getString("scoreUnit")));
    }
    md.append("\n");
  }

  // ---- JFR

  private void profiles() throws IOException {
    for (String target : List.of("metered", "pass")) {
      Path jfr = raw.resolve("profile-" + target + ".jfr");
      if (!Files.exists(jfr)) {
        continue;
      }
      md.append("## Profile: ").append(TARGETS.get(target)).append(" at max throughput (JFR)\n\n");
      md.append("A separate closed-loop run with a JFR recording (`settings=profile`) of the gateway, not the measured one. ")
          .append("Recording: [`").append(raw.getFileName()).append("/profile-").append(target).append(".jfr`](")
          .append(raw.getFileName()).append("/profile-").append(target).append(".jfr).\n\n");
      md.append(JfrHotFrames.markdown(jfr, 20)).append("\n");
    }
  }

  private static String context() {
    return """
        ## What the field publishes (context, not measured here)

        | system | published figure | setting |
        |---|---|---|
        | Kong 3.11, key-auth + rate limiting (local limiter) | ≈ 6k req/s per vCPU, p99 9.2 ms | vendor benchmark |
        | Helicone AI gateway (Rust) | 3k req/s on 2 vCPU, 0.3–0.5 ms overhead | vendor benchmark |
        | LiteLLM proxy | overhead p50 2 ms / p99 13 ms at ~1.2k req/s | 16 CPUs |
        | Lago, Postgres-only event ingestion | 10k events/s | vendor write-up |

        These come from other machines, loads and feature sets; they place our numbers, they do not rank them.
        """;
  }

  // ---- helpers

  private void plot(String file, String title, List<PercentilePlot.Series> series) throws IOException {
    if (series.isEmpty()) {
      return;
    }
    Path png = raw.resolve(file + ".png");
    PercentilePlot.write(title, series, png);
    md.append("![").append(title).append("](").append(raw.getFileName()).append('/').append(file).append(".png)\n\n");
  }

  private void verdict(String target, String measured, boolean met) {
    verdicts.add(new String[] {target, measured, met ? "yes" : "**no**"});
  }

  private JsonObject run(String name) throws IOException {
    Path file = raw.resolve(name + ".json");
    return Files.exists(file) ? new JsonObject(Files.readString(file)) : null;
  }

  private static Map<String, String> keyValues(Path file) throws IOException {
    Map<String, String> out = new LinkedHashMap<>();
    if (!Files.exists(file)) {
      return out;
    }
    for (String line : Files.readAllLines(file)) {
      int colon = line.indexOf('=');
      if (colon > 0) {
        out.put(line.substring(0, colon).trim(), line.substring(colon + 1).trim());
      }
    }
    return out;
  }

  private static String f(JsonObject l, String key) {
    return String.format(Locale.ROOT, "%.3f", l.getDouble(key));
  }

  private static double diff(JsonObject r, JsonObject base, String p) {
    return r.getJsonObject("latencyMs").getDouble(p) - base.getJsonObject("latencyMs").getDouble(p);
  }

  private static String added(JsonObject r, JsonObject base, String p) {
    return base == null ? "—" : String.format(Locale.ROOT, "%+.3f", diff(r, base, p));
  }

  private static String errors(JsonObject r) {
    long n = r.getLong("errorCount");
    return n == 0 ? "0" : n + " (" + counts(r.getJsonObject("errors")) + ")";
  }

  private static String counts(JsonObject o) {
    StringBuilder s = new StringBuilder();
    for (Map.Entry<String, Object> e : o) {
      s.append(s.length() == 0 ? "" : ", ").append(e.getKey()).append('=').append(e.getValue());
    }
    return s.length() == 0 ? "—" : s.toString();
  }
}
