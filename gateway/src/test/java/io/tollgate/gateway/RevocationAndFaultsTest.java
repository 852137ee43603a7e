package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("Revocation across instances, failing closed, and failed-authentication limits")
class RevocationAndFaultsTest {

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;

  private String routes() {
    return """
        routes:
          - prefix: /v1/
            upstream: %s/v1/
        """.formatted(harness.stubBase());
  }

  @Test
  @DisplayName("a key revoked through one instance is refused by another while its cache still trusts the key (30 s)")
  void revocationReachesEveryInstance() {
    // No request limit, so polling B until it refuses cannot end in a 429 instead.
    String yaml = routes() + "plans:\n  free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0 }\n";
    try (Tollgate a = GatewayHarness.start(yaml, Map.of()); Tollgate b = GatewayHarness.start(yaml, Map.of())) {
      long account = GatewayHarness.createAccount(a, vertx, new JsonObject().put("name", "two").put("initialCredits", 100));
      JsonObject created = GatewayHarness.createKey(a, vertx, account, new JsonObject());
      HttpTestClient client = new HttpTestClient(vertx, false, created.getString("key"));
      // B now holds the key in its cache, trusted for 30 s.
      long cachedAt = System.nanoTime();
      assertThat(await(client.get(b.proxyPort(), "/v1/models")).status()).isEqualTo(200);

      await(new HttpTestClient(vertx).send(HttpMethod.POST, a.adminPort(), "/admin/v1/keys/" + created.getLong("id") + "/revoke",
          GatewayHarness.adminHeaders(), Buffer.buffer("{}")));
      // Wait on the refusal itself, not on a stopwatch; giving up at 15 s keeps the cache's 30 s
      // expiry out of reach, so only the published revocation can explain a 401.
      int status = 200;
      while (status == 200 && System.nanoTime() - cachedAt < TimeUnit.SECONDS.toNanos(15)) {
        status = await(client.get(b.proxyPort(), "/v1/models")).status();
        if (status == 200) {
          await(vertx.timer(50));
        }
      }
      assertThat(status).isEqualTo(401);
    }
  }

  @Test
  @DisplayName("with Redis unreachable a valid key gets 503 with Retry-After: the request is never forwarded unmetered")
  void failsClosedWithoutRedis() throws Exception {
    String key;
    long account;
    try (Tollgate healthy = GatewayHarness.start(routes(), Map.of())) {
      account = GatewayHarness.createAccount(healthy, vertx, new JsonObject().put("name", "closed").put("initialCredits", 100));
      key = GatewayHarness.createKey(healthy, vertx, account, new JsonObject()).getString("key");
    }
    int deadPort;
    // Nothing listens there (and, below the ephemeral range, no client can be bound to it either).
    deadPort = io.tollgate.embedded.FreePorts.pick();
    try (Tollgate noRedis = GatewayHarness.start(routes(), Map.of("REDIS_URL", "redis://127.0.0.1:" + deadPort))) {
      int before = harness.stub.requestCount();
      HttpTestClient.Reply reply = await(new HttpTestClient(vertx, false, key).get(noRedis.proxyPort(), "/v1/models"));
      assertThat(reply.status()).isEqualTo(503);
      assertThat(reply.headers().get("retry-after")).isEqualTo("1");
      assertThat(reply.json().getJsonObject("error").getString("code")).isEqualTo("metering_unavailable");
      assertThat(harness.stub.requestCount()).isEqualTo(before);
    }
  }

  @Test
  @DisplayName("after too many failed authentications with unknown keys an address gets 429")
  void failedAuthenticationsLimited() {
    try (Tollgate gateway = GatewayHarness.start(routes() + "metering: { failedAuthPerMinute: 3 }\n", Map.of())) {
      HttpTestClient wrong = new HttpTestClient(vertx, false, io.tollgate.metering.keys.ApiKeyFormat.generate("tg_live_"));
      for (int i = 0; i < 3; i++) {
        assertThat(await(wrong.get(gateway.proxyPort(), "/v1/models")).status()).isEqualTo(401);
      }
      HttpTestClient.Reply blocked = await(wrong.get(gateway.proxyPort(), "/v1/models"));
      assertThat(blocked.status()).isEqualTo(429);
      assertThat(blocked.json().getJsonObject("error").getString("code")).isEqualTo("too_many_failed_authentications");
      assertThat(blocked.headers().get("retry-after")).isEqualTo("60");
    }
  }
}
