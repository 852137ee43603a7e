package io.tollgate.metering.jobs;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.tollgate.metering.usage.UsageStreamConsumer;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/** The usage pipeline behind the hot path: flushes, batches, backlog, dead letters and sweeper refunds. */
final class UsageJobMetrics {

  private final Counter swept;
  private final Counter flushedEvents;
  private final Counter duplicateEvents;
  private final Counter deadLetters;
  private final Counter flushFailures;
  private final DistributionSummary batchSize;
  private final Timer flushDuration;
  private final AtomicLong backlog = new AtomicLong();
  private final AtomicLong pending = new AtomicLong();
  private final AtomicLong oldestAgeMillis = new AtomicLong();

  UsageJobMetrics(MeterRegistry registry) {
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
    this.batchSize = DistributionSummary.builder("tollgate_usage_flush_batch_size")
        .description("Usage events per batch written to Postgres").serviceLevelObjectives(1, 10, 50, 100, 250, 500, 1000, 2000, 5000)
        .register(registry);
    this.flushDuration = Timer.builder("tollgate_usage_flush_duration")
        .description("Time to store one batch of usage events (insert, rollups, XACK)").publishPercentileHistogram()
        .register(registry);
    Gauge.builder("tollgate_usage_stream_backlog", backlog, AtomicLong::get)
        .description("Usage events in the Redis streams not yet written to Postgres (all shards)").register(registry);
    Gauge.builder("tollgate_usage_stream_pending", pending, AtomicLong::get)
        .description("Usage events read by a consumer and not yet acknowledged").register(registry);
    Gauge.builder("tollgate_usage_stream_oldest_age", oldestAgeMillis, a -> a.get() / 1000.0)
        .description("Age of the oldest usage event not yet in Postgres (0 when none)").baseUnit("seconds").register(registry);
  }

  void swept(int n) {
    swept.increment(n);
  }

  void flushed(UsageStreamConsumer.Flushed f) {
    flushedEvents.increment(f.inserted());
    duplicateEvents.increment(f.duplicates());
    deadLetters.increment(f.deadLettered());
  }

  void batchStored(int entries, long nanos) {
    batchSize.record(entries);
    flushDuration.record(nanos, TimeUnit.NANOSECONDS);
  }

  void backlog(UsageStreamConsumer.Backlog b) {
    backlog.set(b.backlog());
    pending.set(b.pending());
    oldestAgeMillis.set(b.oldestAgeMillis());
  }

  void flushFailed() {
    flushFailures.increment();
  }
}
