package io.tollgate.gateway.console;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The numbers an operator checks first, read from this instance's metrics registry (the same
 * meters as {@code /metrics}): requests per second, admission decisions, upstream latency, the
 * usage flush backlog, the Stripe sync and webhook state. The page refreshes its numbers every
 * few seconds with htmx.
 */
final class OverviewPage {

  private record Sample(long atNanos, double requests) {
  }

  private final Console console;
  private final MeterRegistry registry;
  private final AtomicReference<Sample> last = new AtomicReference<>();

  OverviewPage(Console console, MeterRegistry registry) {
    this.console = console;
    this.registry = registry;
  }

  void mount(Router router) {
    router.get("/console/overview").handler(this::page);
  }

  private void page(RoutingContext ctx) {
    List<View.Stat> stats = stats();
    console.chrome(ctx, "Overview", "overview")
        .onSuccess(chrome -> console.render(ctx, 200, "overview.jte", new View.Overview(chrome, stats)))
        .onFailure(err -> console.fail(ctx, err));
  }

  List<View.Stat> stats() {
    List<View.Stat> out = new ArrayList<>();
    double requests = registry.find("tollgate_proxy_responses").counters().stream().mapToDouble(Counter::count).sum();
    long now = System.nanoTime();
    Sample previous = last.getAndSet(new Sample(now, requests));
    String rate = "—";
    if (previous != null && now - previous.atNanos() > 500_000_000L) {
      rate = number((requests - previous.requests()) / ((now - previous.atNanos()) / 1e9), 1);
    }
    out.add(new View.Stat("Requests per second", rate, "proxy responses on this instance, since the last refresh"));
    out.add(new View.Stat("Requests served", number(requests, 0), "since this instance started"));
    Map<String, Double> decisions = new TreeMap<>();
    registry.find("tollgate_admission_decisions").counters()
        .forEach(c -> decisions.merge(c.getId().getTag("decision"), c.count(), Double::sum));
    if (decisions.isEmpty()) {
      out.add(new View.Stat("Admission decisions", "none yet", "no metered request since this instance started"));
    } else {
      decisions.forEach((decision, count) -> out.add(new View.Stat("Admission: " + decision, number(count, 0), "since start")));
    }
    long calls = 0;
    double totalMs = 0;
    double maxMs = 0;
    for (Timer t : registry.find("tollgate_upstream_response_time").timers()) {
      calls += t.count();
      totalMs += t.totalTime(TimeUnit.MILLISECONDS);
      maxMs = Math.max(maxMs, t.max(TimeUnit.MILLISECONDS));
    }
    out.add(new View.Stat("Upstream latency (mean)", calls == 0 ? "—" : number(totalMs / calls, 1) + " ms",
        calls == 0 ? "no upstream response yet" : "max " + number(maxMs, 1) + " ms recently"));
    out.add(gauge("tollgate_usage_stream_backlog", "Usage flush backlog", "usage events in Redis not yet stored in Postgres", ""));
    out.add(gauge("tollgate_stripe_outbox_pending", "Stripe outbox pending", "usage rows waiting to be sent to Stripe", ""));
    out.add(gauge("tollgate_stripe_sync_lag", "Stripe sync lag", "age of the oldest unsent row", " s"));
    out.add(gauge("tollgate_stripe_dead_letters", "Stripe dead letters", "batches Stripe refused for good: see the admin API", ""));
    Gauge breaker = registry.find("tollgate_stripe_breaker_state").gauge();
    out.add(new View.Stat("Stripe circuit breaker", breaker == null ? "—" : switch ((int) breaker.value()) {
      case 0 -> "closed (healthy)";
      case 1 -> "open (calls paused)";
      case 2 -> "half-open (probing)";
      default -> "unknown";
    }, "opens when Stripe keeps failing"));
    out.add(gauge("tollgate_stripe_webhook_oldest_pending_seconds", "Oldest pending webhook", "age of the oldest Stripe event not yet applied", " s"));
    return out;
  }

  private View.Stat gauge(String name, String label, String hint, String unit) {
    double sum = 0;
    boolean any = false;
    for (Gauge g : registry.find(name).gauges()) {
      if (!Double.isNaN(g.value())) {
        sum += g.value();
        any = true;
      }
    }
    return new View.Stat(label, any ? number(sum, 0) + unit : "—", hint);
  }

  private static String number(double v, int decimals) {
    DecimalFormat f = new DecimalFormat(decimals == 0 ? "#,##0" : "#,##0.0", DecimalFormatSymbols.getInstance(Locale.ROOT));
    return f.format(v);
  }
}
