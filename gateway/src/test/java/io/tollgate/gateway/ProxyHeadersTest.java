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
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

@ExtendWith(VertxExtension.class)
@DisplayName("Headers crossing the proxy")
class ProxyHeadersTest {

  private static final String UPSTREAM_SECRET = "sk-upstream-secret-value";
  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  private static Tollgate gateway;
  private static String key;

  @BeforeAll
  static void start() {
    gateway = GatewayHarness.start("""
        routes:
          - prefix: /bearer/
            upstream: %1$s/echo/
            upstreamKeyEnv: TEST_UPSTREAM_KEY
          - prefix: /xkey/
            upstream: %1$s/echo/
            upstreamKeyEnv: TEST_UPSTREAM_KEY
            upstreamAuth: x-api-key
          - prefix: /plain/
            upstream: %1$s/echo/
          - prefix: /open/
            upstream: %1$s/echo/
            metered: false
        """.formatted(harness.stubBase()), Map.of("TEST_UPSTREAM_KEY", UPSTREAM_SECRET));
    key = GatewayHarness.newKey(gateway, harness.stubVertx, 1_000_000);
  }

  @AfterAll
  static void stop() {
    gateway.close();
  }

  private static MultiMap clientHeaders() {
    return MultiMap.caseInsensitiveMultiMap()
        .add("authorization", "Bearer " + key)
        .add("x-api-key", key)
        .add("connection", "x-hop-only")
        .add("x-hop-only", "drop me")
        .add("keep-alive", "timeout=5")
        .add("x-kept", "kept")
        .add("x-tollgate-request-id", "client-chosen-id-1");
  }

  private static String header(JsonObject echo, String name) {
    Object value = echo.getJsonObject("headers").getValue(name);
    if (value instanceof io.vertx.core.json.JsonArray array) {
      return array.isEmpty() ? null : array.getString(0);
    }
    return (String) value;
  }

  @Test
  @DisplayName("a route with metered: false forwards without an API key; a metered one refuses the same request")
  void passThroughRoute(Vertx vertx, VertxTestContext test) {
    HttpTestClient client = new HttpTestClient(vertx);
    client.send(HttpMethod.GET, gateway.proxyPort(), "/open/anything", MultiMap.caseInsensitiveMultiMap(), null)
        .compose(open -> client.send(HttpMethod.GET, gateway.proxyPort(), "/plain/anything",
                MultiMap.caseInsensitiveMultiMap(), null)
            .map(metered -> new int[] {open.status(), metered.status()}))
        .onComplete(test.succeeding(statuses -> test.verify(() -> {
          assertThat(statuses[0]).isEqualTo(200);
          assertThat(statuses[1]).isEqualTo(401);
          test.completeNow();
        })));
  }

  @Test
  @DisplayName("the client's key never reaches the upstream; the route's bearer credential does")
  void bearerInjected(Vertx vertx, VertxTestContext test) {
    new HttpTestClient(vertx).send(HttpMethod.GET, gateway.proxyPort(), "/bearer/path?q=1", clientHeaders(), null)
        .onComplete(test.succeeding(reply -> test.verify(() -> {
          assertThat(reply.status()).isEqualTo(200);
          JsonObject echo = reply.json();
          assertThat(echo.getString("uri")).isEqualTo("/echo/path?q=1");
          assertThat(header(echo, "authorization")).isEqualTo("Bearer " + UPSTREAM_SECRET);
          assertThat(header(echo, "x-api-key")).isNull();
          assertThat(echo.encode()).doesNotContain(key);
          test.completeNow();
        })));
  }

  @Test
  @DisplayName("an x-api-key route gets its credential as x-api-key and no Authorization at all")
  void xApiKeyInjected(Vertx vertx, VertxTestContext test) {
    new HttpTestClient(vertx).send(HttpMethod.GET, gateway.proxyPort(), "/xkey/", clientHeaders(), null)
        .onComplete(test.succeeding(reply -> test.verify(() -> {
          JsonObject echo = reply.json();
          assertThat(header(echo, "x-api-key")).isEqualTo(UPSTREAM_SECRET);
          assertThat(header(echo, "authorization")).isNull();
          test.completeNow();
        })));
  }

  @Test
  @DisplayName("hop-by-hop fields, including those named in Connection, are dropped; others pass; the request id is shared")
  void hopByHop(Vertx vertx, VertxTestContext test) {
    new HttpTestClient(vertx, true).send(HttpMethod.GET, gateway.proxyPort(), "/plain/x", clientHeaders(), null)
        .onComplete(test.succeeding(reply -> test.verify(() -> {
          JsonObject echo = reply.json();
          assertThat(header(echo, "x-hop-only")).isNull();
          assertThat(header(echo, "keep-alive")).isNull();
          assertThat(header(echo, "authorization")).isNull();
          assertThat(header(echo, "x-api-key")).isNull();
          assertThat(header(echo, "x-kept")).isEqualTo("kept");
          assertThat(header(echo, "x-forwarded-for")).contains("127.0.0.1");
          assertThat(header(echo, "x-tollgate-request-id")).isEqualTo("client-chosen-id-1");
          assertThat(reply.headers().get("x-tollgate-request-id")).isEqualTo("client-chosen-id-1");
          test.completeNow();
        })));
  }

  @Test
  @DisplayName("a client request id that is not a short token is replaced, not echoed")
  void hostileRequestIdReplaced(Vertx vertx, VertxTestContext test) {
    new HttpTestClient(vertx).send(HttpMethod.GET, gateway.proxyPort(), "/plain/x",
            MultiMap.caseInsensitiveMultiMap().add("x-tollgate-request-id", "bad id with spaces <script>")
                .add("authorization", "Bearer " + key), null)
        .onComplete(test.succeeding(reply -> test.verify(() -> {
          assertThat(reply.headers().get("x-tollgate-request-id")).matches("[0-9a-f]{32}");
          test.completeNow();
        })));
  }
}
