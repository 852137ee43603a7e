package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.testing.TestServices;
import io.tollgate.stripesync.fake.FakeStripe;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("Through the gateway: metered usage of a linked postpaid account reaches (fake) Stripe")
class StripeSyncGatewayTest {

  private static final String STRIPE_KEY = "sk_test_gateway_0123456789";
  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static FakeStripe stripe;

  @BeforeAll
  static void start() {
    stripe = await(new FakeStripe(vertx, STRIPE_KEY).start());
  }

  @AfterAll
  static void stop() {
    await(stripe.close());
  }

  private static HttpTestClient.Reply admin(Tollgate gateway, HttpMethod method, String uri, JsonObject body) {
    return await(GatewayHarness.admin(vertx).send(method, gateway.adminPort(), uri, GatewayHarness.adminHeaders(),
        body == null ? null : body.toBuffer()));
  }

  @Test
  @DisplayName("requests → usage rows → outbox → Stripe, equal sums; state and reconciliation through the admin API; the key never shows")
  void endToEnd() {
    try (Tollgate gateway = GatewayHarness.start("""
        routes:
          - prefix: /flat/
            upstream: %s/v1/
            flatCost: 3
        pricing:
          default: { input: 0, output: 0 }
        metering: { flushIntervalMs: 50 }
        stripe: { transport: v2, meterId: mtr_gateway, syncIntervalMs: 200, apiBase: "%s", meterEventsBase: "%s" }
        """.formatted(harness.stubBase(), stripe.baseUrl(), stripe.baseUrl()), Map.of("STRIPE_API_KEY", STRIPE_KEY))) {
      long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "metered by Stripe")
          .put("billingMode", "postpaid").put("spendCap", 1_000));
      String customer = "cus_gw" + account;
      HttpTestClient.Reply bad = admin(gateway, HttpMethod.PATCH, "/admin/v1/accounts/" + account,
          new JsonObject().put("stripeCustomerId", "not-a-customer"));
      assertThat(bad.status()).isEqualTo(400);
      assertThat(admin(gateway, HttpMethod.PATCH, "/admin/v1/accounts/" + account, new JsonObject().put("stripeCustomerId", customer))
          .json().getString("stripeCustomerId")).isEqualTo(customer);
      String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
      HttpTestClient client = new HttpTestClient(vertx, false, key);
      for (int i = 0; i < 7; i++) {
        assertThat(await(client.get(gateway.proxyPort(), "/flat/models")).status()).isEqualTo(200);
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (stripe.totalFor(customer) < 21 && System.nanoTime() < deadline) {
        await(vertx.timer(100));
      }
      assertThat(stripe.totalFor(customer)).isEqualTo(21);
      assertThat(stripe.accepted().values()).filteredOn(a -> a.customer().equals(customer))
          .allMatch(a -> a.eventName().equals("tollgate_credits")).allMatch(a -> a.identifier().length() <= 100);

      JsonObject state = admin(gateway, HttpMethod.GET, "/admin/v1/stripe/sync", null).json();
      assertThat(state.getBoolean("enabled")).isTrue();
      assertThat(state.getString("breaker")).isEqualTo("closed");
      assertThat(state.encode()).doesNotContain(STRIPE_KEY);
      JsonObject report = admin(gateway, HttpMethod.POST, "/admin/v1/stripe/reconcile", new JsonObject()).json();
      assertThat(report.getJsonArray("missing").encode()).doesNotContain(customer);
      assertThat(report.getJsonArray("drift").encode()).doesNotContain(customer);
      JsonArray sent = admin(gateway, HttpMethod.GET, "/admin/v1/stripe/outbox?status=sent&limit=500", null).json().getJsonArray("data");
      assertThat(sent.stream().map(JsonObject.class::cast).filter(o -> customer.equals(o.getString("customerId")))
          .mapToLong(o -> o.getLong("value")).sum()).isEqualTo(21);
      assertThat(gateway.registry().get("tollgate_stripe_meter_events_sent").counter().count()).isGreaterThanOrEqualTo(1);
      String metrics = await(new HttpTestClient(vertx).get(gateway.adminPort(), "/metrics")).text();
      assertThat(metrics).contains("tollgate_stripe_breaker_state").contains("tollgate_stripe_sync_lag_seconds").doesNotContain(STRIPE_KEY);
    }
  }

  @Test
  @DisplayName("without STRIPE_API_KEY the sync is off and says so; unlinked postpaid usage is listed as waiting")
  void offWithoutKey() {
    try (Tollgate gateway = GatewayHarness.start("""
        routes:
          - prefix: /flat/
            upstream: %s/v1/
            flatCost: 2
        metering: { flushIntervalMs: 50 }
        """.formatted(harness.stubBase()), Map.of())) {
      long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "unlinked").put("billingMode", "postpaid"));
      String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
      assertThat(await(new HttpTestClient(vertx, false, key).get(gateway.proxyPort(), "/flat/models")).status()).isEqualTo(200);
      Pool pg = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(TestServices.get().postgresUrl())).using(vertx).build();
      try {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (await(pg.preparedQuery("SELECT count(*) FROM usage_events WHERE account_id = $1").execute(Tuple.of(account)))
            .iterator().next().getLong(0) < 1 && System.nanoTime() < deadline) {
          await(vertx.timer(50));
        }
      } finally {
        pg.close();
      }
      JsonObject state = admin(gateway, HttpMethod.GET, "/admin/v1/stripe/sync", null).json();
      assertThat(state.getBoolean("enabled")).isFalse();
      assertThat(state.getJsonArray("unlinkedAccounts").stream().map(JsonObject.class::cast)
          .anyMatch(a -> a.getLong("accountId") == account)).isTrue();
      HttpTestClient.Reply run = await(GatewayHarness.admin(vertx).send(HttpMethod.POST, gateway.adminPort(), "/admin/v1/stripe/sync",
          GatewayHarness.adminHeaders(), Buffer.buffer("{}")));
      assertThat(run.status()).isEqualTo(409);
      assertThat(run.json().getString("detail")).contains("STRIPE_API_KEY");
    }
  }
}
