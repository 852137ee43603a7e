package io.tollgate.gateway.proxy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.List;
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

  /** The route label of requests no route matched (answered 404, or 400 before routing). */
  static final String UNROUTED = "none";
  /**
   * Registered at zero, so that rate() and increase() see the first of each after a restart: the
   * codes the gateway answers with on every route. Codes outside this list still count, from their first use.
   */
  private static final List<String> KNOWN_REASONS = List.of("missing_api_key", "invalid_api_key", "revoked_api_key",
      "expired_api_key", "too_many_failed_authentications", "insufficient_credits", "account_inactive", "route_not_allowed",
      "model_not_allowed", "key_requests_per_minute", "key_tokens_per_minute", "account_requests_per_minute",
      "account_tokens_per_minute", "metering_unavailable", "invalid_path", "invalid_content_length", "request_too_large",
      "upstream_unreachable", "upstream_connection_closed", "upstream_tls_error", "upstream_error", "upstream_timeout");

  private ProxyMetrics(MeterRegistry registry, String route, boolean routed) {
    this.registry = registry;
    this.route = route;
    for (int i = 1; i <= 5; i++) {
      byStatusClass[i] = Counter.builder("tollgate_proxy_responses")
          .description("Responses sent to clients on proxy routes, by status class")
          .tag("route", route).tag("status", i + "xx").register(registry);
    }
    for (String reason : routed ? KNOWN_REASONS : List.of("route_not_found", "invalid_path", "invalid_content_length")) {
      failureCounter(reason);
    }
    abortsBeforeResponse = clientAborts(registry, route, "before_response");
    abortsDuringBody = clientAborts(registry, route, "during_body");
    if (!routed) {
      upstreamLatency = null;
      overhead = null;
      return;
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

  /** Meters of one configured route. */
  ProxyMetrics(MeterRegistry registry, String route) {
    this(registry, route, true);
  }

  /** Responses and failures of requests that matched no route; they have no upstream to time. */
  static ProxyMetrics unrouted(MeterRegistry registry) {
    return new ProxyMetrics(registry, UNROUTED, false);
  }

  /** Counts one response the gateway sent, and its error code if the gateway answered it itself (else null). */
  void answered(int status, String failureCode) {
    response(status);
    if (failureCode != null) {
      failure(failureCode);
    }
  }

  void overhead(long nanos) {
    overhead.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  private void response(int status) {
    int cls = status / 100;
    if (cls >= 1 && cls <= 5) {
      byStatusClass[cls].increment();
    }
  }

  void upstreamLatency(long nanos) {
    upstreamLatency.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  private void failure(String reason) {
    failureCounter(reason).increment();
  }

  private Counter failureCounter(String reason) {
    return failures.computeIfAbsent(reason, r -> Counter.builder("tollgate_proxy_failures")
        .description("Requests the gateway answered with an error itself (refused, or the upstream failed), by code")
        .tag("route", route).tag("reason", r).register(registry));
  }
}
