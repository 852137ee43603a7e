package io.tollgate.stripesync;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * README, Stripe meter sync: "Concurrent instances cannot claim a row twice." Two instances, each
 * with its own pool and {@link MeterOutbox}, cut batches at the same moments while usage keeps
 * arriving; afterwards every usage row belongs to exactly one outbox row and each customer's
 * outbox values add up to its usage, no more.
 */
@DisplayName("Two meter-sync instances never claim one usage row twice")
class ConcurrentMeterCutTest {

  private static final int ACCOUNTS = 8;
  private static final int ROUNDS = 40;
  private static Vertx vertx;
  private static Pool poolA;
  private static Pool poolB;

  @BeforeAll
  static void start() {
    vertx = Vertx.vertx();
    poolA = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(TestServices.get().postgresUrl())).using(vertx).build();
    poolB = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(TestServices.get().postgresUrl())).using(vertx).build();
  }

  @AfterAll
  static void stop() throws Exception {
    poolA.close().await(10, TimeUnit.SECONDS);
    poolB.close().await(10, TimeUnit.SECONDS);
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  private static <T> T await(Future<T> f) {
    try {
      return f.await(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static Future<?> insertUsage(Long[] accounts) {
    return poolB.preparedQuery("""
        INSERT INTO usage_events (event_id, account_id, key_id, route, model, credits, status, occurred_at)
        SELECT gen_random_uuid(), a, 1, '/v1/', 'm', (1 + (random() * 99)::int) * 1000, 200, now() - interval '1 minute'
        FROM unnest($1::bigint[]) AS a, generate_series(1, 5)
        """).execute(Tuple.of(accounts));
  }

  @Test
  @DisplayName("40 rounds of usage arriving while both instances cut at once: each usage row in exactly one outbox row, sums equal")
  void eachRowClaimedOnce() {
    Long[] accounts = new Long[ACCOUNTS];
    for (int i = 0; i < ACCOUNTS; i++) {
      String customer = "cus_cut" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
      accounts[i] = await(poolA.preparedQuery("INSERT INTO accounts (name, billing_mode, stripe_customer_id) VALUES ($1, 'postpaid', $2) "
          + "RETURNING id").execute(Tuple.of("cut " + i, customer))).iterator().next().getLong(0);
    }
    MeterOutbox a = new MeterOutbox(poolA);
    MeterOutbox b = new MeterOutbox(poolB);
    int claimedByA = 0;
    int claimedByB = 0;
    for (int round = 0; round < ROUNDS; round++) {
      // Rows both instances will race for, then more arriving while they cut.
      await(insertUsage(accounts));
      Future<?> arriving = insertUsage(accounts);
      Future<Integer> cutA = a.cut("tollgate_credits", Instant.now());
      Future<Integer> cutB = b.cut("tollgate_credits", Instant.now());
      await(Future.join(arriving, cutA, cutB));
      assertThat(List.of(arriving, cutA, cutB)).allMatch(Future::succeeded);
      claimedByA += cutA.result() > 0 ? 1 : 0;
      claimedByB += cutB.result() > 0 ? 1 : 0;
    }
    await(a.cut("tollgate_credits", Instant.now()));
    // Both instances won some of the races: otherwise one of them never really competed.
    assertThat(claimedByA).isPositive();
    assertThat(claimedByB).isPositive();

    Row unclaimed = await(poolA.preparedQuery("SELECT count(*) FROM usage_events WHERE account_id = ANY($1) AND stripe_batch IS NULL")
        .execute(Tuple.of((Object) accounts))).iterator().next();
    assertThat(unclaimed.getLong(0)).isZero();
    // Each usage row: the outbox rows of its batch for its account. Exactly one each.
    List<Long> perRow = new ArrayList<>();
    await(poolA.preparedQuery("""
        SELECT (SELECT count(*) FROM stripe_meter_outbox o WHERE o.batch_id = u.stripe_batch AND o.account_id = u.account_id)
        FROM usage_events u WHERE u.account_id = ANY($1)
        """).execute(Tuple.of((Object) accounts))).forEach(r -> perRow.add(r.getLong(0)));
    assertThat(perRow).hasSize(ACCOUNTS * ROUNDS * 10).containsOnly(1L);
    // And the outbox carries each account's usage exactly once in value.
    await(poolA.preparedQuery("""
        SELECT a, (SELECT coalesce(sum(credits), 0) / 1000 FROM usage_events WHERE account_id = a),
                  (SELECT coalesce(sum(value), 0) FROM stripe_meter_outbox WHERE account_id = a)
        FROM unnest($1::bigint[]) AS a
        """).execute(Tuple.of((Object) accounts))).forEach(r ->
        assertThat(r.getLong(2)).as("outbox value of account " + r.getLong(0)).isEqualTo(r.getLong(1)));
  }
}
