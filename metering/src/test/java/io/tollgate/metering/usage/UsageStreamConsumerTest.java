package io.tollgate.metering.usage;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.metering.admission.AdmissionRequest;
import io.tollgate.metering.admission.CreditPolicy;
import io.tollgate.metering.admission.Admissions;
import io.tollgate.metering.admission.Decision;
import io.tollgate.metering.admission.Limits;
import io.tollgate.metering.redis.RedisKeys;
import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Usage stream → Postgres, exactly once")
class UsageStreamConsumerTest {

  private static final RedisKeys KEYS = new RedisKeys(16);
  private static Vertx vertx;
  private static Redis redis;
  private static Pool pool;
  private static Admissions admissions;

  @BeforeAll
  static void connect() throws Exception {
    vertx = Vertx.vertx();
    redis = Redis.createClient(vertx, new RedisOptions().setConnectionString(TestServices.get().redisUrl()).setMaxPoolSize(8));
    pool = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(TestServices.get().postgresUrl())).using(vertx).build();
    admissions = new Admissions(redis, KEYS, Clock.systemUTC(), Duration.ofMinutes(5));
    await(new UsageStreamConsumer(redis, pool, KEYS, "setup", 100, Duration.ofMinutes(1)).ensureGroups());
  }

  @AfterAll
  static void close() throws Exception {
    redis.close();
    pool.close().await(10, TimeUnit.SECONDS);
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  private static <T> T await(Future<T> f) throws Exception {
    return f.await(30, TimeUnit.SECONDS);
  }

  /** Admits and settles {@code n} requests of {@code credits} each for a fresh account; returns the account. */
  private static long settled(int n, long credits) throws Exception {
    long account = ThreadLocalRandom.current().nextLong(3_000_000, 4_000_000);
    await(admissions.seedBalance(account, n * credits));
    for (int i = 0; i < n; i++) {
      Decision d = await(admissions.admit(new AdmissionRequest(UuidV7.at(System.currentTimeMillis()), account, 7,
          Limits.UNLIMITED, Limits.UNLIMITED, 10, credits, CreditPolicy.ENFORCE)));
      await(admissions.settle(d.reservation().orElseThrow(), new UsageEvent(d.reservation().get().eventId(), account, 7, "/v1/",
          "gpt-4o-mini", 3, 4, credits, 200, 5, false, "ok", System.currentTimeMillis())));
    }
    return account;
  }

  private static long[] postgres(long account) throws Exception {
    Row events = await(pool.preparedQuery("SELECT count(*), coalesce(sum(credits), 0) FROM usage_events WHERE account_id = $1")
        .execute(Tuple.of(account))).iterator().next();
    Row rollups = await(pool.preparedQuery("SELECT coalesce(sum(requests), 0), coalesce(sum(credits), 0) FROM usage_rollups_hourly "
        + "WHERE account_id = $1").execute(Tuple.of(account))).iterator().next();
    return new long[] {events.getLong(0), events.getLong(1), rollups.getLong(0), rollups.getLong(1)};
  }

  @Test
  @DisplayName("settled events reach usage_events and the hourly rollups, once each, and are acknowledged")
  void flushes() throws Exception {
    long account = settled(40, 3);
    UsageStreamConsumer consumer = new UsageStreamConsumer(redis, pool, KEYS, "c-" + account, 16, Duration.ofMinutes(1));
    await(consumer.flushAll());
    assertThat(postgres(account)).containsExactly(40, 120, 40, 120);
    Response pending = await(redis.send(Request.cmd(Command.XPENDING).arg(KEYS.usageStream(account)).arg(UsageStreamConsumer.GROUP)));
    assertThat(pending.get(0).toLong()).isZero();
  }

  @Test
  @DisplayName("a consumer that dies between insert and XACK: another claims its entries, and nothing is lost or counted twice")
  void crashBetweenInsertAndAck() throws Exception {
    long account = settled(25, 2);
    String stream = KEYS.usageStream(account);
    // The doomed consumer reads and inserts, then "dies" before acknowledging.
    Response read = await(redis.send(Request.cmd(Command.XREADGROUP).arg("GROUP").arg(UsageStreamConsumer.GROUP).arg("doomed-" + account)
        .arg("COUNT").arg(10_000).arg("STREAMS").arg(stream).arg(">")));
    List<Response> entries = UsageStreamConsumer.entriesOf(read);
    UsageStreamConsumer doomed = new UsageStreamConsumer(redis, pool, KEYS, "doomed-" + account, 10_000, Duration.ofMinutes(1));
    UsageStreamConsumer.Flushed first = await(doomed.store(stream, entries, false));
    assertThat(first.inserted()).isGreaterThanOrEqualTo(25);
    assertThat(postgres(account)).containsExactly(25, 50, 25, 50);

    // A survivor claims everything idle (idle ≥ 0 ms here) and stores it again: all duplicates.
    UsageStreamConsumer survivor = new UsageStreamConsumer(redis, pool, KEYS, "survivor-" + account, 10_000, Duration.ZERO);
    UsageStreamConsumer.Flushed second = await(survivor.claimStale(KEYS.shardOf(account)));
    assertThat(second.inserted()).isZero();
    assertThat(second.duplicates()).isGreaterThanOrEqualTo(25);
    assertThat(postgres(account)).containsExactly(25, 50, 25, 50);
    Response pending = await(redis.send(Request.cmd(Command.XPENDING).arg(stream).arg(UsageStreamConsumer.GROUP)));
    assertThat(pending.get(0).toLong()).isZero();
  }

  @Test
  @DisplayName("a malformed entry goes to the dead-letter stream with its reason; the others are stored")
  void deadLetters() throws Exception {
    long account = settled(5, 1);
    String stream = KEYS.usageStream(account);
    await(redis.send(Request.cmd(Command.XADD).arg(stream).arg("*").arg("event_id").arg("not-a-uuid").arg("account_id").arg(account)));
    long deadBefore = await(redis.send(Request.cmd(Command.XLEN).arg(UsageStreamConsumer.deadLetterStream(stream)))).toLong();
    UsageStreamConsumer consumer = new UsageStreamConsumer(redis, pool, KEYS, "dl-" + account, 100, Duration.ofMinutes(1));
    UsageStreamConsumer.Flushed done = await(consumer.flushNew(KEYS.shardOf(account)));
    assertThat(done.deadLettered()).isGreaterThanOrEqualTo(1);
    assertThat(postgres(account)).containsExactly(5, 5, 5, 5);
    Response dead = await(redis.send(Request.cmd(Command.XREVRANGE).arg(UsageStreamConsumer.deadLetterStream(stream)).arg("+").arg("-")
        .arg("COUNT").arg(1)));
    assertThat(await(redis.send(Request.cmd(Command.XLEN).arg(UsageStreamConsumer.deadLetterStream(stream)))).toLong())
        .isEqualTo(deadBefore + 1);
    assertThat(dead.get(0).get(1).toString()).contains("reason").contains("event_id is not a UUID");
    Response pending = await(redis.send(Request.cmd(Command.XPENDING).arg(stream).arg(UsageStreamConsumer.GROUP)));
    assertThat(pending.get(0).toLong()).isZero();
  }

  @Test
  @DisplayName("the backlog counts exactly the events not yet in Postgres; stored entries leave the stream")
  void backlog() throws Exception {
    UsageStreamConsumer consumer = new UsageStreamConsumer(redis, pool, KEYS, "backlog", 1_000, Duration.ZERO);
    await(consumer.flushAll());
    assertThat(await(consumer.backlog(System.currentTimeMillis()))).isEqualTo(new UsageStreamConsumer.Backlog(0, 0, 0));

    long before = System.currentTimeMillis();
    long account = settled(30, 1);
    UsageStreamConsumer.Backlog waiting = await(consumer.backlog(before + 60_000));
    assertThat(waiting.backlog()).isEqualTo(30);
    assertThat(waiting.pending()).isZero();
    assertThat(waiting.oldestAgeMillis()).isBetween(1L, 60_000L);

    // The observer runs on a Vert.x thread, where a thrown assertion would only be logged: record, assert here.
    List<Integer> batches = new CopyOnWriteArrayList<>();
    List<Object> batchAccounts = new CopyOnWriteArrayList<>();
    consumer.observer((entries, nanos, accounts) -> {
      batches.add(entries);
      batchAccounts.add(List.copyOf(accounts));
    });
    await(consumer.flushAll());
    assertThat(batches).containsExactly(30);
    assertThat(batchAccounts).containsExactly(List.of(account));
    assertThat(postgres(account)).containsExactly(30, 30, 30, 30);
    assertThat(await(consumer.backlog(System.currentTimeMillis()))).isEqualTo(new UsageStreamConsumer.Backlog(0, 0, 0));
    assertThat(await(redis.send(Request.cmd(Command.XLEN).arg(KEYS.usageStream(account)))).toLong()).isZero();
  }

  @Test
  @DisplayName("consumers storing overlapping batches at the same time neither deadlock nor double count")
  void concurrentConsumers() throws Exception {
    UsageStreamConsumer drainer = new UsageStreamConsumer(redis, pool, KEYS, "pre-drain", 1_000, Duration.ZERO);
    await(drainer.flushAll());
    // 300 accounts on one shard, in random order: concurrent batches upsert overlapping sets of rollup
    // rows. (The pipeline benchmark hit a deadlock here before the upsert got one lock order; this
    // test has not reproduced that deadlock on the embedded server, so it guards the counts only.)
    long base = ThreadLocalRandom.current().nextLong(5_000_000, 6_000_000) * 16;
    List<Request> appends = new ArrayList<>();
    long now = System.currentTimeMillis();
    for (int i = 0; i < 2_000; i++) {
      long account = base + 16L * ThreadLocalRandom.current().nextInt(300);
      UsageEvent e = new UsageEvent(UuidV7.at(now), account, 1, "/v1/", "m", 1, 1, 1, 200, 1, false, "ok", now);
      Request xadd = Request.cmd(Command.XADD).arg(KEYS.usageStream(account)).arg("*");
      e.toStreamFields().forEach(xadd::arg);
      appends.add(xadd);
    }
    for (int from = 0; from < appends.size(); from += 500) {
      await(redis.batch(appends.subList(from, from + 500)));
    }
    List<Future<UsageStreamConsumer.Flushed>> passes = new ArrayList<>();
    for (int c = 0; c < 4; c++) {
      UsageStreamConsumer consumer = new UsageStreamConsumer(redis, pool, KEYS, "concurrent-" + c, 200, Duration.ofMinutes(1));
      passes.add(consumer.flushAll());
    }
    await(Future.all(passes));
    long inserted = passes.stream().mapToLong(f -> f.result().inserted()).sum();
    assertThat(inserted).isEqualTo(2_000);
    long rows = await(pool.preparedQuery("SELECT count(*), coalesce(sum(requests), 0) FROM usage_rollups_hourly WHERE account_id >= $1 AND account_id < $2")
        .execute(Tuple.of(base, base + 16 * 300))).iterator().next().getLong(1);
    assertThat(rows).as("requests in the rollups").isEqualTo(2_000);
  }
}
