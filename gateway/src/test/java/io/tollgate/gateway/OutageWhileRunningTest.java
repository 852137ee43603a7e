package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.embedded.EmbeddedRedis;
import io.tollgate.metering.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * README, "Fail closed": when Redis or Postgres cannot be reached, a request is refused with 503
 * and {@code Retry-After: 1} and never forwarded unmetered; {@code /health/ready} turns 503 at the
 * same time. Here the outage starts while the instance runs, after it has served traffic.
 */
@DisplayName("Fail closed when Redis or Postgres is lost while an instance runs")
class OutageWhileRunningTest {

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
  @DisplayName("Redis stops mid-run: ready turns 503, a cached key and a key never seen both get 503 metering_unavailable, nothing reaches the upstream")
  void redisLost() throws Exception {
    Path dir = Files.createTempDirectory(Files.createDirectories(Path.of("target", "outage-redis").toAbsolutePath()), "run-");
    EmbeddedRedis redis = EmbeddedRedis.start(dir, 0);
    try (Tollgate gateway = GatewayHarness.start(routes(), Map.of("REDIS_URL", redis.url()))) {
      long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "redis lost").put("initialCredits", 1_000));
      String cached = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
      String neverSeen = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
      assertThat(await(new HttpTestClient(vertx, false, cached).get(gateway.proxyPort(), "/v1/models")).status()).isEqualTo(200);
      assertThat(await(new HttpTestClient(vertx).get(gateway.adminPort(), "/health/ready")).status()).isEqualTo(200);

      redis.close();
      awaitNotReady(gateway);
      int forwarded = harness.stub.requestCount();
      for (String key : new String[] {cached, neverSeen}) {
        HttpTestClient.Reply reply = await(new HttpTestClient(vertx, false, key).get(gateway.proxyPort(), "/v1/models"));
        assertThat(reply.status()).isEqualTo(503);
        assertThat(reply.headers().get("retry-after")).isEqualTo("1");
        assertThat(reply.json().getJsonObject("error").getString("code")).isEqualTo("metering_unavailable");
      }
      assertThat(harness.stub.requestCount()).isEqualTo(forwarded);
    } finally {
      redis.close();
    }
  }

  @Test
  @DisplayName("Postgres stops mid-run: ready turns 503 and a key not yet cached gets 503 metering_unavailable without reaching the upstream")
  void postgresLost() {
    try (Tollgate gateway = GatewayHarness.start(routes(), Map.of())) {
      long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "postgres lost").put("initialCredits", 1_000));
      String neverSeen = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
      assertThat(await(new HttpTestClient(vertx).get(gateway.adminPort(), "/health/ready")).status()).isEqualTo(200);

      TestServices.get().stopPostgres();
      try {
        awaitNotReady(gateway);
        int forwarded = harness.stub.requestCount();
        HttpTestClient.Reply reply = await(new HttpTestClient(vertx, false, neverSeen).get(gateway.proxyPort(), "/v1/models"));
        assertThat(reply.status()).isEqualTo(503);
        assertThat(reply.headers().get("retry-after")).isEqualTo("1");
        assertThat(reply.json().getJsonObject("error").getString("code")).isEqualTo("metering_unavailable");
        assertThat(harness.stub.requestCount()).isEqualTo(forwarded);
      } finally {
        TestServices.get().startPostgres();
      }
    }
  }

  /** Readiness turns 503, its status DOWN naming the lost dependency's check; fails after 20 s. */
  private static void awaitNotReady(Tollgate gateway) {
    assertThat(GatewayHarness.awaitNotReady(gateway, vertx).json().getString("status")).isEqualTo("DOWN");
  }
}
