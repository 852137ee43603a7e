package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.config.Secret;
import io.tollgate.metering.periods.PeriodRollover;
import io.tollgate.metering.accounts.AccountStore;
import io.tollgate.metering.admission.Admissions;
import io.tollgate.metering.ledger.CreditLedger;
import io.tollgate.metering.redis.RedisKeys;
import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgBuilder;
import io.vertx.redis.client.Redis;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("Billing periods roll over once; usage alerts fire once each, signed, across instances")
class BillingPeriodsAndAlertsTest {

  private static final String ALERT_SECRET = "alert-signing-secret-0123456789";
  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static Pool pg;

  @BeforeAll
  static void start() {
    pg = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(TestServices.get().postgresUrl())).using(vertx).build();
  }

  @AfterAll
  static void stop() {
    pg.close();
  }

  /** A route where every request costs exactly 100 credits (no token pricing), and a plan with 1,000 included. */
  private String yaml() {
    return """
        routes:
          - prefix: /flat/
            upstream: %s/v1/
            flatCost: 100
        pricing:
          default: { input: 0, output: 0 }
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 1000 }
        metering: { flushIntervalMs: 50 }
        alerts: { retryBaseMs: 100, maxAttempts: 3, timeoutMs: 500 }
        """.formatted(harness.stubBase());
  }

  private static long count(String sql, Object... params) {
    return await(pg.preparedQuery(sql).execute(Tuple.from(params))).iterator().next().getLong(0);
  }

  private static void awaitCount(long expected, String sql, Object... params) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    while (count(sql, params) < expected && System.nanoTime() < deadline) {
      await(vertx.timer(50));
    }
    assertThat(count(sql, params)).as(sql).isEqualTo(expected);
  }

  @Test
  @DisplayName("two instances rolling over at once: one closes the period; unused included credits lapse, purchased ones stay")
  void rolloverOnce() {
    try (Tollgate gateway = GatewayHarness.start(yaml(), Map.of())) {
      long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "period").put("initialCredits", 500));
      String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
      HttpTestClient client = new HttpTestClient(vertx, false, key);
      for (int i = 0; i < 3; i++) {
        assertThat(await(client.get(gateway.proxyPort(), "/flat/models")).status()).isEqualTo(200);
      }
      awaitCount(3, "SELECT count(*) FROM usage_events WHERE account_id = $1", account);
      // The period ends now (after the usage above); two "instances" whose clocks are past the grace run at once.
      await(pg.preparedQuery("UPDATE accounts SET period_end = now() + interval '1 second' WHERE id = $1").execute(Tuple.of(account)));
      Instant oldStart = await(pg.preparedQuery("SELECT period_start FROM accounts WHERE id = $1").execute(Tuple.of(account)))
          .iterator().next().getOffsetDateTime(0).toInstant();

      Clock later = Clock.offset(Clock.systemUTC(), Duration.ofMinutes(2));
      Redis redis = Redis.createClient(vertx, TestServices.get().redisUrl());
      List<Pool> pools = new ArrayList<>();
      List<PeriodRollover> instances = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        Pool pool = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(TestServices.get().postgresUrl())).using(vertx).build();
        pools.add(pool);
        instances.add(new PeriodRollover(pool, gateway.config(), new AccountStore(16), new CreditLedger(),
            new Admissions(redis, new RedisKeys(16), later, Duration.ofMinutes(15)), later));
      }
      try {
        List<PeriodRollover.Rolled> a = new ArrayList<>();
        List<PeriodRollover.Rolled> b = new ArrayList<>();
        await(Future.all(instances.get(0).runOnce().onSuccess(a::addAll), instances.get(1).runOnce().onSuccess(b::addAll)));
        long rolledHere = a.stream().filter(r -> r.after().id() == account).count() + b.stream().filter(r -> r.after().id() == account).count();
        assertThat(rolledHere).as("instances that rolled the account over").isEqualTo(1);

        Row period = await(pg.preparedQuery("SELECT requests, credits_used, included_expired FROM billing_periods WHERE account_id = $1")
            .execute(Tuple.of(account))).iterator().next();
        // Credits in units (1000 a credit): 300 used, 700 lapsed.
        assertThat(List.of(period.getLong(0), period.getLong(1), period.getLong(2))).containsExactly(3L, 300_000L, 700_000L);
        assertThat(count("SELECT count(*) FROM billing_periods WHERE account_id = $1", account)).isEqualTo(1);
        assertThat(count("SELECT count(*) FROM credit_transactions WHERE account_id = $1 AND kind = 'expiry' AND amount = -700000", account))
            .isEqualTo(1);
        assertThat(count("SELECT count(*) FROM credit_transactions WHERE account_id = $1 AND kind = 'period_grant'", account))
            .as("the first period's grant and the new one's").isEqualTo(2);
        Row now = await(pg.preparedQuery("SELECT period_start, period_end FROM accounts WHERE id = $1").execute(Tuple.of(account)))
            .iterator().next();
        assertThat(now.getOffsetDateTime(0).toInstant()).isAfter(oldStart);
        // 1,000 included + 500 purchased − 300 used − 700 lapsed + 1,000 new = 1,500, in Redis and in the ledger alike.
        JsonObject credits = await(GatewayHarness.admin(vertx).send(HttpMethod.GET, gateway.adminPort(),
            "/admin/v1/accounts/" + account + "/credits", GatewayHarness.adminHeaders(), null)).json();
        assertThat(credits.getLong("spendable")).isEqualTo(1_500);
        assertThat(credits.getLong("ledgerSpendable")).isEqualTo(1_500);

        // Running again (any instance, any time this period) changes nothing.
        List<PeriodRollover.Rolled> again = await(instances.get(1).runOnce());
        assertThat(again).noneMatch(r -> r.after().id() == account);
        assertThat(count("SELECT count(*) FROM billing_periods WHERE account_id = $1", account)).isEqualTo(1);
      } finally {
        pools.forEach(Pool::close);
        redis.close();
      }
    }
  }

  @Test
  @DisplayName("thresholds 50/80/95/100 % each fire once across two instances, reach the webhook signed, and retry a 500")
  void thresholdsOnceAcrossInstances() throws Exception {
    List<Delivery> deliveries = new CopyOnWriteArrayList<>();
    AtomicInteger calls = new AtomicInteger();
    HttpServer receiver = await(vertx.createHttpServer().requestHandler(req -> req.body().onSuccess(body -> {
      // The first delivery attempt fails, to exercise the retry.
      if (calls.incrementAndGet() == 1) {
        req.response().setStatusCode(500).end();
        return;
      }
      deliveries.add(new Delivery(req.headers(), body));
      req.response().setStatusCode(204).end();
    })).listen(0, "127.0.0.1"));
    Map<String, String> env = Map.of("TOLLGATE_ALERT_WEBHOOK_SECRET", ALERT_SECRET);
    try (Tollgate a = GatewayHarness.start(yaml(), env); Tollgate b = GatewayHarness.start(yaml(), env)) {
      long account = GatewayHarness.createAccount(a, vertx, new JsonObject().put("name", "alerts"));
      await(GatewayHarness.admin(vertx).send(HttpMethod.PATCH, a.adminPort(), "/admin/v1/accounts/" + account,
          GatewayHarness.adminHeaders(), new JsonObject().put("alertWebhookUrl", "http://127.0.0.1:" + receiver.actualPort() + "/hook")
              .toBuffer()));
      String key = GatewayHarness.createKey(a, vertx, account, new JsonObject()).getString("key");
      HttpTestClient client = new HttpTestClient(vertx, false, key);
      // 10 × 100 credits = 100 % of the 1,000 included, spread over both instances.
      List<Future<HttpTestClient.Reply>> sent = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        sent.add(client.get((i % 2 == 0 ? a : b).proxyPort(), "/flat/models"));
      }
      await(Future.all(sent));
      assertThat(sent).allMatch(f -> f.result().status() == 200);

      awaitCount(4, "SELECT count(*) FROM notifications WHERE account_id = $1 AND kind = 'usage_threshold'", account);
      // Once every row is 'delivered' no instance may lease it again (only pending rows are leased),
      // so the receiver has by then seen everything it will ever see: no wait for a wrong extra delivery.
      awaitCount(4, "SELECT count(*) FROM notifications WHERE account_id = $1 AND kind = 'usage_threshold' "
          + "AND delivery_status = 'delivered'", account);
      assertThat(calls).as("one refused attempt, then one delivery per threshold").hasValue(5);
      assertThat(deliveries).hasSize(4);
      Set<Integer> thresholds = new HashSet<>();
      Set<String> ids = new HashSet<>();
      for (Delivery d : deliveries) {
        String signature = d.headers().get("Tollgate-Signature");
        long t = Long.parseLong(signature.substring(2, signature.indexOf(',')));
        assertThat(signature).isEqualTo("t=" + t + ",v1=" + hmacSha256Hex(ALERT_SECRET, t + "." + d.body()));
        assertThat(Math.abs(Instant.now().getEpochSecond() - t)).isLessThan(60);
        JsonObject body = d.body().toJsonObject();
        thresholds.add(body.getInteger("threshold"));
        ids.add(d.headers().get("Tollgate-Event-Id"));
        assertThat(body.getString("kind")).isEqualTo("usage_threshold");
        assertThat(body.getJsonObject("data").getLong("allowanceCredits")).isEqualTo(1_000);
        assertThat(d.body().toString()).doesNotContain(ALERT_SECRET).doesNotContain(key);
      }
      assertThat(thresholds).containsExactlyInAnyOrder(50, 80, 95, 100);
      assertThat(ids).hasSize(4);
      double raised = a.registry().find("tollgate_notifications").counters().stream().mapToDouble(c -> c.count()).sum()
          + b.registry().find("tollgate_notifications").counters().stream().mapToDouble(c -> c.count()).sum();
      assertThat(raised).as("notifications counted across both instances").isEqualTo(4.0);

      // Admin API: listed unread, marked read, then no longer unread.
      JsonArray unread = await(GatewayHarness.admin(vertx).send(HttpMethod.GET, b.adminPort(),
          "/admin/v1/notifications?accountId=" + account + "&unread=true", GatewayHarness.adminHeaders(), null)).json().getJsonArray("data");
      assertThat(unread).hasSize(4);
      assertThat(unread.getJsonObject(0).getJsonObject("delivery").getString("status")).isEqualTo("delivered");
      long first = unread.getJsonObject(0).getLong("id");
      HttpTestClient.Reply read = await(GatewayHarness.admin(vertx).send(HttpMethod.POST, b.adminPort(),
          "/admin/v1/notifications/" + first + "/read", GatewayHarness.adminHeaders(), Buffer.buffer("{}")));
      assertThat(read.status()).isEqualTo(200);
      assertThat(read.json().getString("readAt")).isNotNull();
      assertThat(await(GatewayHarness.admin(vertx).send(HttpMethod.GET, b.adminPort(),
          "/admin/v1/notifications?accountId=" + account + "&unread=true", GatewayHarness.adminHeaders(), null)).json()
          .getJsonArray("data")).hasSize(3);
      assertThat(await(GatewayHarness.admin(vertx).send(HttpMethod.POST, b.adminPort(), "/admin/v1/notifications/999999999/read",
          GatewayHarness.adminHeaders(), Buffer.buffer("{}"))).status()).isEqualTo(404);
    } finally {
      await(receiver.close());
    }
  }

  @Test
  @DisplayName("a webhook that keeps failing is given up after maxAttempts, marked failed and counted")
  void webhookGivesUp() {
    AtomicInteger calls = new AtomicInteger();
    HttpServer receiver = await(vertx.createHttpServer().requestHandler(req -> {
      calls.incrementAndGet();
      req.response().setStatusCode(503).end();
    }).listen(0, "127.0.0.1"));
    try (Tollgate gateway = GatewayHarness.start(yaml(), Map.of("TOLLGATE_ALERT_WEBHOOK_SECRET", ALERT_SECRET))) {
      long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "failing hook")
          .put("alertWebhookUrl", "http://127.0.0.1:" + receiver.actualPort() + "/hook"));
      await(GatewayHarness.admin(vertx).send(HttpMethod.PATCH, gateway.adminPort(), "/admin/v1/accounts/" + account,
          GatewayHarness.adminHeaders(), new JsonObject().put("alerts", new JsonObject().put("thresholds", new JsonArray().add(10)))
              .toBuffer()));
      String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
      assertThat(await(new HttpTestClient(vertx, false, key).get(gateway.proxyPort(), "/flat/models")).status()).isEqualTo(200);
      awaitCount(1, "SELECT count(*) FROM notifications WHERE account_id = $1 AND delivery_status = 'failed'", account);
      assertThat(calls.get()).isEqualTo(3);
      assertThat(count("SELECT count(*) FROM notifications WHERE account_id = $1", account)).as("only the 10 % threshold").isEqualTo(1);
      assertThat(gateway.registry().get("tollgate_alert_webhook_failures").counter().count()).isEqualTo(1.0);
    } finally {
      await(receiver.close());
    }
  }

  @Test
  @DisplayName("a prepaid balance falling below the account's low-balance mark raises one alert for the period")
  void lowBalanceOnce() {
    try (Tollgate gateway = GatewayHarness.start(yaml(), Map.of())) {
      long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "low").put("initialCredits", 300));
      // 1,000 included + 300 purchased; warn below 1,150.
      HttpTestClient.Reply patched = await(GatewayHarness.admin(vertx).send(HttpMethod.PATCH, gateway.adminPort(),
          "/admin/v1/accounts/" + account, GatewayHarness.adminHeaders(),
          new JsonObject().put("alerts", new JsonObject().put("lowBalanceCredits", 1_150)).toBuffer()));
      assertThat(patched.json().getJsonObject("alerts").getLong("lowBalanceCredits")).isEqualTo(1_150);
      String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
      HttpTestClient client = new HttpTestClient(vertx, false, key);
      assertThat(await(client.get(gateway.proxyPort(), "/flat/models")).status()).isEqualTo(200);
      awaitCount(1, "SELECT count(*) FROM usage_events WHERE account_id = $1", account);
      assertThat(count("SELECT count(*) FROM notifications WHERE account_id = $1", account)).as("1,200 left: no alert").isZero();
      for (int i = 0; i < 3; i++) {
        assertThat(await(client.get(gateway.proxyPort(), "/flat/models")).status()).isEqualTo(200);
      }
      awaitCount(4, "SELECT count(*) FROM usage_events WHERE account_id = $1", account);
      awaitCount(1, "SELECT count(*) FROM notifications WHERE account_id = $1 AND kind = 'low_balance'", account);
      await(gateway.services().jobs().checkAlerts());
      assertThat(count("SELECT count(*) FROM notifications WHERE account_id = $1", account)).as("low balance once, no 50 %").isEqualTo(1);
      JsonObject alert = await(GatewayHarness.admin(vertx).send(HttpMethod.GET, gateway.adminPort(),
          "/admin/v1/notifications?accountId=" + account, GatewayHarness.adminHeaders(), null)).json().getJsonArray("data").getJsonObject(0);
      assertThat(alert.getJsonObject("data").getLong("lowBalanceCredits")).isEqualTo(1_150);
      assertThat(alert.getJsonObject("data").getLong("balanceCredits")).isLessThan(1_150);
      assertThat(alert.getJsonObject("delivery").getString("status")).as("no webhook URL, no secret").isEqualTo("none");
    }
  }

  private record Delivery(MultiMap headers, Buffer body) {
  }

  /** The README's signature, computed here and not by the code under test: hex HMAC-SHA256(secret, t + "." + body). */
  private static String hmacSha256Hex(String secret, String signed) throws Exception {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
    return HexFormat.of().formatHex(mac.doFinal(signed.getBytes(StandardCharsets.UTF_8)));
  }
}
