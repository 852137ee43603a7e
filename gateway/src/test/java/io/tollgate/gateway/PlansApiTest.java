package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.stripesync.fake.FakeStripe;
import io.tollgate.stripesync.fake.StripeObjects;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("GET /admin/v1/plans: the plan catalog with its Stripe prices' amounts, read from Stripe and cached")
class PlansApiTest {

  private static final String STRIPE_KEY = "sk_test_plans_0123456789";
  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static FakeStripe stripe;
  private static Tollgate gateway;

  @BeforeAll
  static void start() {
    stripe = await(new FakeStripe(vertx, STRIPE_KEY).start());
    stripe.definePrice(StripeObjects.price("price_starter_month").unitAmount(999).currency("usd"));
    stripe.definePrice(StripeObjects.price("price_pro_month").unitAmount(9900).currency("usd"));
    stripe.definePrice(StripeObjects.price("price_pro_meter").metered("mtr_pro").unitAmount(4).currency("usd"));
    gateway = GatewayHarness.start("""
        routes:
          - { prefix: /v1/, upstream: "%s/v1/", usage: openai }
          - { prefix: /batch/, upstream: "%s/v1/", flatCost: 1, feature: batch }
        plans:
          pro: { requestsPerMinute: 600, tokensPerMinute: 0, includedCredits: 9900, stripePrices: [price_pro_month, price_pro_meter],
                 features: [batch], overage: bill }
          free: { requestsPerMinute: 10, tokensPerMinute: 1000, includedCredits: 45, models: [gpt-4o-mini] }
          starter: { requestsPerMinute: 60, tokensPerMinute: 0, includedCredits: 975, stripePrices: [price_starter_month, price_gone] }
        stripe: { apiBase: "%s", meterEventsBase: "%s", syncIntervalMs: 3600000 }
        """.formatted(harness.stubBase(), harness.stubBase(), stripe.baseUrl(), stripe.baseUrl()), Map.of("STRIPE_API_KEY", STRIPE_KEY));
  }

  @AfterAll
  static void stop() {
    gateway.close();
    await(stripe.close());
  }

  private static HttpTestClient.Reply plans() {
    return await(GatewayHarness.admin(vertx).send(HttpMethod.GET, gateway.adminPort(), "/admin/v1/plans", GatewayHarness.adminHeaders(),
        null));
  }

  @Test
  @DisplayName("lists every plan by included credits with limits, models, features, overage and each price's amount; Stripe is asked once per price")
  void catalog() {
    int before = stripe.requestsTo("/v1/prices");
    HttpTestClient.Reply reply = plans();
    assertThat(reply.status()).isEqualTo(200);
    JsonObject body = reply.json();
    assertThat(body.getBoolean("pricesFromStripe")).isTrue();
    JsonArray data = body.getJsonArray("data");
    assertThat(data.stream().map(JsonObject.class::cast).map(p -> p.getString("name"))).containsExactly("free", "starter", "pro");

    JsonObject free = data.getJsonObject(0);
    assertThat(free.getJsonObject("limits")).isEqualTo(new JsonObject().put("requestsPerMinute", 10).put("tokensPerMinute", 1000));
    assertThat(free.getLong("includedCredits")).isEqualTo(45);
    assertThat(free.getJsonArray("models")).containsExactly("gpt-4o-mini");
    assertThat(free.getString("overage")).isEqualTo("block");
    assertThat(free.getJsonArray("stripePrices")).isEmpty();

    JsonObject pro = data.getJsonObject(2);
    assertThat(pro.getJsonArray("features")).containsExactly("batch");
    assertThat(pro.getString("overage")).isEqualTo("bill");
    JsonObject base = pro.getJsonArray("stripePrices").getJsonObject(0);
    assertThat(base.getString("id")).isEqualTo("price_pro_month");
    assertThat(base.getLong("unitAmount")).isEqualTo(9900);
    assertThat(base.getString("currency")).isEqualTo("usd");
    assertThat(base.getString("interval")).isEqualTo("month");
    JsonObject meter = pro.getJsonArray("stripePrices").getJsonObject(1);
    assertThat(meter.getString("usageType")).isEqualTo("metered");
    assertThat(meter.getLong("unitAmount")).isEqualTo(4);

    JsonArray starterPrices = data.getJsonObject(1).getJsonArray("stripePrices");
    assertThat(starterPrices.getJsonObject(0).getLong("unitAmount")).isEqualTo(999);
    assertThat(starterPrices.getJsonObject(1).getString("id")).isEqualTo("price_gone");
    assertThat(starterPrices.getJsonObject(1).getString("error")).contains("No such price").doesNotContain(STRIPE_KEY);
    assertThat(stripe.requestsTo("/v1/prices") - before).as("each of the 4 prices asked once").isEqualTo(4);

    JsonObject again = plans().json();
    assertThat(again.getJsonArray("data").getJsonObject(2).getJsonArray("stripePrices").getJsonObject(0).getLong("unitAmount"))
        .isEqualTo(9900);
    assertThat(stripe.requestsTo("/v1/prices") - before).as("found prices come from the cache; the missing one is asked again")
        .isEqualTo(5);
  }
}
