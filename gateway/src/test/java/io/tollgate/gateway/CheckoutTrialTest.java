package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.stripesync.fake.FakeStripe;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("Checkout trials, with or without a card, as Stripe receives them (fake Stripe, real stripe-java client)")
class CheckoutTrialTest {

  private static final String STRIPE_KEY = "sk_test_trial_0123456789";
  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static FakeStripe stripe;
  private static Tollgate gateway;

  @BeforeAll
  static void start() {
    stripe = await(new FakeStripe(vertx, STRIPE_KEY).start());
    String yaml = """
        routes:
          - { prefix: /flat/, upstream: "%s/v1/", flatCost: 100 }
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0 }
          pro: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 20000, stripePrices: [price_trial_pro] }
        billing:
          checkoutSuccessUrl: https://app.example.com/billing/done
          checkoutCancelUrl: https://app.example.com/billing
          trialDays: 7
          creditPacks:
            small: { credits: 5000, stripePrice: price_trial_small, amount: 500 }
        stripe: { apiBase: "%s", meterEventsBase: "%s", syncIntervalMs: 3600000 }
        """.formatted(harness.stubBase(), stripe.baseUrl(), stripe.baseUrl());
    gateway = GatewayHarness.start(yaml, Map.of("STRIPE_API_KEY", STRIPE_KEY, "STRIPE_WEBHOOK_SECRET", "whsec_trial_0123456789"));
  }

  @AfterAll
  static void stop() throws Exception {
    gateway.close();
    await(stripe.close());
  }

  private static HttpTestClient.Reply checkout(long account, JsonObject body) {
    return await(GatewayHarness.admin(vertx).send(HttpMethod.POST, gateway.adminPort(), "/admin/v1/accounts/" + account + "/checkout",
        GatewayHarness.adminHeaders(), body.toBuffer()));
  }

  /** The form parameters Stripe received for the session the checkout call created. */
  private static JsonObject sentToStripe(long account, JsonObject body) {
    HttpTestClient.Reply reply = checkout(account, body);
    assertThat(reply.status()).as(reply.text()).isEqualTo(201);
    return stripe.checkoutParams(reply.json().getString("id")).orElseThrow();
  }

  private static long account(String name) {
    return GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", name));
  }

  @Test
  @DisplayName("a trial without a card: payment_method_collection=if_required, the chosen end behavior, the configured 7 days by default")
  void withoutCard() {
    long account = account("trial without card");
    JsonObject cancel = sentToStripe(account, new JsonObject().put("plan", "pro")
        .put("trial", new JsonObject().put("withoutCard", true).put("onMissingPaymentMethod", "cancel")));
    assertThat(cancel.getString("mode")).isEqualTo("subscription");
    assertThat(cancel.getString("payment_method_collection")).isEqualTo("if_required");
    JsonObject data = cancel.getJsonObject("subscription_data");
    assertThat(data.getString("trial_period_days")).as("billing.trialDays").isEqualTo("7");
    assertThat(data.getJsonObject("trial_settings").getJsonObject("end_behavior").getString("missing_payment_method")).isEqualTo("cancel");

    JsonObject pause = sentToStripe(account, new JsonObject().put("plan", "pro")
        .put("trial", new JsonObject().put("days", 3).put("withoutCard", true).put("onMissingPaymentMethod", "pause")));
    assertThat(pause.getString("payment_method_collection")).isEqualTo("if_required");
    assertThat(pause.getJsonObject("subscription_data").getString("trial_period_days")).isEqualTo("3");
    assertThat(pause.getJsonObject("subscription_data").getJsonObject("trial_settings").getJsonObject("end_behavior")
        .getString("missing_payment_method")).isEqualTo("pause");
  }

  @Test
  @DisplayName("a trial with a card, and no trial: Checkout collects the card as always and sends no trial settings")
  void withCard() {
    long account = account("trial with card");
    JsonObject withCard = sentToStripe(account, new JsonObject().put("plan", "pro").put("trial", new JsonObject().put("days", 5)));
    assertThat(withCard.getString("payment_method_collection")).isNull();
    assertThat(withCard.getJsonObject("subscription_data").getString("trial_period_days")).isEqualTo("5");
    assertThat(withCard.getJsonObject("subscription_data").getValue("trial_settings")).isNull();

    JsonObject legacy = sentToStripe(account, new JsonObject().put("plan", "pro").put("trialDays", 4));
    assertThat(legacy.getString("payment_method_collection")).isNull();
    assertThat(legacy.getJsonObject("subscription_data").getString("trial_period_days")).isEqualTo("4");
    assertThat(legacy.getJsonObject("subscription_data").getValue("trial_settings")).isNull();

    JsonObject none = sentToStripe(account, new JsonObject().put("plan", "pro"));
    assertThat(none.getString("payment_method_collection")).isNull();
    assertThat(none.getJsonObject("subscription_data").getValue("trial_period_days")).isNull();
    assertThat(none.getJsonObject("subscription_data").getValue("trial_settings")).isNull();
  }

  @Test
  @DisplayName("a trial request Stripe could not honour is refused with 400 naming the field, and opens no session")
  void refused() {
    long account = account("bad trial");
    int before = stripe.checkoutSessions();
    Map<JsonObject, String> cases = Map.of(
        new JsonObject().put("plan", "pro").put("trial", new JsonObject().put("withoutCard", true)), "'trial.onMissingPaymentMethod' is required",
        new JsonObject().put("plan", "pro").put("trial", new JsonObject().put("withoutCard", true).put("onMissingPaymentMethod", "delete")),
        "'trial.onMissingPaymentMethod' must be",
        new JsonObject().put("plan", "pro").put("trial", new JsonObject().put("days", 0)), "'trial.days' must be an integer from 1 to 730",
        new JsonObject().put("plan", "pro").put("trial", new JsonObject().put("days", 731)), "'trial.days' must be an integer from 1 to 730",
        new JsonObject().put("plan", "pro").put("trial", new JsonObject().put("onMissingPaymentMethod", "cancel")),
        "'trial.onMissingPaymentMethod' applies only to a trial with withoutCard: true",
        new JsonObject().put("plan", "pro").put("trial", "7"), "'trial' must be an object",
        new JsonObject().put("pack", "small").put("trial", new JsonObject().put("days", 3)), "'trial' applies to plans only");
    cases.forEach((body, detail) -> {
      HttpTestClient.Reply reply = checkout(account, body);
      assertThat(reply.status()).as(body.encode()).isEqualTo(400);
      assertThat(reply.json().getString("detail")).as(body.encode()).contains(detail);
    });
    assertThat(stripe.checkoutSessions()).as("no session was opened").isEqualTo(before);
  }
}
