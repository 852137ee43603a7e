package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.stripesync.fake.FakeStripe;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("Stripe does not order its deliveries: a paid invoice before its subscription event fetches the subscription from Stripe")
class StripeOrderingTest {

  private static final String STRIPE_KEY = "sk_test_ordering_0123456789";
  private static final String SECRET = "whsec_ordering_0123456789";
  private static final long PRO_CREDITS = 20_000;
  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static FakeStripe stripe;
  private static Tollgate gateway;
  private static Webhooks webhooks;
  private static Pool pg;

  @BeforeAll
  static void start() {
    stripe = await(new FakeStripe(vertx, STRIPE_KEY).start());
    gateway = GatewayHarness.start("""
        routes:
          - { prefix: /flat/, upstream: "%s/v1/", flatCost: 100 }
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0 }
          pro: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: %d, stripePrices: [price_pro] }
        billing:
          webhookMaxAttempts: 2
          webhookRetryBaseMs: 50
          checkoutSuccessUrl: https://app.example.com/billing/done
          checkoutCancelUrl: https://app.example.com/billing
        metering: { flushIntervalMs: 50 }
        stripe: { apiBase: "%s", meterEventsBase: "%s", syncIntervalMs: 3600000 }
        """.formatted(harness.stubBase(), PRO_CREDITS, stripe.baseUrl(), stripe.baseUrl()),
        Map.of("STRIPE_API_KEY", STRIPE_KEY, "STRIPE_WEBHOOK_SECRET", SECRET));
    webhooks = new Webhooks(vertx, gateway, SECRET);
    pg = GatewayHarness.postgres(vertx);
  }

  @AfterAll
  static void stop() throws Exception {
    pg.close().await(10, TimeUnit.SECONDS);
    gateway.close();
    await(stripe.close());
  }

  private static HttpTestClient.Reply admin(HttpMethod method, String uri, JsonObject body) {
    return GatewayHarness.adminCall(gateway, vertx, method, uri, body);
  }

  private static long count(String sql, Object... args) {
    return GatewayHarness.count(pg, sql, args);
  }

  /** A Checkout for plan pro completed in the fake Stripe; its events in Stripe's order of creation, undelivered. */
  private static List<JsonObject> subscribed(long account) {
    JsonObject session = admin(HttpMethod.POST, "/admin/v1/accounts/" + account + "/checkout", new JsonObject().put("plan", "pro")).json();
    List<JsonObject> events = stripe.completeCheckout(session.getString("id"));
    assertThat(events.stream().map(e -> e.getString("type")))
        .containsExactly("customer.subscription.created", "checkout.session.completed", "invoice.paid");
    return events;
  }

  private static JsonObject delivered(JsonObject event) {
    JsonObject done = webhooks.deliverAndWait(event);
    assertThat(done.getString("status")).as(event.getString("type") + ": " + done.getString("lastError")).isEqualTo("processed");
    return done;
  }

  private static long periodCredits(long account) {
    // In credits: the ledger holds units (1000 a credit), exactly convertible.
    return io.tollgate.config.Credits.toCredits(count("SELECT coalesce(sum(amount), 0) FROM credit_transactions WHERE account_id = $1 "
        + "AND kind = 'period_grant'", account)).longValueExact();
  }

  @Test
  @DisplayName("invoice.paid first and no subscription event ever: the account is on the plan with its period credits, once")
  void invoiceWithoutSubscriptionEvent() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "invoice first"));
    List<JsonObject> events = subscribed(account);
    int lookups = stripe.requestsTo("/v1/subscriptions");
    JsonObject paid = delivered(events.get(2));
    assertThat(paid.getInteger("attempts")).as("applied on its first attempt").isEqualTo(1);
    assertThat(stripe.requestsTo("/v1/subscriptions") - lookups).as("the unknown subscription was fetched").isEqualTo(1);
    JsonObject status = admin(HttpMethod.GET, "/admin/v1/accounts/" + account + "/subscription", null).json();
    assertThat(status.getString("plan")).isEqualTo("pro");
    assertThat(status.getString("status")).isEqualTo("active");
    assertThat(status.getJsonObject("subscription").getString("id")).isEqualTo(events.get(0).getJsonObject("data")
        .getJsonObject("object").getString("id"));
    assertThat(status.getJsonObject("subscription").getJsonArray("prices")).containsExactly("price_pro");
    assertThat(periodCredits(account)).isEqualTo(PRO_CREDITS);

    delivered(events.get(2).copy().put("id", events.get(2).getString("id") + "_again"));
    assertThat(periodCredits(account)).as("a second delivery of the payment grants nothing").isEqualTo(PRO_CREDITS);
  }

  @Test
  @DisplayName("invoice.paid first, then the checkout and subscription events: the plan and its credits still apply exactly once")
  void invoiceBeforeSubscriptionEvent() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "subscription late"));
    List<JsonObject> events = subscribed(account);
    delivered(events.get(2));
    delivered(events.get(1));
    JsonObject created = delivered(events.get(0));
    assertThat(created.getString("outcome")).contains("plan pro");
    JsonObject status = admin(HttpMethod.GET, "/admin/v1/accounts/" + account + "/subscription", null).json();
    assertThat(status.getString("plan")).isEqualTo("pro");
    assertThat(status.getString("status")).isEqualTo("active");
    assertThat(periodCredits(account)).isEqualTo(PRO_CREDITS);
    assertThat(count("SELECT count(*) FROM credit_transactions WHERE account_id = $1 AND kind = 'period_grant'", account)).isEqualTo(1);
  }
}
