package io.tollgate.metering.usage;

import static io.tollgate.metering.testing.TestRedis.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.accounts.AccountStore;
import io.tollgate.metering.admission.Admissions;
import io.tollgate.metering.ledger.Balances;
import io.tollgate.metering.ledger.CreditLedger;
import io.tollgate.metering.redis.RedisKeys;
import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.testing.TestRedis;
import io.tollgate.metering.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The allowance units of a period, summed from the events of record two ways: bounded by the
 * period's end for the admin usage summary and the console, unbounded for the hot counters
 * (which count on past the end until the period rolls over), which Redis, having lost them, gets
 * back from Postgres. An account whose period ended ten days ago and has not rolled over (its
 * invoice, say, has not come) tells the two apart.
 */
@DisplayName("Allowances used from the events of record: bounded by the period's end for reports, not for the hot counters")
class AllowancesUsedTest {

  private static final RedisKeys KEYS = new RedisKeys(16);
  private static final List<String> TIERS = List.of("small", "medium", "large");
  @RegisterExtension
  static final TestRedis REDIS = new TestRedis();
  private static final Vertx vertx = REDIS.vertx();
  private static final Redis redis = REDIS.client();
  private static Pool pool;

  @BeforeAll
  static void connect() {
    String url = TestServices.get().freshDatabase("tollgate_allowances_used");
    pool = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(url)).using(vertx).build();
  }

  /** Before the extension closes Vert.x and Redis. */
  @AfterAll
  static void close() throws Exception {
    pool.close().await(10, TimeUnit.SECONDS);
  }

  private static void event(long account, String tier, long allowanceUnits, Instant at) throws Exception {
    await(pool.preparedQuery("INSERT INTO usage_events (event_id, account_id, key_id, route, status, occurred_at, tier, allowance_units) "
            + "VALUES (gen_random_uuid(), $1, 1, '/tollgate/v1/events', 200, $2, $3, $4)")
        .execute(Tuple.of(account, at.atOffset(ZoneOffset.UTC), tier, allowanceUnits)));
  }

  @Test
  @DisplayName("events before the start never count, at the start do; at and past the end only the hot counters' sum has them")
  void boundedForReportsUnboundedForCounters() throws Exception {
    long id = ThreadLocalRandom.current().nextLong(8_000_000, 9_000_000);
    Instant end = Instant.now().minus(Duration.ofDays(10)).truncatedTo(ChronoUnit.SECONDS);
    Instant start = end.minus(Duration.ofDays(30));
    await(pool.preparedQuery("INSERT INTO accounts (id, name, period_start, period_end) VALUES ($1, 'overran its period', $2, $3)")
        .execute(Tuple.of(id, start.atOffset(ZoneOffset.UTC), end.atOffset(ZoneOffset.UTC))));
    event(id, "small", 5, start.minusSeconds(1));
    event(id, "small", 1, start);
    event(id, "small", 2, start.plus(Duration.ofDays(3)));
    event(id, "medium", 4, start.plus(Duration.ofDays(4)));
    event(id, null, 0, start.plus(Duration.ofDays(5)));    // a proxied request: no tier, nothing to group
    event(id, "small", 8, end);
    event(id, "small", 16, end.plus(Duration.ofDays(1)));

    UsageQueries usage = new UsageQueries(pool);
    assertThat(await(usage.allowancesUsed(id, start, end))).isEqualTo(Map.of("small", 3L, "medium", 4L));
    assertThat(await(usage.allowancesUsedSince(id, start))).isEqualTo(Map.of("small", 27L, "medium", 4L));
    Map<String, Long> included = Map.of("small", 10L, "medium", 2L);
    List<TierAllowance> report = await(usage.allowances(id, start, end, t -> included.getOrDefault(t, 0L), TIERS));
    assertThat(report).containsExactly(new TierAllowance("small", 10, 3), new TierAllowance("medium", 2, 4),
        new TierAllowance("large", 0, 0));
    assertThat(report).extracting(TierAllowance::remaining).containsExactly(7L, 0L, 0L);
    assertThat(report).extracting(TierAllowance::percent).containsExactly(30, 100, 0);

    // Redis holds no counters for the account: they are read from, then loaded from, the unbounded sum.
    AccountStore accounts = new AccountStore(KEYS.shards());
    Admissions admissions = new Admissions(redis, KEYS, Clock.systemUTC(), Duration.ofMinutes(5));
    Balances balances = new Balances(pool, accounts, new CreditLedger(), admissions);
    Account account = await(accounts.get(pool, id)).orElseThrow();
    try {
      assertThat(await(admissions.allowancesUsed(id, TIERS))).isEmpty();
      assertThat(await(balances.allowancesUsed(account, TIERS))).isEqualTo(Map.of("small", 27L, "medium", 4L));
      await(balances.seed(account));
      assertThat(await(admissions.allowancesUsed(id, TIERS))).isEqualTo(Optional.of(Map.of("small", 27L, "medium", 4L, "large", 0L)));
    } finally {
      await(redis.send(Request.cmd(Command.DEL).arg(KEYS.allowances(id)).arg(KEYS.credits(id))));
    }
  }
}
