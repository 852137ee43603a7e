package io.tollgate.loadtests.pipeline;

import io.tollgate.metering.redis.RedisKeys;
import io.tollgate.metering.schema.SchemaMigrator;
import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.usage.UsageEvent;
import io.tollgate.metering.usage.UsageStreamConsumer;
import io.tollgate.metering.usage.UuidV7;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;

/**
 * Benchmark of the usage pipeline, Redis stream → Postgres, with the production consumer
 * ({@link UsageStreamConsumer}) and schema, against an external Redis and Postgres. Two runs:
 *
 * <ol>
 *   <li><b>drain</b>: {@code --events} events are appended first, then the consumers start; the
 *       time to store them all gives events per second from stream to Postgres.</li>
 *   <li><b>sustained</b>: events are appended at {@code --rate} per second for {@code --seconds}
 *       while the consumers run on their flush interval; the delay from append (settle) to
 *       committed row is measured per 500th event from the two progress timelines — the k-th
 *       event stored minus the k-th event appended, streams being first in, first out.</li>
 * </ol>
 *
 * Not a test: run it with {@code load-tests/pipeline-bench.sh}. It deletes the usage streams and
 * truncates the usage tables of the database it is given, so give it a dedicated one.
 */
public final class PipelineBenchmark {

  private static final int SHARDS = 16;
  private static final int ACCOUNTS = 1_000;

  private final Vertx vertx;
  private final Redis redis;
  private final Pool pool;
  private final RedisKeys keys = new RedisKeys(SHARDS);
  private final int batchSize;
  private final int consumers;
  private final AtomicLong stored = new AtomicLong();
  private final AtomicLong failedPasses = new AtomicLong();

  private PipelineBenchmark(String redisUrl, String postgresUrl, int batchSize, int consumers) {
    this.vertx = Vertx.vertx();
    this.redis = Redis.createClient(vertx, new RedisOptions().setConnectionString(redisUrl).setMaxPoolSize(16)
        .setMaxPoolWaiting(100_000).setMaxWaitingHandlers(100_000));
    this.pool = PgBuilder.pool().with(new PoolOptions().setMaxSize(Math.max(2, consumers * 2)))
        .connectingTo(PostgresUrls.toConnectOptions(postgresUrl)).using(vertx).build();
    this.batchSize = batchSize;
    this.consumers = consumers;
  }

  public static void main(String[] args) throws Exception {
    String redisUrl = env("REDIS_URL", "redis://127.0.0.1:6379");
    String postgresUrl = env("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/tollgate_bench");
    int events = intArg(args, "--events", 200_000);
    int rate = intArg(args, "--rate", 5_000);
    int seconds = intArg(args, "--seconds", 30);
    int batch = intArg(args, "--batch", 500);
    int consumers = intArg(args, "--consumers", 2);
    int flushMs = intArg(args, "--flush-ms", 200);
    SchemaMigrator.migrate(postgresUrl);
    PipelineBenchmark bench = new PipelineBenchmark(redisUrl, postgresUrl, batch, consumers);
    try {
      System.out.printf("# Usage pipeline benchmark%n%nconsumers=%d batch=%d flushIntervalMs=%d shards=%d accounts=%d%n%n",
          consumers, batch, flushMs, SHARDS, ACCOUNTS);
      bench.drain(events);
      bench.sustained(rate, seconds, flushMs);
    } finally {
      bench.pool.close().await(10, TimeUnit.SECONDS);
      bench.redis.close();
      bench.vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  private void reset() throws Exception {
    List<Future<?>> deletes = new ArrayList<>();
    for (int s = 0; s < SHARDS; s++) {
      deletes.add(redis.send(Request.cmd(Command.DEL).arg(keys.usageStreamOfShard(s))));
    }
    Future.all(deletes).await(30, TimeUnit.SECONDS);
    pool.query("TRUNCATE usage_events, usage_event_ids, usage_rollups_hourly").execute().await(60, TimeUnit.SECONDS);
    consumer("setup").ensureGroups().await(30, TimeUnit.SECONDS);
    stored.set(0);
    failedPasses.set(0);
  }

  private UsageStreamConsumer consumer(String name) {
    UsageStreamConsumer c = new UsageStreamConsumer(redis, pool, keys, name, batchSize, Duration.ofMinutes(1));
    c.observer((entries, nanos, accounts) -> stored.addAndGet(entries));
    return c;
  }

  private Future<Void> append(long n) {
    Promise<Void> done = Promise.promise();
    AtomicLong sent = new AtomicLong();
    AtomicLong acked = new AtomicLong();
    int window = 512;
    Runnable[] pump = new Runnable[1];
    pump[0] = () -> {
      while (sent.get() < n && sent.get() - acked.get() < window) {
        sent.incrementAndGet();
        appendOne().onComplete(ar -> {
          if (ar.failed()) {
            done.tryFail(ar.cause());
            return;
          }
          if (acked.incrementAndGet() == n) {
            done.tryComplete();
          } else {
            pump[0].run();
          }
        });
      }
    };
    vertx.runOnContext(v -> pump[0].run());
    return done.future();
  }

  private Future<Void> appendOne() {
    long account = 1 + ThreadLocalRandom.current().nextInt(ACCOUNTS);
    long now = System.currentTimeMillis();
    UsageEvent e = new UsageEvent(UuidV7.at(now), account, account * 10, "/v1/", "gpt-4o-mini", 120, 40, 37, 200, 12, false, "ok", now);
    Request xadd = Request.cmd(Command.XADD).arg(keys.usageStream(account)).arg("*");
    e.toStreamFields().forEach(xadd::arg);
    return redis.send(xadd).mapEmpty();
  }

  /** Consumers flushing back to back until {@code target} events are stored. */
  private Future<Void> consumeUntil(long target, long pauseMillis) {
    List<Future<Void>> all = new ArrayList<>();
    for (int i = 0; i < consumers; i++) {
      UsageStreamConsumer c = consumer("bench-" + i + "-" + System.nanoTime());
      Promise<Void> done = Promise.promise();
      Runnable[] loop = new Runnable[1];
      loop[0] = () -> c.flushAll().onComplete(ar -> {
        if (ar.failed()) {
          // As in the gateway: a failed pass leaves its entries pending, and the next pass retries them.
          failedPasses.incrementAndGet();
        }
        if (stored.get() >= target) {
          done.tryComplete();
        } else if (pauseMillis > 0) {
          vertx.setTimer(pauseMillis, id -> loop[0].run());
        } else {
          vertx.runOnContext(v -> loop[0].run());
        }
      });
      vertx.runOnContext(v -> loop[0].run());
      all.add(done.future());
    }
    return Future.all(all).mapEmpty();
  }

  private void drain(int events) throws Exception {
    reset();
    long appendStart = System.nanoTime();
    append(events).await(10, TimeUnit.MINUTES);
    double appendSeconds = (System.nanoTime() - appendStart) / 1e9;
    long start = System.nanoTime();
    consumeUntil(events, 0).await(30, TimeUnit.MINUTES);
    double seconds = (System.nanoTime() - start) / 1e9;
    long rows = pool.query("SELECT count(*) FROM usage_events").execute().await(60, TimeUnit.SECONDS).iterator().next().getLong(0);
    System.out.printf("## Drain: %,d events already in the streams%n%n", events);
    System.out.printf("| appended in | stored in | stream → Postgres | rows in usage_events |%n|---|---|---|---|%n");
    System.out.printf("| %.2f s (%,.0f/s) | %.2f s | **%,.0f events/s** | %,d |%n%n", appendSeconds, events / appendSeconds, seconds,
        events / seconds, rows);
    System.out.printf("failed flush passes (retried): %d%n%n", failedPasses.get());
    if (rows != events) {
      throw new IllegalStateException("expected " + events + " rows, found " + rows);
    }
  }

  private void sustained(int rate, int seconds, int flushMs) throws Exception {
    reset();
    long total = (long) rate * seconds;
    Histogram delay = new Histogram(TimeUnit.MINUTES.toMicros(5), 3);
    List<long[]> appended = java.util.Collections.synchronizedList(new ArrayList<>());
    AtomicLong appendedCount = new AtomicLong();
    long start = System.nanoTime();
    // Open loop: every 10 ms, issue the appends the schedule says should exist by now, whether or
    // not earlier ones were acknowledged.
    Promise<Void> producing = Promise.promise();
    AtomicLong issued = new AtomicLong();
    long producer = vertx.setPeriodic(10, id -> {
      long due = Math.min(total, (long) ((System.nanoTime() - start) / 1e9 * rate));
      for (long i = issued.get(); i < due; i++) {
        issued.incrementAndGet();
        appendOne().onSuccess(v -> {
          long k = appendedCount.incrementAndGet();
          if (k % 500 == 0) {
            appended.add(new long[] {k, System.nanoTime()});
          }
          if (k == total) {
            producing.tryComplete();
          }
        });
      }
    });
    List<long[]> storedAt = java.util.Collections.synchronizedList(new ArrayList<>());
    long sampler = vertx.setPeriodic(5, id -> storedAt.add(new long[] {stored.get(), System.nanoTime()}));
    consumeUntil(total, flushMs).await(30, TimeUnit.MINUTES);
    producing.future().await(5, TimeUnit.MINUTES);
    vertx.cancelTimer(producer);
    vertx.cancelTimer(sampler);
    storedAt.add(new long[] {stored.get(), System.nanoTime()});
    double elapsed = (System.nanoTime() - start) / 1e9;
    // For each sampled k: the first time the stored count reached k, minus the time k-th append was acknowledged.
    List<long[]> s = new ArrayList<>(storedAt);
    int j = 0;
    for (long[] a : new ArrayList<>(appended)) {
      while (j < s.size() && s.get(j)[0] < a[0]) {
        j++;
      }
      if (j < s.size()) {
        delay.recordValue(Math.max(0, (s.get(j)[1] - a[1]) / 1_000));
      }
    }
    System.out.printf("## Sustained: %,d events/s for %d s (%,d events), consumers flushing every %d ms%n%n", rate, seconds, total, flushMs);
    System.out.printf("| settle → row delay | p50 | p90 | p99 | max |%n|---|---|---|---|---|%n");
    System.out.printf("| ms | %.1f | %.1f | %.1f | %.1f |%n%n", delay.getValueAtPercentile(50) / 1000.0,
        delay.getValueAtPercentile(90) / 1000.0, delay.getValueAtPercentile(99) / 1000.0, delay.getMaxValue() / 1000.0);
    System.out.printf("%,d events stored in %.1f s; %d delay samples (every 500th event); failed flush passes: %d%n", stored.get(),
        elapsed, delay.getTotalCount(), failedPasses.get());
  }

  private static String env(String name, String fallback) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? fallback : v;
  }

  private static int intArg(String[] args, String name, int fallback) {
    for (int i = 0; i + 1 < args.length; i++) {
      if (args[i].equals(name)) {
        return Integer.parseInt(args[i + 1]);
      }
    }
    return fallback;
  }
}
