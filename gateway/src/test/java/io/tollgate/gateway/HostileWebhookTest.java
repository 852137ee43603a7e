package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.stripesync.fake.StripeEvents;
import io.tollgate.stripesync.fake.StripeObjects;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("Hostile Stripe webhook deliveries are always answered, and a signed event is never unstorable")
class HostileWebhookTest {

  static final String SECRET = "whsec_test_hostile_0123456789";
  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static Tollgate gateway;
  private static Webhooks webhooks;

  @BeforeAll
  static void start() {
    gateway = GatewayHarness.start("""
        routes:
          - { prefix: /v1/, upstream: "%s/v1/", usage: openai }
        """.formatted(harness.stubBase()), Map.of("STRIPE_WEBHOOK_SECRET", SECRET));
    webhooks = new Webhooks(vertx, gateway, SECRET);
  }

  @AfterAll
  static void stop() {
    gateway.close();
  }

  @Test
  @DisplayName("a Stripe-Signature whose t= is not a number is answered 400 at once, naming the header")
  void nonNumericTimestamp() {
    String body = StripeObjects.customer().email("a@example.com").createdEvent().created(Instant.now()).json().encode();
    for (String header : new String[] {"t=abc,v1=00ff", "t=99999999999999999999999,v1=00ff", "t=,v1=00ff", "t=1e9,v1=00"}) {
      HttpTestClient.Reply reply = webhooks.post(body, header);
      assertThat(reply.status()).as(header).isEqualTo(400);
      assertThat(reply.json().getString("detail")).as(header).contains("Stripe-Signature header is malformed");
    }
  }

  @Test
  @DisplayName("a signed event whose created time Postgres cannot hold is refused 400 with the field named, not 503 forever")
  void createdOutOfRange() {
    JsonObject e = StripeEvents.event("radar.early_fraud_warning.created", new JsonObject().put("id", "issfr_far")).json()
        .put("created", 1e30);
    String body = e.encode();
    HttpTestClient.Reply reply = webhooks.post(body, Webhooks.sign(body, SECRET, Instant.now().getEpochSecond()));
    assertThat(reply.status()).isEqualTo(400);
    assertThat(reply.json().getString("detail")).contains("'created'");
  }

  @Test
  @DisplayName("a signed event with a NUL is stored (200), applied, and kept byte for byte; a redelivery is a duplicate")
  void nulIsStoredLosslessly() {
    JsonObject e = StripeEvents.event("radar.early_fraud_warning.created",
        new JsonObject().put("id", "issfr_nul").put("note", "before\u0000after").put("k\u0000ey", "v")).json();
    String body = e.encode();
    assertThat(body).as("the JSON escape, as Stripe would send it").contains("\\u0000");
    long now = Instant.now().getEpochSecond();

    HttpTestClient.Reply first = webhooks.post(body, Webhooks.sign(body, SECRET, now));
    assertThat(first.status()).as(first.text()).isEqualTo(200);
    assertThat(first.json().getBoolean("duplicate")).isFalse();
    JsonObject row = webhooks.awaitDone(e.getString("id"));
    assertThat(row.getString("status")).isEqualTo("processed");
    assertThat(row.getString("rawBody")).as("the body exactly as signed").isEqualTo(body);
    JsonObject object = row.getJsonObject("payload").getJsonObject("data").getJsonObject("object");
    assertThat(object.getString("note")).isEqualTo("before\uFFFDafter");
    assertThat(object.getString("k\uFFFDey")).isEqualTo("v");

    HttpTestClient.Reply again = webhooks.post(body, Webhooks.sign(body, SECRET, now));
    assertThat(again.status()).isEqualTo(200);
    assertThat(again.json().getBoolean("duplicate")).isTrue();
  }

  @Test
  @DisplayName("an event without a NUL keeps no second copy of its body")
  void noRawCopyWithoutNul() {
    JsonObject e = StripeEvents.event("radar.early_fraud_warning.created", new JsonObject().put("id", "issfr_plain")).json();
    webhooks.deliver(e);
    JsonObject row = webhooks.awaitDone(e.getString("id"));
    assertThat(row.containsKey("rawBody")).isFalse();
    assertThat(row.getJsonObject("payload")).isEqualTo(e);
  }
}
