package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.testing.TestServices;
import io.tollgate.stripesync.fake.FakeStripe;
import io.tollgate.stripesync.fake.StripeEvents;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("Checkout, the portal, invoices and auto top-up against a fake Stripe driven by the real stripe-java client")
class CheckoutAndTopUpTest {

  private static final String STRIPE_KEY = "sk_test_checkout_0123456789";
  private static final String SECRET = "whsec_checkout_0123456789";
  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static FakeStripe stripe;
  private static Tollgate gateway;
  private static Tollgate second;
  private static Webhooks webhooks;
  private static Pool pg;

  private static String yaml() {
    return """
        routes:
          - { prefix: /flat/, upstream: "%s/v1/", flatCost: 100 }
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0 }
          pro: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 20000, stripePrices: [price_pro, price_pro_meter] }
        billing:
          checkoutSuccessUrl: https://app.example.com/billing/done
          checkoutCancelUrl: https://app.example.com/billing
          portalReturnUrl: https://app.example.com/account
          autoTopUpCooldownMinutes: 10
          creditPacks:
            small: { credits: 5000, stripePrice: price_small, amount: 500 }
        metering: { flushIntervalMs: 50 }
        stripe: { apiBase: "%s", meterEventsBase: "%s", syncIntervalMs: 3600000 }
        """.formatted(harness.stubBase(), stripe.baseUrl(), stripe.baseUrl());
  }

  @BeforeAll
  static void start() {
    stripe = await(new FakeStripe(vertx, STRIPE_KEY).start());
    Map<String, String> env = Map.of("STRIPE_API_KEY", STRIPE_KEY, "STRIPE_WEBHOOK_SECRET", SECRET);
    gateway = GatewayHarness.start(yaml(), env);
    second = GatewayHarness.start(yaml(), env);
    webhooks = new Webhooks(vertx, gateway, SECRET);
    pg = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(TestServices.get().postgresUrl())).using(vertx).build();
  }

  @AfterAll
  static void stop() throws Exception {
    pg.close().await(10, TimeUnit.SECONDS);
    second.close();
    gateway.close();
    await(stripe.close());
  }

  private static HttpTestClient.Reply admin(HttpMethod method, String uri, JsonObject body) {
    return await(GatewayHarness.admin(vertx).send(method, gateway.adminPort(), uri, GatewayHarness.adminHeaders(),
        body == null ? null : body.toBuffer()));
  }

  private static long count(String sql, Object... args) {
    return await(pg.preparedQuery(sql).execute(Tuple.from(args))).iterator().next().getLong(0);
  }

  private static void eventually(String what, Supplier<Boolean> condition) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    while (!condition.get()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within 15 s: " + what);
      }
      await(vertx.timer(25));
    }
  }

  private static void deliverAll(List<JsonObject> events) {
    for (JsonObject e : events) {
      JsonObject done = webhooks.deliverAndWait(e);
      assertThat(done.getString("status")).as(e.getString("type") + ": " + done.getString("lastError")).isEqualTo("processed");
    }
  }

  @Test
  @DisplayName("Checkout for a plan creates the customer once; completing it puts the account on the plan with its credits; portal and invoices work")
  void subscribeThroughCheckout() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "checkout subscriber"));
    int customersBefore = stripe.customersCreated();
    HttpTestClient.Reply bad = admin(HttpMethod.POST, "/admin/v1/accounts/" + account + "/checkout", new JsonObject().put("plan", "free"));
    assertThat(bad.status()).isEqualTo(400);
    assertThat(bad.json().getString("detail")).contains("free is not sold through Stripe");
    assertThat(admin(HttpMethod.POST, "/admin/v1/accounts/" + account + "/portal", null).status()).as("no customer yet").isEqualTo(409);

    JsonObject session = admin(HttpMethod.POST, "/admin/v1/accounts/" + account + "/checkout",
        new JsonObject().put("plan", "pro").put("email", "owner@example.com")).json();
    assertThat(session.getString("url")).startsWith("http");
    String customer = session.getString("stripeCustomerId");
    assertThat(customer).startsWith("cus_");
    JsonObject again = admin(HttpMethod.POST, "/admin/v1/accounts/" + account + "/checkout", new JsonObject().put("plan", "pro")).json();
    assertThat(again.getString("stripeCustomerId")).isEqualTo(customer);
    assertThat(stripe.customersCreated() - customersBefore).as("the customer is created on first use only").isEqualTo(1);
    JsonObject stored = stripe.checkoutSession(session.getString("id")).orElseThrow();
    assertThat(stored.getString("client_reference_id")).isEqualTo(Long.toString(account));
    assertThat(stored.getString("success_url")).isEqualTo("https://app.example.com/billing/done");

    deliverAll(stripe.completeCheckout(session.getString("id")));
    JsonObject status = admin(HttpMethod.GET, "/admin/v1/accounts/" + account + "/subscription", null).json();
    assertThat(status.getString("plan")).isEqualTo("pro");
    assertThat(status.getJsonObject("subscription").getString("status")).isIn("active", "trialing");
    assertThat(count("SELECT coalesce(sum(amount), 0) FROM credit_transactions WHERE account_id = $1 AND kind = 'period_grant'", account))
        .as("in units, 1000 a credit").isEqualTo(20_000_000);

    JsonObject portal = admin(HttpMethod.POST, "/admin/v1/accounts/" + account + "/portal", null).json();
    assertThat(portal.getString("url")).startsWith("http");
    JsonArray invoices = admin(HttpMethod.GET, "/admin/v1/accounts/" + account + "/invoices?refresh=true", null).json().getJsonArray("data");
    assertThat(invoices).isNotEmpty();
    assertThat(invoices.getJsonObject(0).getString("status")).isEqualTo("paid");
    assertThat(admin(HttpMethod.GET, "/admin/v1/accounts/" + account + "/subscription", null).text()).doesNotContain(STRIPE_KEY);
  }

  @Test
  @DisplayName("a credit pack bought through Checkout credits once, though every event is delivered three times")
  void packThroughCheckout() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "pack buyer"));
    JsonObject session = admin(HttpMethod.POST, "/admin/v1/accounts/" + account + "/checkout", new JsonObject().put("pack", "small")).json();
    List<JsonObject> events = stripe.completeCheckout(session.getString("id"));
    for (int i = 0; i < 3; i++) {
      deliverAll(events);
    }
    assertThat(count("SELECT coalesce(sum(amount), 0) FROM credit_transactions WHERE account_id = $1 AND kind = 'top_up'", account))
        .as("in units, 1000 a credit").isEqualTo(5_000_000);
    assertThat(admin(HttpMethod.GET, "/admin/v1/accounts/" + account, null).json().getJsonObject("credits").getLong("spendable"))
        .isEqualTo(5000);
    assertThat(admin(HttpMethod.POST, "/admin/v1/accounts/" + account + "/checkout", new JsonObject().put("pack", "huge")).status())
        .isEqualTo(400);
  }

  /** A prepaid account with a Stripe customer whose default card has this outcome. */
  private static long customerWithCard(String name, long credits, FakeStripe.CardOutcome outcome) {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", name).put("initialCredits", credits));
    String customer = admin(HttpMethod.POST, "/admin/v1/accounts/" + account + "/checkout", new JsonObject().put("pack", "small"))
        .json().getString("stripeCustomerId");
    stripe.attachCard(customer, true);
    stripe.cardOutcome(customer, outcome);
    return account;
  }

  /** The auto top-up check the instance runs after storing an account's usage; the top-ups it started. */
  private static List<Long> checkTopUps(Tollgate instance, long account) {
    return await(instance.services().billing().checkTopUps(List.of(account)));
  }

  /** n requests of 100 credits each, spread over both instances, all at once. */
  private static int spend(String key, int n) {
    List<Future<HttpTestClient.Reply>> calls = new ArrayList<>();
    HttpTestClient client = new HttpTestClient(vertx, false, key);
    for (int i = 0; i < n; i++) {
      calls.add(client.get((i % 2 == 0 ? gateway : second).proxyPort(), "/flat/models"));
    }
    await(Future.join(calls));
    return (int) calls.stream().filter(f -> f.succeeded() && f.result().status() == 200).count();
  }

  private static JsonArray topUps(long account) {
    return admin(HttpMethod.GET, "/admin/v1/accounts/" + account + "/top-ups", null).json().getJsonArray("data");
  }

  @Test
  @DisplayName("auto top-up fires once under concurrent spending on two instances, grants once, and waits out its cooldown")
  void autoTopUpOnce() {
    long account = customerWithCard("auto top-up", 3000, FakeStripe.CardOutcome.SUCCEED);
    String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
    JsonObject set = admin(HttpMethod.PUT, "/admin/v1/accounts/" + account + "/auto-top-up",
        new JsonObject().put("pack", "small").put("thresholdCredits", 2000)).json();
    assertThat(set.getBoolean("active")).isTrue();
    int intentsBefore = stripe.paymentIntentsCreated();
    int mark = stripe.eventCount();

    // 20 × 100 of 3,000 credits: every request is affordable, whenever the top-up lands.
    int ok = spend(key, 20);
    assertThat(ok).isEqualTo(20);
    eventually("a top-up succeeded", () -> topUps(account).stream().map(JsonObject.class::cast)
        .anyMatch(t -> "succeeded".equals(t.getString("status"))));
    // Both instances kept checking after every flush; spend below the threshold again within the cooldown.
    // 1,000 + 5,000 left: 60 × 100 are all affordable and end at 0, below the threshold again.
    int more = spend(key, 60);
    assertThat(more).isEqualTo(60);
    eventually("all usage stored", () -> count("SELECT count(*) FROM usage_events WHERE account_id = $1", account) == ok + more);
    // Instead of waiting for the after-flush checks to (not) charge again: each instance checks now, and
    // the cooldown must keep both from starting a top-up (a check that did would return it).
    assertThat(checkTopUps(gateway, account)).as("checked on the first instance within the cooldown").isEmpty();
    assertThat(checkTopUps(second, account)).as("checked on the second instance within the cooldown").isEmpty();
    assertThat(stripe.paymentIntentsCreated() - intentsBefore).as("one charge").isEqualTo(1);
    assertThat(topUps(account)).hasSize(1);
    assertThat(count("SELECT coalesce(sum(amount), 0) FROM credit_transactions WHERE account_id = $1 AND kind = 'top_up'", account))
        .as("in units, 1000 a credit").isEqualTo(5_000_000);
    // Stripe's own payment_intent.succeeded for it changes nothing.
    List<JsonObject> events = stripe.eventsSince(mark).stream().filter(e -> e.getString("type").startsWith("payment_intent.")).toList();
    assertThat(events).isNotEmpty();
    deliverAll(events);
    assertThat(count("SELECT coalesce(sum(amount), 0) FROM credit_transactions WHERE account_id = $1 AND kind = 'top_up'", account))
        .as("in units, 1000 a credit").isEqualTo(5_000_000);
    // Credits granted = debited + balance, through the top-up: Redis and the ledger agree.
    int total = ok + more;
    eventually("all usage stored", () -> count("SELECT count(*) FROM usage_events WHERE account_id = $1", account) == total);
    JsonObject credits = admin(HttpMethod.GET, "/admin/v1/accounts/" + account + "/credits", null).json();
    assertThat(credits.getLong("spendable")).isEqualTo(3000 + 5000 - 100L * total).isGreaterThanOrEqualTo(0);
    assertThat(credits.getLong("ledgerSpendable")).isEqualTo(credits.getLong("spendable"));
  }

  @Test
  @DisplayName("a declined top-up fails once, notifies, pauses auto top-up (no retry loop) until the operator sets it again")
  void declinedTopUp() {
    long account = customerWithCard("declined", 2500, FakeStripe.CardOutcome.DECLINE);
    String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
    admin(HttpMethod.PUT, "/admin/v1/accounts/" + account + "/auto-top-up", new JsonObject().put("pack", "small").put("thresholdCredits", 2000));
    int intentsBefore = stripe.paymentIntentsCreated();
    spend(key, 10);
    eventually("the top-up failed", () -> topUps(account).stream().map(JsonObject.class::cast)
        .anyMatch(t -> "failed".equals(t.getString("status"))));
    spend(key, 10);
    // Paused: a check on either instance starts nothing, however low the balance (no timed wait for a retry).
    assertThat(checkTopUps(gateway, account)).isEmpty();
    assertThat(checkTopUps(second, account)).isEmpty();
    assertThat(topUps(account)).hasSize(1);
    assertThat(topUps(account).getJsonObject(0).getString("lastError")).contains("insufficient_funds");
    assertThat(stripe.paymentIntentsCreated() - intentsBefore).as("the one declined charge").isEqualTo(1);
    JsonObject status = admin(HttpMethod.GET, "/admin/v1/accounts/" + account + "/subscription", null).json();
    assertThat(status.getJsonObject("autoTopUp").getBoolean("paused")).isTrue();
    assertThat(count("SELECT count(*) FROM notifications WHERE account_id = $1 AND kind = 'top_up_failed'", account)).isEqualTo(1);
    assertThat(count("SELECT coalesce(sum(amount), 0) FROM credit_transactions WHERE account_id = $1 AND kind = 'top_up'", account)).isZero();

    JsonObject resumed = admin(HttpMethod.PUT, "/admin/v1/accounts/" + account + "/auto-top-up",
        new JsonObject().put("pack", "small").put("thresholdCredits", 2000)).json();
    assertThat(resumed.getJsonObject("autoTopUp").getBoolean("paused")).isFalse();
  }

  @Test
  @DisplayName("a meter error report arrives as a v2 thin event: its counts are fetched from Stripe and counted")
  void thinMeterErrorReport() {
    StripeEvents.MeterErrorReport report = StripeEvents.meterErrorReport().meter("mtr_thin")
        .error("meter_event_customer_not_found", 3, "No customer", "tg_x");
    JsonObject thin = stripe.reportMeterErrors(report);
    double before = gateway.registry().find("tollgate_stripe_meter_errors").counter() == null ? 0
        : gateway.registry().get("tollgate_stripe_meter_errors").counter().count();
    JsonObject done = webhooks.deliverAndWait(thin);
    assertThat(done.getString("status")).isEqualTo("processed");
    assertThat(done.getString("outcome")).contains("mtr_thin").contains("3 error(s)").contains("meter_event_customer_not_found");
    assertThat(gateway.registry().get("tollgate_stripe_meter_errors").counter().count() - before).isEqualTo(3);
  }

  @Test
  @DisplayName("auto top-up on a postpaid account is a problem+json 400 naming 'pack', and changes and audits nothing")
  void autoTopUpRefusedForPostpaid() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "postpaid top-up")
        .put("billingMode", "postpaid"));
    HttpTestClient.Reply reply = admin(HttpMethod.PUT, "/admin/v1/accounts/" + account + "/auto-top-up",
        new JsonObject().put("pack", "small").put("thresholdCredits", 1000));
    assertThat(reply.status()).as(reply.text()).isEqualTo(400);
    assertThat(reply.headers().get("content-type")).isEqualTo("application/problem+json");
    assertThat(reply.json().getString("type")).isEqualTo("https://tollgate.dev/problems/invalid-request");
    assertThat(reply.json().getString("title")).isEqualTo("Invalid request");
    assertThat(reply.json().getString("detail"))
        .isEqualTo("'pack' auto top-up needs a prepaid or hybrid account (account " + account + " is postpaid)");
    assertThat(count("SELECT count(*) FROM account_billing WHERE account_id = $1 AND auto_top_up_pack IS NOT NULL", account))
        .isZero();
    assertThat(count("SELECT count(*) FROM audit_log WHERE action = 'billing.auto_top_up' AND resource_id = $1",
        Long.toString(account))).isZero();
  }
}
