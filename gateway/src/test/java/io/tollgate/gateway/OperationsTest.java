package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

@ExtendWith(VertxExtension.class)
@DisplayName("Health, metrics, the OpenAPI document and admin authentication")
class OperationsTest {

  private static final String ADMIN_TOKEN = GatewayHarness.ADMIN_TOKEN;
  private static final String UPSTREAM_SECRET = "sk-upstream-never-in-metrics";
  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  private static Tollgate gateway;

  @BeforeAll
  static void start() {
    // Settles WAIT for a replica the test Redis does not have (5 ms each): counted as shortfalls.
    gateway = GatewayHarness.start("""
        redis: { settleWaitReplicas: 1, settleWaitMs: 5 }
        routes:
          - prefix: /v1/
            upstream: %s/v1/
            upstreamKeyEnv: TEST_UPSTREAM_KEY
        """.formatted(harness.stubBase()),
        Map.of("TOLLGATE_ADMIN_TOKEN", ADMIN_TOKEN, "TEST_UPSTREAM_KEY", UPSTREAM_SECRET));
  }

  @AfterAll
  static void stop() {
    gateway.close();
  }

  @Test
  @EnabledOnOs(value = OS.LINUX, architectures = "amd64")
  @DisplayName("on Linux x86_64 the event loops run on Netty's native epoll transport, and /health/live and /metrics say so")
  void nativeTransport(Vertx vertx, VertxTestContext test) {
    HttpTestClient client = new HttpTestClient(vertx);
    client.get(gateway.adminPort(), "/health/live")
        .compose(live -> {
          test.verify(() -> assertThat(live.json().getString("transport")).isEqualTo("epoll"));
          return client.get(gateway.adminPort(), "/metrics");
        })
        .onComplete(test.succeeding(metrics -> test.verify(() -> {
          assertThat(metrics.text()).contains("tollgate_io_transport{transport=\"epoll\"} 1.0");
          test.completeNow();
        })));
  }

  @Test
  @DisplayName("live is UP and ready reports Redis and Postgres UP")
  void health(Vertx vertx, VertxTestContext test) {
    HttpTestClient client = new HttpTestClient(vertx);
    client.get(gateway.adminPort(), "/health/live")
        .compose(live -> {
          test.verify(() -> assertThat(live.status()).isEqualTo(200));
          return client.get(gateway.adminPort(), "/health/ready");
        })
        .onComplete(test.succeeding(ready -> test.verify(() -> {
          assertThat(ready.status()).isEqualTo(200);
          assertThat(ready.text()).contains("\"redis\"").contains("\"postgres\"");
          assertThat(ready.json().getString("status")).isEqualTo("UP");
          test.completeNow();
        })));
  }

  @Test
  @DisplayName("/metrics is Prometheus text with proxy, Vert.x and JVM meters, and no secrets")
  void metrics(Vertx vertx, VertxTestContext test) {
    HttpTestClient client = new HttpTestClient(vertx);
    String key = GatewayHarness.newKey(gateway, vertx, 1_000);
    client.send(HttpMethod.GET, gateway.proxyPort(), "/v1/models",
            MultiMap.caseInsensitiveMultiMap().add("authorization", "Bearer " + key), null)
        .compose(proxied -> client.get(gateway.adminPort(), "/metrics"))
        .onComplete(test.succeeding(reply -> test.verify(() -> {
          assertThat(reply.status()).isEqualTo(200);
          assertThat(reply.headers().get("content-type")).startsWith("text/plain");
          assertThat(reply.text())
              .contains("tollgate_proxy_responses_total{route=\"/v1/\",status=\"2xx\"}")
              .contains("tollgate_upstream_response_time_seconds_bucket")
              .contains("tollgate_usage_stream_backlog ")
              .contains("tollgate_usage_stream_pending ")
              .contains("tollgate_usage_stream_oldest_age_seconds ")
              .contains("tollgate_connections_open{port=\"proxy\"}")
              .contains("jvm_memory_used_bytes")
              // Vert.x's per-request HTTP meters are off; the gateway counts responses and connections itself.
              .doesNotContain("vertx_http_client_requests_total")
              .doesNotContain("vertx_http_client_response_time")
              .doesNotContain("vertx_http_server_requests_total")
              .doesNotContain("vertx_http_server_response_time")
              .doesNotContain("vertx_net_client_")
              .doesNotContain(UPSTREAM_SECRET)
              .doesNotContain(key)
              .doesNotContain(ADMIN_TOKEN);
          // The proxied request reached the upstream, so the gateway's own share of it was measured.
          assertThat(sample(reply.text(), "tollgate_gateway_overhead_seconds_count{route=\"/v1/\"}")).isGreaterThanOrEqualTo(1.0);
          // The proxied request opened a kept-alive connection to the upstream, still open.
          assertThat(sample(reply.text(), "tollgate_upstream_connections")).isGreaterThanOrEqualTo(1.0);
          test.completeNow();
        })));
  }

  @Test
  @DisplayName("redis.settleWaitReplicas makes each settle WAIT for replicas: with none to answer, /metrics counts the WAITs and their shortfalls")
  void settleWaitCounted(Vertx vertx, VertxTestContext test) {
    HttpTestClient client = new HttpTestClient(vertx);
    String key = GatewayHarness.newKey(gateway, vertx, 1_000);
    client.send(HttpMethod.GET, gateway.proxyPort(), "/v1/models",
            MultiMap.caseInsensitiveMultiMap().add("authorization", "Bearer " + key), null)
        .onComplete(test.succeeding(proxied -> {
          // The settle runs after the response has gone: poll /metrics until it shows (the test's timeout bounds it).
          vertx.setPeriodic(50, timer -> client.get(gateway.adminPort(), "/metrics").onSuccess(reply -> {
            double waits = sample(reply.text(), "tollgate_settle_replica_waits_total");
            if (waits >= 1) {
              vertx.cancelTimer(timer);
              test.verify(() -> {
                assertThat(sample(reply.text(), "tollgate_settle_replica_shortfalls_total")).isEqualTo(waits);
                test.completeNow();
              });
            }
          }));
        }));
  }

  @Test
  @DisplayName("every admin-port response is counted by area and status class (Vert.x's server meters are off)")
  void adminResponsesCounted() throws Exception {
    HttpTestClient client = new HttpTestClient(harness.stubVertx);
    String health = "tollgate_admin_responses_total{area=\"health\",status=\"2xx\"}";
    String api = "tollgate_admin_responses_total{area=\"api\",status=\"4xx\"}";
    String other = "tollgate_admin_responses_total{area=\"other\",status=\"4xx\"}";
    String console5xx = "tollgate_admin_responses_total{area=\"console\",status=\"5xx\"}";
    String before = GatewayHarness.await(client.get(gateway.adminPort(), "/metrics")).text();
    assertThat(GatewayHarness.await(client.get(gateway.adminPort(), "/health/live")).status()).isEqualTo(200);
    // No token: 401 from the admin API; an unknown path: 404.
    assertThat(GatewayHarness.await(client.get(gateway.adminPort(), "/admin/v1/accounts")).status()).isEqualTo(401);
    assertThat(GatewayHarness.await(client.get(gateway.adminPort(), "/no-such-thing")).status()).isEqualTo(404);
    String after = GatewayHarness.await(client.get(gateway.adminPort(), "/metrics")).text();
    assertThat(sample(after, health) - sample(before, health)).isEqualTo(1.0);
    assertThat(sample(after, api) - sample(before, api)).isEqualTo(1.0);
    assertThat(sample(after, other) - sample(before, other)).isEqualTo(1.0);
    // Every series exists before it is first used.
    assertThat(sample(after, console5xx)).isZero();
    assertThat(sample(after, "tollgate_admin_responses_total{area=\"metrics\",status=\"2xx\"}")).isGreaterThanOrEqualTo(1.0);
  }

  private static double sample(String exposition, String series) {
    return exposition.lines().filter(line -> line.startsWith(series + " ")).findFirst()
        .map(line -> Double.parseDouble(line.substring(series.length() + 1).trim()))
        .orElseThrow(() -> new AssertionError(series + " not in /metrics"));
  }

  @Test
  @DisplayName("the OpenAPI document is served without a token")
  void openApi(Vertx vertx, VertxTestContext test) {
    new HttpTestClient(vertx).get(gateway.adminPort(), "/admin/openapi.yaml").onComplete(test.succeeding(reply -> test.verify(() -> {
      assertThat(reply.status()).isEqualTo(200);
      assertThat(reply.text()).startsWith("openapi: 3.1.0").contains("/health/ready");
      test.completeNow();
    })));
  }

  @Test
  @DisplayName("the admin API refuses a missing or wrong token with problem+json 401, and accepts the right one")
  void adminAuth(Vertx vertx, VertxTestContext test) {
    HttpTestClient client = new HttpTestClient(vertx);
    client.get(gateway.adminPort(), "/admin/v1/accounts")
        .compose(missing -> {
          test.verify(() -> {
            assertThat(missing.status()).isEqualTo(401);
            assertThat(missing.headers().get("content-type")).isEqualTo("application/problem+json");
            assertThat(missing.json().getInteger("status")).isEqualTo(401);
          });
          return client.send(HttpMethod.GET, gateway.adminPort(), "/admin/v1/accounts",
              MultiMap.caseInsensitiveMultiMap().add("authorization", "Bearer wrong"), null);
        })
        .compose(wrong -> {
          test.verify(() -> {
            assertThat(wrong.status()).isEqualTo(401);
            assertThat(wrong.text()).doesNotContain(ADMIN_TOKEN);
          });
          return client.send(HttpMethod.GET, gateway.adminPort(), "/admin/v1/no-such-resource",
              MultiMap.caseInsensitiveMultiMap().add("authorization", "Bearer " + ADMIN_TOKEN), null);
        })
        .onComplete(test.succeeding(right -> test.verify(() -> {
          // Past authentication: an unknown resource is a problem+json 404, not a 401.
          assertThat(right.status()).isEqualTo(404);
          assertThat(right.headers().get("content-type")).isEqualTo("application/problem+json");
          test.completeNow();
        })));
  }

  @Test
  @DisplayName("ready is 503 and names Redis when Redis does not answer")
  void notReadyWithoutRedis(Vertx vertx) throws Exception {
    int deadPort;
    // Nothing listens there (and, below the ephemeral range, no client can be bound to it either).
    deadPort = io.tollgate.embedded.FreePorts.pick();
    HttpTestClient.Reply reply;
    try (Tollgate noRedis = GatewayHarness.start("routes: []\n", Map.of("REDIS_URL", "redis://127.0.0.1:" + deadPort))) {
      reply = GatewayHarness.await(new HttpTestClient(vertx).get(noRedis.adminPort(), "/health/ready"));
    }
    assertThat(reply.status()).isEqualTo(503);
    JsonObject body = reply.json();
    assertThat(body.getString("status")).isEqualTo("DOWN");
    Map<String, String> checks = new java.util.HashMap<>();
    body.getJsonArray("checks").stream().map(JsonObject.class::cast).forEach(c -> checks.put(c.getString("id"), c.getString("status")));
    assertThat(checks).containsEntry("redis", "DOWN").containsEntry("postgres", "UP");
  }
}
