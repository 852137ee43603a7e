package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.stripesync.fake.StripeIds;
import io.tollgate.stripesync.fake.StripeObjects;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("Notices by email when mail is off, and when the SMTP server cannot be reached")
class NoticeEmailOffTest {

  private static final String SECRET = "whsec_mailoff_0123456789";
  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;

  private static String yaml(String alerts) {
    return """
        routes:
          - { prefix: /flat/, upstream: "%s/v1/", flatCost: 100 }
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0 }
        billing:
          creditPacks:
            small: { credits: 1000, stripePrice: price_small, amount: 500 }
        %s
        metering: { flushIntervalMs: 50 }
        """.formatted(harness.stubBase(), alerts);
  }

  private static JsonObject receipt(Tollgate gateway, long account) {
    Webhooks webhooks = new Webhooks(vertx, gateway, SECRET);
    JsonObject done = webhooks.deliverAndWait(StripeObjects.checkoutSession().customer(StripeIds.next("cus")).account(account)
        .paymentIntent(StripeIds.next("pi")).amountTotal(500).creditPack("small", 1000).completedEvent().created(Instant.now()).json());
    assertThat(done.getString("status")).as(done.getString("lastError")).isEqualTo("processed");
    return GatewayHarness.adminCall(gateway, vertx, HttpMethod.GET, "/admin/v1/notifications?accountId=" + account, null).json()
        .getJsonArray("data").stream().map(JsonObject.class::cast).filter(n -> n.getString("kind").equals("top_up_receipt"))
        .findFirst().orElseThrow();
  }

  @Test
  @DisplayName("Without alerts.email nothing is queued for mail; an unreachable SMTP server is retried, then the mail is marked failed, never sent twice")
  void offAndUnreachable() throws Exception {
    Tollgate off = GatewayHarness.start(yaml(""), Map.of("STRIPE_WEBHOOK_SECRET", SECRET));
    try {
      long account = GatewayHarness.createAccount(off, vertx, new JsonObject().put("name", "mail off"));
      GatewayHarness.adminCall(off, vertx, HttpMethod.PUT, "/admin/v1/accounts/" + account + "/email",
          new JsonObject().put("recipients", new JsonArray().add("owner@acme.test")));
      assertThat(receipt(off, account).getJsonObject("email").getString("status")).isEqualTo("none");
    } finally {
      off.close();
    }

    // Nothing listens there: a port below the ephemeral range, so the mailer's own connection can never be handed it
    // as its local port and connect to itself (FreePorts).
    int closedPort = io.tollgate.embedded.FreePorts.pick();
    Tollgate unreachable = GatewayHarness.start(yaml("""
        alerts:
          maxAttempts: 2
          retryBaseMs: 50
          timeoutMs: 2000
          email: { host: 127.0.0.1, port: %d, from: billing@tollgate.test, startTls: disabled }
        """.formatted(closedPort)), Map.of("STRIPE_WEBHOOK_SECRET", SECRET));
    try {
      long account = GatewayHarness.createAccount(unreachable, vertx, new JsonObject().put("name", "smtp down"));
      GatewayHarness.adminCall(unreachable, vertx, HttpMethod.PUT, "/admin/v1/accounts/" + account + "/email",
          new JsonObject().put("recipients", new JsonArray().add("owner@acme.test")));
      JsonObject n = receipt(unreachable, account);
      assertThat(n.getJsonObject("email").getString("status")).isIn("pending", "sending", "failed");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      JsonObject email = n.getJsonObject("email");
      while (!"failed".equals(email.getString("status"))) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("not failed within 20 s: " + email);
        }
        await(vertx.timer(50));
        email = GatewayHarness.adminCall(unreachable, vertx, HttpMethod.GET, "/admin/v1/notifications?accountId=" + account, null)
            .json().getJsonArray("data").getJsonObject(0).getJsonObject("email");
      }
      assertThat(email.getInteger("attempts")).isEqualTo(2);
      assertThat(email.getString("lastError")).isNotBlank();
      assertThat(email.getString("sentAt")).isNull();
    } finally {
      unreachable.close();
    }
  }
}
