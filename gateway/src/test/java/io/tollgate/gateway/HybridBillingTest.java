package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.stripesync.fake.FakeStripe;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Hybrid billing through the real path: requests → settle script → usage stream → Postgres →
 * outbox → (fake) Stripe. Expected Stripe totals are the spec's arithmetic on what each account
 * was given and used, never read back from the code.
 */
@DisplayName("Hybrid accounts: Stripe's meter receives exactly the usage their credits did not cover")
class HybridBillingTest {

  private static final String STRIPE_KEY = "sk_test_hybrid_0123456789";
  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static FakeStripe stripe;
  private static io.vertx.sqlclient.Pool pg;

  @BeforeAll
  static void start() {
    stripe = await(new FakeStripe(vertx, STRIPE_KEY).start());
    pg = GatewayHarness.postgres(vertx);
  }

  @AfterAll
  static void stop() {
    await(pg.close());
    await(stripe.close());
  }

  private String config() {
    return """
        routes:
          - prefix: /flat/
            upstream: %s/v1/
            flatCost: 3
        pricing:
          default: { input: 0, output: 0 }
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0 }
          hybrid: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 100, overage: bill }
        metering: { flushIntervalMs: 50 }
        stripe: { transport: v2, syncIntervalMs: 200, apiBase: "%s", meterEventsBase: "%s" }
        """.formatted(harness.stubBase(), stripe.baseUrl(), stripe.baseUrl());
  }

  private static JsonObject admin(Tollgate gateway, HttpMethod method, String uri, JsonObject body) {
    HttpTestClient.Reply reply = await(GatewayHarness.admin(vertx).send(method, gateway.adminPort(), uri, GatewayHarness.adminHeaders(),
        body == null ? null : body.toBuffer()));
    assertThat(reply.status()).as(uri + ": " + reply.text()).isLessThan(300);
    return reply.json();
  }

  private static long linkedAccount(Tollgate gateway, String customer, JsonObject attributes) {
    long account = GatewayHarness.createAccount(gateway, vertx, attributes.put("plan", "hybrid"));
    admin(gateway, HttpMethod.PATCH, "/admin/v1/accounts/" + account, new JsonObject().put("stripeCustomerId", customer));
    return account;
  }

  /** Sends {@code n} requests concurrently; returns the statuses. */
  private static List<Integer> send(Tollgate gateway, String key, int n) {
    HttpTestClient client = new HttpTestClient(vertx, false, key);
    List<io.vertx.core.Future<HttpTestClient.Reply>> replies = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      replies.add(client.get(gateway.proxyPort(), "/flat/models"));
    }
    List<Integer> statuses = new ArrayList<>();
    for (io.vertx.core.Future<HttpTestClient.Reply> r : replies) {
      statuses.add(await(r).status());
    }
    return statuses;
  }

  /**
   * Waits until the account's {@code requests} usage rows are in Postgres, each claimed by a Stripe
   * batch, and none of its outbox rows is still pending: everything it owes Stripe was sent.
   */
  private static void drain(long account, int requests) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      io.vertx.sqlclient.Row r = await(pg.preparedQuery("SELECT (SELECT count(*) FROM usage_events WHERE account_id = $1) AS rows, "
          + "(SELECT count(*) FROM usage_events WHERE account_id = $1 AND stripe_batch IS NULL) AS unclaimed, "
          + "(SELECT count(*) FROM stripe_meter_outbox WHERE account_id = $1 AND status <> 'sent') AS unsent")
          .execute(io.vertx.sqlclient.Tuple.of(account))).iterator().next();
      if (r.getLong("rows") == requests && r.getLong("unclaimed") == 0 && r.getLong("unsent") == 0) {
        return;
      }
      await(vertx.timer(50));
    }
    throw new AssertionError("account " + account + "'s usage did not reach Stripe within 30 s");
  }

  @Test
  @DisplayName("100 included + 30 bought, 180 used around the top-up: Stripe gets 50; a prepaid account on the same customer set gets 0")
  void onlyOverageReachesStripe() {
    try (Tollgate gateway = GatewayHarness.start(config(), Map.of("STRIPE_API_KEY", STRIPE_KEY))) {
      String customer = "cus_hy" + System.nanoTime();
      long account = linkedAccount(gateway, customer, new JsonObject().put("name", "hybrid").put("billingMode", "hybrid"));
      String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");

      assertThat(send(gateway, key, 20)).containsOnly(200);          // 60 of the 100 included
      drain(account, 20);
      assertThat(stripe.totalFor(customer)).as("all covered by credits").isZero();
      admin(gateway, HttpMethod.POST, "/admin/v1/accounts/" + account + "/credits",
          new JsonObject().put("amount", 30).put("reason", "top-up"));
      assertThat(send(gateway, key, 40)).containsOnly(200);          // 120 more: 70 covered, 50 overage
      drain(account, 60);
      assertThat(stripe.totalFor(customer)).isEqualTo(50);

      JsonObject credits = admin(gateway, HttpMethod.GET, "/admin/v1/accounts/" + account + "/credits", null);
      assertThat(credits.getLong("spendable")).as("Redis").isZero();
      assertThat(credits.getLong("ledgerSpendable")).as("the ledger agrees").isZero();

      // A later top-up pays new usage; it is not spent on the 50 already billed.
      admin(gateway, HttpMethod.POST, "/admin/v1/accounts/" + account + "/credits",
          new JsonObject().put("amount", 30).put("reason", "second top-up"));
      assertThat(send(gateway, key, 10)).containsOnly(200);          // 30: all covered
      drain(account, 70);
      assertThat(stripe.totalFor(customer)).isEqualTo(50);

      String prepaidCustomer = "cus_pp" + System.nanoTime();
      long prepaid = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "prepaid").put("plan", "hybrid")
          .put("billingMode", "prepaid"));
      admin(gateway, HttpMethod.PATCH, "/admin/v1/accounts/" + prepaid, new JsonObject().put("stripeCustomerId", prepaidCustomer));
      String prepaidKey = GatewayHarness.createKey(gateway, vertx, prepaid, new JsonObject()).getString("key");
      assertThat(send(gateway, prepaidKey, 10)).containsOnly(200);
      drain(prepaid, 10);
      assertThat(stripe.totalFor(prepaidCustomer)).as("prepaid usage never reaches Stripe").isZero();
    }
  }

  @Test
  @DisplayName("a spend cap of 9 on a hybrid account with 100 included: 36 requests of 3 pass (108 ≤ 109), the 37th is 402, Stripe gets 8")
  void spendCapBoundsOverage() {
    try (Tollgate gateway = GatewayHarness.start(config(), Map.of("STRIPE_API_KEY", STRIPE_KEY))) {
      String customer = "cus_cap" + System.nanoTime();
      long account = linkedAccount(gateway, customer, new JsonObject().put("name", "capped").put("billingMode", "hybrid")
          .put("spendCap", 9));
      String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
      List<Integer> statuses = new ArrayList<>();
      for (int i = 0; i < 37; i++) {
        statuses.addAll(send(gateway, key, 1));
      }
      assertThat(statuses.subList(0, 36)).containsOnly(200);
      assertThat(statuses.get(36)).isEqualTo(402);
      drain(account, 36);
      assertThat(stripe.totalFor(customer)).isEqualTo(8);
    }
  }
}
