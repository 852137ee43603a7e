package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * README / architecture: the hot path makes no Postgres call in the steady state (the key comes
 * from the in-process cache, admission and settle are Redis scripts).
 *
 * <p>What is measured: Postgres' own per-table activity counters ({@code pg_stat_user_tables}:
 * sequential and index scans, rows inserted, updated and deleted) summed over the tables a
 * request could read or write — {@code api_keys} (key lookup, last use), {@code credit_transactions}
 * (balance load) and the usage tables (usage written synchronously). {@code accounts} is left out
 * because the instance's own once-a-minute jobs (rollover, dunning) scan it, and the usage flush and
 * last-use batch, which legitimately write these tables behind the hot path, are configured to run
 * only after the test. The gateway runs on a database of its own: on the shared one, its period
 * rollover would (rightly) read and roll other tests' accounts mid-measurement; likewise a Redis
 * database of its own. If the sum moves, the failure names the table and counter that moved. A backend reports its counters when it goes idle, at most about 10 s late
 * (PostgreSQL 17's PGSTAT_IDLE_INTERVAL), so each reading waits for the counters to settle. A
 * control at the end shows the measurement sees a lookup: a key that is not cached moves it.
 */
@DisplayName("No Postgres call on the hot path in the steady state")
class HotPathPostgresTest {

  private static final String ACTIVITY = "SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0) + n_tup_ins + n_tup_upd + n_tup_del), 0) "
      + "FROM pg_stat_user_tables WHERE relname IN ('api_keys', 'credit_transactions', 'usage_event_ids') "
      + "OR relname LIKE 'usage_events%' OR relname LIKE 'usage_rollup%'";

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static Pool pg;
  private static String databaseUrl;

  @BeforeAll
  static void start() {
    databaseUrl = TestServices.get().freshDatabase("hot_path_steady");
    pg = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(databaseUrl)).using(vertx).build();
  }

  @AfterAll
  static void stop() {
    await(pg.close());
  }

  private static final String PER_TABLE = "SELECT relname, seq_scan, coalesce(idx_scan, 0) AS idx_scan, n_tup_ins, n_tup_upd, n_tup_del "
      + "FROM pg_stat_user_tables WHERE relname IN ('api_keys', 'credit_transactions', 'usage_event_ids') "
      + "OR relname LIKE 'usage_events%' OR relname LIKE 'usage_rollup%' ORDER BY relname";

  /** Each table's counters, for saying which one moved when the sum did. */
  private static java.util.Map<String, String> perTable() {
    java.util.Map<String, String> tables = new java.util.TreeMap<>();
    await(pg.query(PER_TABLE).execute()).forEach(row -> tables.put(row.getString("relname"),
        "seq_scan=" + row.getLong("seq_scan") + " idx_scan=" + row.getLong("idx_scan") + " ins=" + row.getLong("n_tup_ins")
            + " upd=" + row.getLong("n_tup_upd") + " del=" + row.getLong("n_tup_del")));
    return tables;
  }

  private static String moved(java.util.Map<String, String> before, java.util.Map<String, String> after) {
    StringBuilder moved = new StringBuilder();
    after.forEach((table, counters) -> {
      if (!counters.equals(before.get(table))) {
        moved.append(table).append(": ").append(before.get(table)).append(" -> ").append(counters).append("; ");
      }
    });
    return moved.toString();
  }

  private static long activity() {
    return await(pg.query(ACTIVITY).execute()).iterator().next().getLong(0);
  }

  /**
   * Reads the counters once they have stopped moving: unchanged for 11 s, longer than a backend may
   * sit on its counters. Two equal readings 2.5 s apart were not enough: a pooled connection that
   * went idle just before could still report its (warm-up) work afterwards, inside the measurement.
   */
  private static long settled() {
    long previous = activity();
    int stable = 0;
    for (int i = 0; i < 40; i++) {
      await(vertx.timer(2_500));
      long now = activity();
      stable = now == previous ? stable + 1 : 0;
      if (stable >= 5) {
        return now;
      }
      previous = now;
    }
    throw new AssertionError("Postgres activity on the hot-path tables never settled (something keeps using them)");
  }

  @Test
  @DisplayName("200 requests with a cached key leave the key, ledger and usage tables untouched; an uncached key does not")
  void noPostgresInSteadyState() {
    String yaml = """
        routes:
          - prefix: /v1/
            upstream: %s/v1/
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0 }
        # The steady state is a cached key: the cache must outlive this (slow, settle-waiting) test,
        # else its expiry is a legitimate lookup that the measurement would count.
        metering: { flushIntervalMs: 60000, lastUsedFlushSeconds: 3600, keyCacheTtlSeconds: 3600 }
        """.formatted(harness.stubBase());
    // Its own Redis database too: other tests' leftovers in the shared one (expired reservations,
    // balances, stream entries) are theirs to settle, not this measurement's.
    Map<String, String> env = Map.of("DATABASE_URL", databaseUrl, "REDIS_URL", TestServices.get().redisUrl() + "/9");
    try (Tollgate gateway = GatewayHarness.start(yaml, env)) {
      long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "steady").put("initialCredits", 1_000_000));
      String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
      String control = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
      HttpTestClient client = new HttpTestClient(vertx, true, key);
      // Warm: the key's grant is cached and the balance loaded into Redis.
      assertThat(await(client.get(gateway.proxyPort(), "/v1/models")).status()).isEqualTo(200);
      long before = settled();
      java.util.Map<String, String> tablesBefore = perTable();

      for (int i = 0; i < 200; i++) {
        assertThat(await(client.get(gateway.proxyPort(), "/v1/models")).status()).isEqualTo(200);
      }
      // Long enough for any backend that did something to have reported it.
      await(vertx.timer(11_000));
      long after = settled();
      java.util.Map<String, String> tablesAfter = perTable();
      assertThat(after).as("Postgres activity on the hot-path tables during 200 steady requests (moved: %s)",
          moved(tablesBefore, tablesAfter)).isEqualTo(before);

      // Control: a key not in the cache is looked up in Postgres, and the counters see it.
      assertThat(await(new HttpTestClient(vertx, false, control).get(gateway.proxyPort(), "/v1/models")).status()).isEqualTo(200);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (activity() == before && System.nanoTime() < deadline) {
        await(vertx.timer(250));
      }
      assertThat(activity()).as("the control lookup is visible to the measurement").isGreaterThan(before);
    }
  }
}
