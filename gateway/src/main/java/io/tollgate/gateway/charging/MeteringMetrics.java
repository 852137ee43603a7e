package io.tollgate.gateway.charging;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Admission outcomes (bounded labels: decision and reason codes), Redis script latency, settle
 * failures and estimated usage. "Dependency down" and "denied" are separate counters.
 */
public final class MeteringMetrics {

  private final MeterRegistry registry;
  /** decision → reason → counter: looked up on every request without building a key or a lambda. */
  private final ConcurrentHashMap<String, ConcurrentHashMap<String, Counter>> decisions = new ConcurrentHashMap<>();
  private final Timer admitLatency;
  private final Timer settleLatency;
  private final Counter unavailable;
  private final Counter settleFailures;
  private final Counter estimated;

  public MeteringMetrics(MeterRegistry registry) {
    this.registry = registry;
    this.admitLatency = Timer.builder("tollgate_redis_script_duration").tag("script", "admit")
        .description("Round trip of the hot path's Redis scripts").publishPercentileHistogram().register(registry);
    this.settleLatency = Timer.builder("tollgate_redis_script_duration").tag("script", "settle")
        .description("Round trip of the hot path's Redis scripts").publishPercentileHistogram().register(registry);
    this.unavailable = Counter.builder("tollgate_metering_unavailable")
        .description("Requests refused because Redis or Postgres could not be reached (fail closed)").register(registry);
    this.settleFailures = Counter.builder("tollgate_settle_failures")
        .description("Settlements that failed after retries; their reservation is refunded by the sweeper").register(registry);
    this.estimated = Counter.builder("tollgate_usage_estimated")
        .description("Usage events whose tokens were estimated because the upstream reported none").register(registry);
  }

  void decision(String decision, String reason) {
    ConcurrentHashMap<String, Counter> byReason = decisions.get(decision);
    if (byReason == null) {
      byReason = decisions.computeIfAbsent(decision, d -> new ConcurrentHashMap<>());
    }
    Counter counter = byReason.get(reason);
    if (counter == null) {
      counter = byReason.computeIfAbsent(reason, r -> Counter.builder("tollgate_admission_decisions")
          .description("Admission outcomes on the hot path").tag("decision", decision).tag("reason", r)
          .register(registry));
    }
    counter.increment();
  }

  void admitNanos(long nanos) {
    admitLatency.record(nanos, TimeUnit.NANOSECONDS);
  }

  void settleNanos(long nanos) {
    settleLatency.record(nanos, TimeUnit.NANOSECONDS);
  }

  /**
   * Fails closed: counts a request refused because a backing service could not be reached (once in
   * {@code tollgate_metering_unavailable}, once as decision {@code unavailable/dependency_down}) and
   * answers the 503 that refuses it; {@code what} says what could not be reached.
   */
  io.tollgate.gateway.errors.GatewayFailure unavailable(String what) {
    unavailable.increment();
    decision("unavailable", "dependency_down");
    return new io.tollgate.gateway.errors.GatewayFailure(503, "service_unavailable", "metering_unavailable",
        what + "; try again shortly").withHeader("retry-after", "1");
  }

  void settleFailed() {
    settleFailures.increment();
  }

  void estimated() {
    estimated.increment();
  }
}
