package io.tollgate.metering.usage;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.embedded.FreePorts;
import io.tollgate.metering.redis.RedisKeys;
import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("A usage event Postgres rejects never stalls flushing")
class PoisonUsageTest {

  private static final RedisKeys KEYS = new RedisKeys(16);
  private static Vertx vertx;
  private static Redis redis;
  private static Pool pool;

  @BeforeAll
  static void connect() throws Exception {
    vertx = Vertx.vertx();
    redis = Redis.createClient(vertx, new RedisOptions().setConnectionString(TestServices.get().redisUrl()).setMaxPoolSize(4));
    pool = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(TestServices.get().postgresUrl())).using(vertx).build();
    await(new UsageStreamConsumer(redis, pool, KEYS, "poison-setup", 100, Duration.ofMinutes(1)).ensureGroups());
  }

  @AfterAll
  static void close() throws Exception {
    redis.close();
    pool.close().await(10, TimeUnit.SECONDS);
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  private static <T> T await(Future<T> f) throws Exception {
    return f.await(60, TimeUnit.SECONDS);
  }

  /** Two fresh accounts on different shards, the second's flushed after the first's. */
  private static long[] accountsOnTwoShards() {
    long a = ThreadLocalRandom.current().nextLong(5_000_000, 6_000_000);
    while (KEYS.shardOf(a) == KEYS.shards() - 1) {
      a++;
    }
    long b = a + 1;
    while (KEYS.shardOf(b) == KEYS.shardOf(a)) {
      b++;
    }
    return new long[] {a, b};
  }

  private static UsageEvent event(long account, String model) {
    return new UsageEvent(UuidV7.at(System.currentTimeMillis()), account, 7, "/v1/", model, 10, 20, 3, 200, 5, false, "ok",
        System.currentTimeMillis());
  }

  /** XADDs the event straight into its shard's stream, as the settle script would. */
  private static UUID xadd(UsageEvent e) throws Exception {
    Request add = Request.cmd(Command.XADD).arg(KEYS.usageStream(e.accountId())).arg("*");
    e.toStreamFields().forEach(add::arg);
    await(redis.send(add));
    return e.eventId();
  }

  private static String randomText(int length) {
    StringBuilder s = new StringBuilder(length);
    ThreadLocalRandom r = ThreadLocalRandom.current();
    for (int i = 0; i < length; i++) {
      // Random, so that Postgres cannot compress it under the index row limit.
      s.append((char) ('a' + r.nextInt(26)));
    }
    return s.toString();
  }

  private static long stored(UUID eventId) throws Exception {
    return await(pool.preparedQuery("SELECT count(*) FROM usage_events WHERE event_id = $1").execute(Tuple.of(eventId)))
        .iterator().next().getLong(0);
  }

  private static Map<String, Row> deadLetters(long... accounts) throws Exception {
    RowSet<Row> rows = await(pool.preparedQuery("SELECT * FROM usage_dead_letters WHERE account_id = ANY($1)")
        .execute(Tuple.of(java.util.Arrays.stream(accounts).boxed().toArray(Long[]::new))));
    Map<String, Row> byEvent = new HashMap<>();
    rows.forEach(r -> byEvent.put(r.getString("event_id"), r));
    return byEvent;
  }

  private static long pending(long account) throws Exception {
    return await(redis.send(Request.cmd(Command.XPENDING).arg(KEYS.usageStream(account)).arg(UsageStreamConsumer.GROUP)))
        .get(0).toLong();
  }

  @Test
  @DisplayName("a NUL-byte model and a 3 KB model are dead-lettered with their reasons; every good event on both shards is stored once")
  void poisonIsIsolated() throws Exception {
    long[] acc = accountsOnTwoShards();
    List<UUID> good = new ArrayList<>();
    good.add(xadd(event(acc[0], "gpt-4o-mini")));
    UUID nul = xadd(event(acc[0], "gpt\u0000evil"));
    good.add(xadd(event(acc[0], "gpt-4o")));
    UUID huge = xadd(event(acc[0], randomText(3000)));
    good.add(xadd(event(acc[0], null)));
    good.add(xadd(event(acc[1], "gpt-4o-mini")));
    good.add(xadd(event(acc[1], "gpt-4o-mini")));

    UsageStreamConsumer consumer = new UsageStreamConsumer(redis, pool, KEYS, "poison-" + acc[0], 100, Duration.ofMinutes(1));
    UsageStreamConsumer.Flushed first = await(consumer.flushAll());

    assertThat(first.failedShards()).isZero();
    for (UUID id : good) {
      assertThat(stored(id)).as("good event %s stored once", id).isEqualTo(1);
    }
    assertThat(stored(nul)).isZero();
    assertThat(stored(huge)).isZero();
    Map<String, Row> dead = deadLetters(acc);
    assertThat(dead).containsOnlyKeys(nul.toString(), huge.toString());
    Row nulRow = dead.get(nul.toString());
    assertThat(nulRow.getString("sqlstate")).startsWith("22");
    assertThat(nulRow.getString("error")).isNotBlank();
    assertThat(nulRow.getString("entry")).contains("gpt\\u0000evil").contains(nul.toString());
    assertThat(nulRow.getString("stream")).isEqualTo(KEYS.usageStream(acc[0]));
    Row hugeRow = dead.get(huge.toString());
    assertThat(hugeRow.getString("sqlstate")).startsWith("54");
    assertThat(hugeRow.getString("error")).contains("index row");
    assertThat(pending(acc[0])).isZero();
    assertThat(pending(acc[1])).isZero();
    assertThat(first.deadLettered()).isGreaterThanOrEqualTo(2);

    UsageStreamConsumer.Flushed second = await(consumer.flushAll());
    assertThat(second.deadLettered()).isZero();
    for (UUID id : good) {
      assertThat(stored(id)).isEqualTo(1);
    }
    assertThat(deadLetters(acc)).hasSize(2);
    assertThat(pending(acc[0])).isZero();
  }

  @Test
  @DisplayName("with Postgres unreachable nothing is dead-lettered: the events stay pending and are stored once it is back")
  void outageIsNotPoison() throws Exception {
    long[] acc = accountsOnTwoShards();
    UUID id = xadd(event(acc[0], "gpt-4o-mini"));
    PgConnectOptions nowhere = PostgresUrls.toConnectOptions(TestServices.get().postgresUrl()).setPort(FreePorts.pick());
    Pool down = PgBuilder.pool().connectingTo(nowhere).using(vertx).build();
    try {
      UsageStreamConsumer consumer = new UsageStreamConsumer(redis, down, KEYS, "outage-" + acc[0], 100, Duration.ofMinutes(1));
      UsageStreamConsumer.Flushed failed = await(consumer.flushAll());
      assertThat(failed.failedShards()).isGreaterThanOrEqualTo(1);
      assertThat(failed.deadLettered()).isZero();
      assertThat(pending(acc[0])).isEqualTo(1);
      assertThat(deadLetters(acc)).isEmpty();

      UsageStreamConsumer back = new UsageStreamConsumer(redis, pool, KEYS, "outage-" + acc[0], 100, Duration.ofMinutes(1));
      await(back.flushAll());
      assertThat(stored(id)).isEqualTo(1);
      assertThat(pending(acc[0])).isZero();
    } finally {
      down.close().await(10, TimeUnit.SECONDS);
    }
  }

  @Test
  @DisplayName("a failure that is not a rejection of the row (a lock timeout) dead-letters nothing even though Postgres is up")
  void transientErrorIsNotPoison() throws Exception {
    long[] acc = accountsOnTwoShards();
    UUID id = xadd(event(acc[0], "gpt-4o-mini"));
    // SQLSTATE 55P03 (lock_not_available): the batch fails while the dead-letter table stays writable.
    PgConnectOptions impatient = PostgresUrls.toConnectOptions(TestServices.get().postgresUrl()).addProperty("lock_timeout", "100");
    Pool hurried = PgBuilder.pool().connectingTo(impatient).using(vertx).build();
    io.vertx.sqlclient.SqlConnection holder = await(pool.getConnection());
    io.vertx.sqlclient.Transaction tx = await(holder.begin());
    try {
      await(holder.query("LOCK TABLE usage_rollups_hourly IN ACCESS EXCLUSIVE MODE").execute());
      UsageStreamConsumer consumer = new UsageStreamConsumer(redis, hurried, KEYS, "locked-" + acc[0], 100, Duration.ofMinutes(1));
      UsageStreamConsumer.Flushed failed = await(consumer.flushAll());
      assertThat(failed.failedShards()).isGreaterThanOrEqualTo(1);
      assertThat(failed.deadLettered()).isZero();
      assertThat(pending(acc[0])).isEqualTo(1);
      assertThat(deadLetters(acc)).isEmpty();
      await(tx.rollback());

      await(consumer.flushAll());
      assertThat(stored(id)).isEqualTo(1);
      assertThat(pending(acc[0])).isZero();
      assertThat(deadLetters(acc)).isEmpty();
    } finally {
      holder.close().await(10, TimeUnit.SECONDS);
      hurried.close().await(10, TimeUnit.SECONDS);
    }
  }

  @Test
  @DisplayName("a shard that fails (its consumer group is gone) does not stop the other shards' events from being stored")
  void oneFailingShardDoesNotStopTheOthers() throws Exception {
    long[] acc = accountsOnTwoShards();
    UUID stuck = xadd(event(acc[0], "gpt-4o-mini"));
    UUID flowing = xadd(event(acc[1], "gpt-4o-mini"));
    String brokenStream = KEYS.usageStream(acc[0]);
    await(redis.send(Request.cmd(Command.XGROUP).arg("DESTROY").arg(brokenStream).arg(UsageStreamConsumer.GROUP)));
    try {
      UsageStreamConsumer consumer = new UsageStreamConsumer(redis, pool, KEYS, "nogroup-" + acc[0], 100, Duration.ofMinutes(1));
      UsageStreamConsumer.Flushed pass = await(consumer.flushAll());
      assertThat(pass.failedShards()).isEqualTo(1);
      assertThat(stored(flowing)).isEqualTo(1);
      assertThat(stored(stuck)).isZero();
    } finally {
      await(new UsageStreamConsumer(redis, pool, KEYS, "poison-setup", 100, Duration.ofMinutes(1)).ensureGroups());
    }
    await(new UsageStreamConsumer(redis, pool, KEYS, "nogroup-" + acc[0], 100, Duration.ofMinutes(1)).flushAll());
    assertThat(stored(stuck)).isEqualTo(1);
  }
}
