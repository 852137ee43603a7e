package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * README, admin API: {@code PATCH /admin/v1/accounts/{id}} (plan, …) "reaches every instance's key
 * cache at once". Two instances on the same Redis and Postgres; the plan is changed through one,
 * and the other, whose cache trusts the key's old grant for 30 s, applies the new plan's limit.
 */
@DisplayName("A plan change reaches every instance")
class PlanChangeAcrossInstancesTest {

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;

  @Test
  @DisplayName("an account moved from an unlimited plan to one of 3 requests a minute through A gets that limit on B, well before B's cache expires")
  void planChangeReachesOtherInstance() {
    String yaml = """
        routes:
          - prefix: /v1/
            upstream: %s/v1/
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0 }
          small: { requestsPerMinute: 3, tokensPerMinute: 0, includedCredits: 0 }
        """.formatted(harness.stubBase());
    try (Tollgate a = GatewayHarness.start(yaml, Map.of()); Tollgate b = GatewayHarness.start(yaml, Map.of())) {
      long account = GatewayHarness.createAccount(a, vertx, new JsonObject().put("name", "moving").put("plan", "free")
          .put("initialCredits", 1_000));
      String key = GatewayHarness.createKey(a, vertx, account, new JsonObject()).getString("key");
      HttpTestClient client = new HttpTestClient(vertx, false, key);
      // B now holds the key's grant (plan free: no request limit, so no limit header) in its cache.
      long cachedAt = System.nanoTime();
      HttpTestClient.Reply before = await(client.get(b.proxyPort(), "/v1/models"));
      assertThat(before.status()).isEqualTo(200);
      assertThat(before.headers().get("x-ratelimit-limit-requests")).isNull();

      HttpTestClient.Reply patched = await(new HttpTestClient(vertx).send(HttpMethod.PATCH, a.adminPort(), "/admin/v1/accounts/" + account,
          GatewayHarness.adminHeaders(), new JsonObject().put("plan", "small").toBuffer()));
      assertThat(patched.status()).isEqualTo(200);

      // Wait on B applying the new limit; giving up at 15 s keeps the cache's 30 s expiry out of
      // reach, so only the published account change can explain it.
      HttpTestClient.Reply reply = await(client.get(b.proxyPort(), "/v1/models"));
      while (reply.headers().get("x-ratelimit-limit-requests") == null && reply.status() == 200
          && System.nanoTime() - cachedAt < TimeUnit.SECONDS.toNanos(15)) {
        await(vertx.timer(50));
        reply = await(client.get(b.proxyPort(), "/v1/models"));
      }
      assertThat(reply.status()).isEqualTo(200);
      assertThat(reply.headers().get("x-ratelimit-limit-requests")).isEqualTo("3");
      // And the limit is enforced there: at most two more requests pass within the minute.
      int status = 200;
      for (int i = 0; i < 3 && status == 200; i++) {
        status = await(client.get(b.proxyPort(), "/v1/models")).status();
      }
      assertThat(status).isEqualTo(429);
    }
  }
}
