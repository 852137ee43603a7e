package io.tollgate.metering.jobs;

import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.config.MeteringConfig;
import io.tollgate.metering.admission.Admissions;
import io.tollgate.metering.alerts.UsageAlerts;
import io.tollgate.metering.keys.KeyVerifier;
import io.tollgate.metering.periods.PeriodRollover;
import io.tollgate.metering.redis.RedisKeys;
import io.tollgate.metering.usage.UsagePartitions;
import io.tollgate.metering.usage.UsageStreamConsumer;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The background work behind the hot path, on timers: usage streams drained into Postgres (then
 * usage alerts and whatever else watches stored usage), abandoned reservations refunded, the
 * backlog measured, usage partitions created ahead, billing periods rolled over, keys' last use
 * written in batches. Every job is safe to run on every instance at once.
 */
public final class UsageJobs {

  private static final Logger log = LoggerFactory.getLogger(UsageJobs.class);
  static final long SWEEP_MILLIS = 10_000;
  /** Measured on a timer, not on scrape, so /metrics never waits for Redis. */
  static final long BACKLOG_POLL_MILLIS = 5_000;
  static final long PARTITION_CHECK_MILLIS = 6 * 3_600_000L;
  static final long ROLLOVER_CHECK_MILLIS = 60_000;

  private final Vertx vertx;
  private final MeteringConfig config;
  private final Pool pool;
  private final RedisKeys redisKeys;
  private final Admissions admissions;
  private final UsageStreamConsumer consumer;
  private final PeriodRollover rollover;
  private final UsageAlerts alerts;
  private final KeyVerifier keys;
  private final Consumer<List<Long>> usageStored;
  private final Clock clock;
  private final UsageJobMetrics metrics;
  private final AtomicBoolean flushing = new AtomicBoolean();
  /** The last flush pass started; close waits for it before its own. */
  private volatile Future<Void> flushPass = Future.succeededFuture();
  /** Accounts whose usage reached Postgres since the last alert check. */
  private final Set<Long> toCheck = ConcurrentHashMap.newKeySet();
  private final List<Long> timers = new ArrayList<>();

  /**
   * @param usageStored told which accounts' usage was just stored (auto top-up watches them),
   *                    after the alert check; must not throw
   */
  public UsageJobs(Vertx vertx, MeteringConfig config, Pool pool, RedisKeys redisKeys, Admissions admissions,
                   UsageStreamConsumer consumer, PeriodRollover rollover, UsageAlerts alerts, KeyVerifier keys,
                   Consumer<List<Long>> usageStored, Clock clock, MeterRegistry registry) {
    this.vertx = vertx;
    this.config = config;
    this.pool = pool;
    this.redisKeys = redisKeys;
    this.admissions = admissions;
    this.consumer = consumer;
    this.rollover = rollover;
    this.alerts = alerts;
    this.keys = keys;
    this.usageStored = usageStored;
    this.clock = clock;
    this.metrics = new UsageJobMetrics(registry);
    consumer.observer((entries, nanos, accountIds) -> {
      metrics.batchStored(entries, nanos);
      toCheck.addAll(accountIds);
    });
  }

  /** Creates the consumer groups (retried with each flush if Redis is down) and starts the timers. */
  public Future<Void> start() {
    return consumer.ensureGroups().recover(err -> {
      log.warn("could not create the usage consumer group yet ({}); retrying with each flush", err.toString());
      return Future.succeededFuture();
    }).onSuccess(v -> {
      timers.add(vertx.setPeriodic(config.flushInterval().toMillis(), id -> flushUsage()));
      timers.add(vertx.setPeriodic(SWEEP_MILLIS, id -> sweepAll()));
      timers.add(vertx.setPeriodic(BACKLOG_POLL_MILLIS, id -> measureBacklog()));
      ensurePartitions();
      timers.add(vertx.setPeriodic(PARTITION_CHECK_MILLIS, id -> ensurePartitions()));
      rollOverPeriods();
      timers.add(vertx.setPeriodic(ROLLOVER_CHECK_MILLIS, id -> rollOverPeriods()));
      timers.add(vertx.setPeriodic(config.lastUsedFlush().toMillis(), id -> keys.flushLastUsed()
          .onFailure(err -> log.warn("could not record keys' last use: {}", err.toString()))));
    });
  }

  /** Drains the usage streams into Postgres; one pass at a time per instance. */
  public Future<Void> flushUsage() {
    if (!flushing.compareAndSet(false, true)) {
      return Future.succeededFuture();
    }
    return flushPass = consumer.flushAll()
        .onSuccess(metrics::flushed)
        .compose(flushed -> flushed.failedShards() == 0 ? Future.succeededFuture(flushed)
            // Some shards failed, the others were stored: count the pass as failed and recreate the groups.
            : Future.failedFuture("usage shards not flushed: " + flushed.failedShards()))
        .compose(flushed -> checkAlerts().transform(ar -> Future.succeededFuture(flushed)))
        .recover(err -> {
          metrics.flushFailed();
          // NOGROUP after a Redis restart or flush: create the groups again; entries wait meanwhile.
          return consumer.ensureGroups().transform(ar -> Future.succeededFuture(null));
        })
        .<Void>mapEmpty()
        .onComplete(ar -> flushing.set(false));
  }

  /** Closes ended billing periods (whichever instance comes first does each account, once). */
  public Future<List<PeriodRollover.Rolled>> rollOverPeriods() {
    return rollover.runOnce().onFailure(err -> log.warn("billing period rollover failed (retrying in 1 min): {}", err.toString()));
  }

  /** Raises the usage alerts due for the accounts whose usage was just stored. */
  public Future<List<UsageAlerts.Fired>> checkAlerts() {
    List<Long> accountIds = new ArrayList<>(toCheck);
    toCheck.removeAll(accountIds);
    usageStored.accept(accountIds);
    return alerts.check(accountIds).onFailure(err -> {
      // Checked again with the account's next stored usage; a threshold crossed stays crossed.
      toCheck.addAll(accountIds);
      log.warn("usage alert check failed: {}", err.toString());
    });
  }

  /** Creates next months' usage partitions if missing (all instances do; it is idempotent). */
  public Future<Integer> ensurePartitions() {
    return UsagePartitions.ensure(pool)
        .onSuccess(n -> {
          if (n > 0) {
            log.info("created {} usage_events partition(s) ahead of time", n);
          }
        })
        .onFailure(err -> log.warn("could not check usage_events partitions (retrying in 6 h or at restart): {}", err.toString()));
  }

  /** Updates the backlog gauges from the streams. */
  public Future<UsageStreamConsumer.Backlog> measureBacklog() {
    return consumer.backlog(clock.millis()).onSuccess(metrics::backlog)
        .onFailure(err -> log.debug("could not measure the usage backlog: {}", err.toString()));
  }

  /** Refunds abandoned reservations on every shard. */
  public Future<Integer> sweepAll() {
    Future<Integer> total = Future.succeededFuture(0);
    for (int shard = 0; shard < redisKeys.shards(); shard++) {
      int s = shard;
      total = total.compose(n -> admissions.sweep(s).map(m -> n + m));
    }
    return total.onSuccess(n -> {
      if (n > 0) {
        metrics.swept(n);
        log.info("refunded {} abandoned reservation(s)", n);
      }
    }).onFailure(err -> log.warn("reservation sweep failed: {}", err.toString()));
  }

  /**
   * Stops the timers, then stores what the streams still hold (in a pass that starts after any
   * running one, which may have read the streams before the last events arrived) and the pending
   * last-used times.
   */
  public Future<Void> close() {
    timers.forEach(vertx::cancelTimer);
    return flushPass.transform(ar -> flushUsage()).recover(err -> Future.succeededFuture())
        .compose(v -> keys.flushLastUsed()).recover(err -> Future.succeededFuture());
  }
}
