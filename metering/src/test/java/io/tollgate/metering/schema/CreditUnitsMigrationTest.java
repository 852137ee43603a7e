package io.tollgate.metering.schema;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.config.Credits;
import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.accounts.AccountStore;
import io.tollgate.metering.admission.Admissions;
import io.tollgate.metering.ledger.Balances;
import io.tollgate.metering.ledger.CreditLedger;
import io.tollgate.metering.redis.RedisKeys;
import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * V10 turns whole credits into millicredits. A database is built at V9 with rows of every
 * credit-valued column, migrated, and each value must be exactly ×1000, while an account's balance
 * read through the ledger service is the same number of credits as before.
 */
@DisplayName("Migration V10: every credit-valued column ×1000, no account's value changes in credits")
class CreditUnitsMigrationTest {

  private static final String DB = "tollgate_v10_migration";
  private static String url;
  private static Vertx vertx;

  @BeforeAll
  static void buildAtV9() throws Exception {
    int port = TestServices.get().postgresPort();
    Properties props = new Properties();
    props.setProperty("user", "postgres");
    try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres", props);
         Statement s = c.createStatement()) {
      s.execute("DROP DATABASE IF EXISTS " + DB);
      s.execute("CREATE DATABASE " + DB);
    }
    url = "postgresql://postgres@127.0.0.1:" + port + "/" + DB;
    Flyway.configure().dataSource("jdbc:postgresql://127.0.0.1:" + port + "/" + DB, "postgres", null)
        .locations("classpath:db/migration").target("9").load().migrate();
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void close() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  private static <T> T await(Future<T> f) throws Exception {
    return f.await(30, TimeUnit.SECONDS);
  }

  private static Connection jdbc() throws Exception {
    Properties props = new Properties();
    props.setProperty("user", "postgres");
    return DriverManager.getConnection(PostgresUrls.toJdbcUrl(url), props);
  }

  private static long one(Statement s, String sql) throws Exception {
    try (ResultSet r = s.executeQuery(sql)) {
      r.next();
      return r.getLong(1);
    }
  }

  @Test
  @DisplayName("balances, caps, thresholds, ledger, usage, rollups, periods, top-ups, purchases: each ×1000; Stripe's whole credits stay")
  void everyColumnTimesAThousand() throws Exception {
    try (Connection c = jdbc(); Statement s = c.createStatement()) {
      // At V9: a prepaid account with 45 included + 100 bought − 12 used (3 of it in a hybrid-style overage row)
      // and a postpaid one with a cap of 500 and 7 used.
      s.execute("""
          INSERT INTO accounts (id, name, billing_mode, spend_cap, low_balance_credits, stripe_customer_id)
          VALUES (7900091, 'prepaid', 'hybrid', 250, 20, 'cus_v9a'), (7900092, 'postpaid', 'postpaid', 500, NULL, 'cus_v9b')""");
      s.execute("""
          INSERT INTO credit_transactions (account_id, amount, kind, reason, idempotency_key, actor)
          VALUES (7900091, 45, 'period_grant', 'plan free', 'g1', 'test'), (7900091, 100, 'top_up', 'pack', 'g2', 'test'),
                 (7900091, -5, 'adjustment', 'fix', NULL, 'test')""");
      s.execute("""
          INSERT INTO usage_events (event_id, account_id, key_id, route, model, credits, overage_credits, status, occurred_at)
          VALUES (gen_random_uuid(), 7900091, 1, '/v1/', 'm', 9, 0, 200, now()), (gen_random_uuid(), 7900091, 1, '/v1/', 'm', 3, 3, 200, now()),
                 (gen_random_uuid(), 7900092, 1, '/v1/', 'm', 7, 0, 200, now())""");
      s.execute("""
          INSERT INTO usage_rollups_hourly (account_id, key_id, route, model, hour, requests, credits)
          VALUES (7900091, 1, '/v1/', 'm', date_trunc('hour', now()), 2, 12)""");
      s.execute("""
          INSERT INTO billing_periods (account_id, period_start, period_end, requests, credits_used, included_expired)
          VALUES (7900091, now() - interval '2 months', now() - interval '1 month', 10, 40, 5)""");
      s.execute("INSERT INTO account_billing (account_id, auto_top_up_pack, auto_top_up_threshold) VALUES (7900091, 'small', 15)");
      s.execute("""
          INSERT INTO top_ups (account_id, pack, credits, amount, currency, status, balance_at_trigger)
          VALUES (7900091, 'small', 100, 999, 'usd', 'succeeded', 14)""");
      s.execute("INSERT INTO credit_purchases (payment_intent_id, account_id, credits, amount, grant_key) VALUES ('pi_v9', 7900091, 100, 999, 'g2')");
      s.execute("""
          INSERT INTO stripe_meter_outbox (batch_id, account_id, stripe_customer_id, event_name, value, window_start, window_end,
                                           event_timestamp, identifier, status)
          VALUES (gen_random_uuid(), 7900091, 'cus_v9a', 'tollgate_credits', 3, now(), now(), now(), 'tg_v9', 'sent')""");
    }
    Pool v9 = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(url)).using(vertx).build();
    AccountStore accounts = new AccountStore(16);
    CreditLedger ledger = new CreditLedger();
    long prepaidBefore = await(ledger.spendable(v9, await(accounts.get(v9, 7900091)).orElseThrow()));
    long postpaidBefore = await(ledger.spendable(v9, await(accounts.get(v9, 7900092)).orElseThrow()));
    // The spec's arithmetic in whole credits: 45 + 100 − 5 − (9 + 3 − 3) = 131; 500 − 7 = 493.
    assertThat(prepaidBefore).isEqualTo(131);
    assertThat(postpaidBefore).isEqualTo(493);
    await(v9.close());

    // Every migration after V9 runs (V10 and whatever later ones exist; counting them here broke
    // with each new migration): the row checks below are V10's.
    assertThat(SchemaMigrator.migrate(url)).as("the migrations after V9 applied").isPositive();

    try (Connection c = jdbc(); Statement s = c.createStatement()) {
      assertThat(one(s, "SELECT count(*) FROM flyway_schema_history WHERE version = '10' AND success")).as("V10 applied").isEqualTo(1);
      assertThat(one(s, "SELECT spend_cap FROM accounts WHERE id = 7900091")).isEqualTo(250_000);
      assertThat(one(s, "SELECT low_balance_credits FROM accounts WHERE id = 7900091")).isEqualTo(20_000);
      assertThat(one(s, "SELECT spend_cap FROM accounts WHERE id = 7900092")).isEqualTo(500_000);
      assertThat(one(s, "SELECT count(*) FROM accounts WHERE id = 7900092 AND low_balance_credits IS NULL")).isEqualTo(1);
      assertThat(one(s, "SELECT amount FROM credit_transactions WHERE idempotency_key = 'g1'")).isEqualTo(45_000);
      assertThat(one(s, "SELECT amount FROM credit_transactions WHERE idempotency_key = 'g2'")).isEqualTo(100_000);
      assertThat(one(s, "SELECT amount FROM credit_transactions WHERE kind = 'adjustment'")).isEqualTo(-5_000);
      assertThat(one(s, "SELECT sum(credits) FROM usage_events WHERE account_id = 7900091")).isEqualTo(12_000);
      assertThat(one(s, "SELECT sum(overage_credits) FROM usage_events WHERE account_id = 7900091")).isEqualTo(3_000);
      assertThat(one(s, "SELECT sum(credits) FROM usage_events WHERE account_id = 7900092")).isEqualTo(7_000);
      assertThat(one(s, "SELECT credits FROM usage_rollups_hourly WHERE account_id = 7900091")).isEqualTo(12_000);
      assertThat(one(s, "SELECT requests FROM usage_rollups_hourly WHERE account_id = 7900091")).as("counts are not credits").isEqualTo(2);
      assertThat(one(s, "SELECT credits_used FROM billing_periods WHERE account_id = 7900091")).isEqualTo(40_000);
      assertThat(one(s, "SELECT included_expired FROM billing_periods WHERE account_id = 7900091")).isEqualTo(5_000);
      assertThat(one(s, "SELECT auto_top_up_threshold FROM account_billing WHERE account_id = 7900091")).isEqualTo(15_000);
      assertThat(one(s, "SELECT credits FROM top_ups WHERE account_id = 7900091")).isEqualTo(100_000);
      assertThat(one(s, "SELECT balance_at_trigger FROM top_ups WHERE account_id = 7900091")).isEqualTo(14_000);
      assertThat(one(s, "SELECT amount FROM top_ups WHERE account_id = 7900091")).as("money in cents is not credits").isEqualTo(999);
      assertThat(one(s, "SELECT credits FROM credit_purchases WHERE payment_intent_id = 'pi_v9'")).isEqualTo(100_000);
      assertThat(one(s, "SELECT amount FROM credit_purchases WHERE payment_intent_id = 'pi_v9'")).isEqualTo(999);
      assertThat(one(s, "SELECT value FROM stripe_meter_outbox WHERE identifier = 'tg_v9'")).as("what Stripe got: whole credits").isEqualTo(3);
      assertThat(one(s, "SELECT units FROM stripe_meter_outbox WHERE identifier = 'tg_v9'")).isEqualTo(3_000);
    }

    // Through the services: the same credits as before, now as units; Redis keys of the old format are never read.
    Pool pool = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(url)).using(vertx).build();
    Redis redis = Redis.createClient(vertx, TestServices.get().redisUrl());
    try {
      RedisKeys keys = new RedisKeys(16);
      Admissions admissions = new Admissions(redis, keys, Clock.systemUTC(), Duration.ofMinutes(5));
      Balances balances = new Balances(pool, accounts, ledger, admissions);
      Account prepaid = await(accounts.get(pool, 7900091)).orElseThrow();
      Account postpaid = await(accounts.get(pool, 7900092)).orElseThrow();
      // A balance left in Redis by the version before, in whole credits under the old key name.
      String oldKey = "tg:{s" + keys.shardOf(7900091) + "}:acct:7900091:credits";
      await(redis.send(Request.cmd(Command.SET).arg(oldKey).arg(131)));
      await(redis.send(Request.cmd(Command.DEL).arg(keys.credits(7900091))));
      await(redis.send(Request.cmd(Command.DEL).arg(keys.overage(7900091))));
      assertThat(Credits.toCredits(await(ledger.spendable(pool, prepaid)))).isEqualByComparingTo(BigDecimal.valueOf(prepaidBefore));
      assertThat(Credits.toCredits(await(ledger.spendable(pool, postpaid)))).isEqualByComparingTo(BigDecimal.valueOf(postpaidBefore));
      assertThat(await(balances.spendable(prepaid))).as("not the old key's 131 units").isEqualTo(131_000);
      await(balances.seed(prepaid));
      assertThat(await(admissions.balance(7900091))).as("reloaded from the ledger in units").contains(131_000L);
      assertThat(await(admissions.overage(7900091))).as("the hybrid account's overage this period, in units").isEqualTo(3_000);
      Row display = await(pool.preparedQuery("SELECT amount FROM credit_transactions WHERE account_id = $1 ORDER BY id").execute(Tuple.of(7900091L)))
          .iterator().next();
      assertThat(Credits.format(display.getLong(0))).isEqualTo("45");
      assertThat(await(ledger.recent(pool, 7900091, 10))).extracting(j -> j.getValue("amount"))
          .as("the API's view of the ledger: credits as before").containsExactly(-5L, 100L, 45L);
    } finally {
      await(redis.send(Request.cmd(Command.DEL).arg("tg:{s" + new RedisKeys(16).shardOf(7900091) + "}:acct:7900091:credits")));
      redis.close();
      await(pool.close());
    }
  }
}
