package io.tollgate.gateway.metering;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Admission outcomes (bounded labels: decision and reason codes), Redis script latency, settle
 * failures and sweeper refunds. "Dependency down" and "denied" are separate counters.
 */
final class MeteringMetrics {

  private final MeterRegistry registry;
  /** decision → reason → counter: looked up on every request without building a key or a lambda. */
  private final ConcurrentHashMap<String, ConcurrentHashMap<String, Counter>> decisions = new ConcurrentHashMap<>();
  private final Timer admitLatency;
  private final Timer settleLatency;
  private final Counter unavailable;
  private final Counter settleFailures;
  private final Counter swept;
  private final Counter estimated;
  private final Counter flushedEvents;
  private final Counter duplicateEvents;
  private final Counter deadLetters;
  private final Counter flushFailures;
  private final io.micrometer.core.instrument.DistributionSummary batchSize;
  private final Timer flushDuration;
  private final java.util.concurrent.atomic.AtomicLong backlog = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong pending = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong oldestAgeMillis = new java.util.concurrent.atomic.AtomicLong();

  MeteringMetrics(MeterRegistry registry) {
    this.registry = registry;
    this.admitLatency = Timer.builder("tollgate_redis_script_duration").tag("script", "admit")
        .description("Round trip of the hot path's Redis scripts").publishPercentileHistogram().register(registry);
    this.settleLatency = Timer.builder("tollgate_redis_script_duration").tag("script", "settle")
        .description("Round trip of the hot path's Redis scripts").publishPercentileHistogram().register(registry);
    this.unavailable = Counter.builder("tollgate_metering_unavailable")
        .description("Requests refused because Redis or Postgres could not be reached (fail closed)").register(registry);
    this.settleFailures = Counter.builder("tollgate_settle_failures")
        .description("Settlements that failed after retries; their reservation is refunded by the sweeper").register(registry);
    this.swept = Counter.builder("tollgate_reservations_swept")
        .description("Reservations refunded because no gateway settled them in time").register(registry);
    this.flushedEvents = Counter.builder("tollgate_usage_events_flushed")
        .description("Usage events written to Postgres").register(registry);
    this.duplicateEvents = Counter.builder("tollgate_usage_events_duplicate")
        .description("Usage events delivered again (a consumer died before XACK) and dropped by event id").register(registry);
    this.deadLetters = Counter.builder("tollgate_usage_dead_letters")
        .description("Usage events dead-lettered: malformed stream entries (dead-letter stream) and rows Postgres rejects (usage_dead_letters)").register(registry);
    this.flushFailures = Counter.builder("tollgate_usage_flush_failures")
        .description("Flush passes that failed (Postgres or Redis down); the events wait in the stream").register(registry);
    this.batchSize = io.micrometer.core.instrument.DistributionSummary.builder("tollgate_usage_flush_batch_size")
        .description("Usage events per batch written to Postgres").serviceLevelObjectives(1, 10, 50, 100, 250, 500, 1000, 2000, 5000)
        .register(registry);
    this.flushDuration = Timer.builder("tollgate_usage_flush_duration")
        .description("Time to store one batch of usage events (insert, rollups, XACK)").publishPercentileHistogram()
        .register(registry);
    io.micrometer.core.instrument.Gauge.builder("tollgate_usage_stream_backlog", backlog, java.util.concurrent.atomic.AtomicLong::get)
        .description("Usage events in the Redis streams not yet written to Postgres (all shards)").register(registry);
    io.micrometer.core.instrument.Gauge.builder("tollgate_usage_stream_pending", pending, java.util.concurrent.atomic.AtomicLong::get)
        .description("Usage events read by a consumer and not yet acknowledged").register(registry);
    io.micrometer.core.instrument.Gauge.builder("tollgate_usage_stream_oldest_age", oldestAgeMillis, a -> a.get() / 1000.0)
        .description("Age of the oldest usage event not yet in Postgres (0 when none)").baseUnit("seconds").register(registry);
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

  void unavailable() {
    unavailable.increment();
  }

  void settleFailed() {
    settleFailures.increment();
  }

  void swept(int n) {
    swept.increment(n);
  }

  void flushed(io.tollgate.metering.usage.UsageStreamConsumer.Flushed f) {
    flushedEvents.increment(f.inserted());
    duplicateEvents.increment(f.duplicates());
    deadLetters.increment(f.deadLettered());
  }

  void batchStored(int entries, long nanos, java.util.Set<Long> accounts) {
    batchSize.record(entries);
    flushDuration.record(nanos, TimeUnit.NANOSECONDS);
  }

  void backlog(io.tollgate.metering.usage.UsageStreamConsumer.Backlog b) {
    backlog.set(b.backlog());
    pending.set(b.pending());
    oldestAgeMillis.set(b.oldestAgeMillis());
  }

  void flushFailed() {
    flushFailures.increment();
  }

  void estimated() {
    estimated.increment();
  }
}
