package io.tollgate.gateway.proxy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * The proxy's own meters, per route. Labels are bounded: the route prefix (from config), the
 * status class and a failure code from a fixed set — never a key, path or account.
 */
final class ProxyMetrics {

  private final MeterRegistry registry;
  private final String route;
  private final Counter[] byStatusClass = new Counter[6];
  private final Timer upstreamLatency;
  private final Timer overhead;
  private final ConcurrentMap<String, Counter> failures = new ConcurrentHashMap<>();
  private final Counter abortsBeforeResponse;
  private final Counter abortsDuringBody;

  ProxyMetrics(MeterRegistry registry, String route) {
    this.registry = registry;
    this.route = route;
    for (int i = 1; i <= 5; i++) {
      byStatusClass[i] = Counter.builder("tollgate_proxy_responses")
          .description("Responses sent to clients on proxy routes, by status class")
          .tag("route", route).tag("status", i + "xx").register(registry);
    }
    upstreamLatency = Timer.builder("tollgate_upstream_response_time")
        .description("Time from forwarding a request to receiving the upstream's response headers")
        .tag("route", route)
        .publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(120))
        .register(registry);
    overhead = Timer.builder("tollgate_gateway_overhead")
        .description("Time the gateway adds to a request: arrival to forwarding, plus upstream response headers to client response headers")
        .tag("route", route)
        .publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofNanos(10_000)).maximumExpectedValue(Duration.ofSeconds(10))
        .register(registry);
    abortsBeforeResponse = clientAborts(registry, route, "before_response");
    abortsDuringBody = clientAborts(registry, route, "during_body");
  }

  private static Counter clientAborts(MeterRegistry registry, String route, String phase) {
    return Counter.builder("tollgate_proxy_client_aborts")
        .description("Requests whose client hung up before its response was complete, by phase; not upstream failures")
        .tag("route", route).tag("phase", phase).register(registry);
  }

  /** {@code before_response} or {@code during_body}. */
  void clientAbort(String phase) {
    (phase.equals("during_body") ? abortsDuringBody : abortsBeforeResponse).increment();
  }

  void overhead(long nanos) {
    overhead.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  void response(int status) {
    int cls = status / 100;
    if (cls >= 1 && cls <= 5) {
      byStatusClass[cls].increment();
    }
  }

  void upstreamLatency(long nanos) {
    upstreamLatency.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  void failure(String reason) {
    failures.computeIfAbsent(reason, r -> Counter.builder("tollgate_proxy_failures")
        .description("Requests that failed at the gateway or upstream, by reason")
        .tag("route", route).tag("reason", r).register(registry)).increment();
  }
}
