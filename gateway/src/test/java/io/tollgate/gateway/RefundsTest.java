package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.stripesync.fake.StripeIds;
import io.tollgate.stripesync.fake.StripeObjects;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("Refunds and disputes of a credit pack take back its unspent credits, once, and report what was already spent")
class RefundsTest {

  private static final String SECRET = "whsec_refunds_0123456789";
  private static final long PACK_CREDITS = 1000;
  private static final long PACK_PRICE = 500;
  private static final long REQUEST_COST = 100;
  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static Tollgate gateway;
  private static Webhooks webhooks;
  private static Pool pg;

  @BeforeAll
  static void start() {
    gateway = GatewayHarness.start("""
        routes:
          - { prefix: /flat/, upstream: "%s/v1/", flatCost: %d }
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0 }
        billing:
          webhookMaxAttempts: 2
          webhookRetryBaseMs: 50
          creditPacks:
            small: { credits: %d, stripePrice: price_small, amount: %d }
        metering: { flushIntervalMs: 50 }
        """.formatted(harness.stubBase(), REQUEST_COST, PACK_CREDITS, PACK_PRICE), Map.of("STRIPE_WEBHOOK_SECRET", SECRET));
    webhooks = new Webhooks(vertx, gateway, SECRET);
    pg = GatewayHarness.postgres(vertx);
  }

  @AfterAll
  static void stop() throws Exception {
    pg.close().await(10, TimeUnit.SECONDS);
    gateway.close();
  }

  private static HttpTestClient.Reply admin(HttpMethod method, String uri) {
    return GatewayHarness.adminCall(gateway, vertx, method, uri, null);
  }

  private static long count(String sql, Object... args) {
    return GatewayHarness.count(pg, sql, args);
  }

  private static long spendable(long account) {
    return admin(HttpMethod.GET, "/admin/v1/accounts/" + account).json().getJsonObject("credits").getLong("spendable");
  }

  private static JsonObject processed(JsonObject event) {
    JsonObject done = webhooks.deliverAndWait(event);
    assertThat(done.getString("status")).as(event.getString("type") + ": " + done.getString("lastError")).isEqualTo("processed");
    return done;
  }

  /** An account that bought the small pack through Checkout, paid by the returned PaymentIntent, then made {@code requests} requests. */
  private static long buyAndSpend(String paymentIntent, String customer, int requests) {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "refunded " + paymentIntent));
    processed(StripeObjects.checkoutSession().customer(customer).account(account).paymentIntent(paymentIntent)
        .amountTotal(PACK_PRICE).creditPack("small", PACK_CREDITS).completedEvent().created(Instant.now()).json());
    assertThat(spendable(account)).isEqualTo(PACK_CREDITS);
    String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
    for (int i = 0; i < requests; i++) {
      HttpTestClient.Reply r = await(new HttpTestClient(vertx, false, key).send(HttpMethod.GET, gateway.proxyPort(), "/flat/models",
          GatewayHarness.bearer(key), null));
      assertThat(r.status()).isEqualTo(200);
    }
    eventually("the requests settled", () -> spendable(account) == PACK_CREDITS - requests * REQUEST_COST);
    return account;
  }

  private static void eventually(String what, java.util.function.Supplier<Boolean> condition) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.get()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within 10 s: " + what);
      }
      await(vertx.timer(25));
    }
  }

  private static JsonArray notifications(long account) {
    return admin(HttpMethod.GET, "/admin/v1/notifications?accountId=" + account).json().getJsonArray("data");
  }

  @Test
  @DisplayName("a full refund after 700 of 1,000 credits were spent takes back the 300 left, raises the 700 shortfall once, and a replay takes nothing")
  void refundAfterSpending() {
    String pi = StripeIds.next("pi");
    String customer = StripeIds.next("cus");
    long account = buyAndSpend(pi, customer, 7);

    StripeObjects.Charge charge = StripeObjects.charge(pi).customer(customer).amount(PACK_PRICE).refundedSoFar(PACK_PRICE);
    JsonObject refunded = processed(charge.refundedEvent().created(Instant.now()).json());
    assertThat(refunded.getString("outcome")).contains("300 credits taken back").contains("700 already spent");
    assertThat(spendable(account)).as("never below zero: the unspent 300 are gone, no more").isZero();
    assertThat(count("SELECT coalesce(sum(amount), 0) FROM credit_transactions WHERE account_id = $1 AND kind = 'refund'", account))
        .as("in units, 1000 a credit").isEqualTo(-300_000);
    JsonArray notes = notifications(account);
    assertThat(notes.stream().map(JsonObject.class::cast).filter(n -> n.getString("kind").equals("refund_shortfall")).toList())
        .singleElement().satisfies(n -> assertThat(n.getJsonObject("data").getLong("shortfall")).isEqualTo(700));
    assertThat(count("SELECT count(*) FROM audit_log WHERE action = 'credits.take_back' AND resource_id = $1", Long.toString(account)))
        .isEqualTo(1);

    // Stripe delivers the refund again (a new event about the same refund), and the account buys nothing in between.
    JsonObject again = processed(charge.refundedEvent().created(Instant.now()).json());
    assertThat(again.getString("outcome")).contains("already taken back");
    assertThat(count("SELECT coalesce(sum(amount), 0) FROM credit_transactions WHERE account_id = $1 AND kind = 'refund'", account))
        .as("in units, 1000 a credit").isEqualTo(-300_000);
    assertThat(notifications(account).stream().map(JsonObject.class::cast).filter(n -> n.getString("kind").equals("refund_shortfall")))
        .hasSize(1);
    eventually("the ledger agrees once the usage is in Postgres", () -> admin(HttpMethod.GET, "/admin/v1/accounts/" + account
        + "/credits").json().getLong("ledgerSpendable") == 0);
  }

  @Test
  @DisplayName("a half refund takes back half the pack; a dispute of the charge then takes back the rest that is unspent")
  void partialRefundThenDispute() {
    String pi = StripeIds.next("pi");
    String customer = StripeIds.next("cus");
    long account = buyAndSpend(pi, customer, 2);

    StripeObjects.Charge charge = StripeObjects.charge(pi).customer(customer).amount(PACK_PRICE).refundedSoFar(PACK_PRICE / 2);
    assertThat(processed(charge.refundedEvent().created(Instant.now()).json()).getString("outcome")).contains("500 credits taken back");
    assertThat(spendable(account)).isEqualTo(300);
    // Only the purchase's receipt: nothing was spent that the refund wants back, so no shortfall is raised.
    assertThat(notifications(account).stream().map(JsonObject.class::cast).map(n -> n.getString("kind")).toList())
        .containsExactly("top_up_receipt");

    assertThat(processed(charge.disputeCreatedEvent("fraudulent").created(Instant.now()).json()).getString("outcome"))
        .contains("300 credits taken back").contains("200 already spent");
    assertThat(spendable(account)).isZero();
    assertThat(count("SELECT coalesce(sum(amount), 0) FROM credit_transactions WHERE account_id = $1 AND kind = 'refund'", account))
        .as("in units, 1000 a credit").isEqualTo(-800_000);

    // A charge Tollgate did not sell credits for is left alone.
    assertThat(processed(StripeObjects.charge(StripeIds.next("pi")).refundedSoFar(1000).refundedEvent().created(Instant.now()).json())
        .getString("outcome")).startsWith("ignored");
  }
}
