package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

@ExtendWith(VertxExtension.class)
@DisplayName("Upstream trouble and bad requests end in a clear error, in the OpenAI envelope")
class ProxyFailuresTest {

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  private static Tollgate gateway;
  private static String key;

  @BeforeAll
  static void start() throws IOException {
    int closedPort;
    // Nothing listens there (and, below the ephemeral range, no client can be bound to it either).
    closedPort = io.tollgate.embedded.FreePorts.pick();
    gateway = GatewayHarness.start("""
        server: { maxBodyBytes: 1024 }
        upstreamClient: { responseTimeoutMs: 300, connectTimeoutMs: 2000 }
        routes:
          - prefix: /v1/
            upstream: %s/v1/
          - prefix: /dead/
            upstream: http://127.0.0.1:%d/
        """.formatted(harness.stubBase(), closedPort), Map.of());
    key = GatewayHarness.newKey(gateway, harness.stubVertx, 1_000_000);
  }

  @AfterAll
  static void stop() {
    gateway.close();
  }

  private static void assertEnvelope(HttpTestClient.Reply reply, int status, String code) {
    assertThat(reply.status()).isEqualTo(status);
    assertThat(reply.headers().get("content-type")).startsWith("application/json");
    JsonObject error = reply.json().getJsonObject("error");
    assertThat(error.getString("code")).isEqualTo(code);
    assertThat(error.getString("message")).isNotBlank();
    assertThat(error.getString("type")).isNotBlank();
  }

  @Test
  @DisplayName("an unknown route is 404 route_not_found, naming the path")
  void unknownRoute(Vertx vertx, VertxTestContext test) {
    new HttpTestClient(vertx, false, key).get(gateway.proxyPort(), "/nowhere/else").onComplete(test.succeeding(reply -> test.verify(() -> {
      assertEnvelope(reply, 404, "route_not_found");
      assertThat(reply.json().getJsonObject("error").getString("message")).contains("/nowhere/else");
      assertThat(reply.headers().get("x-tollgate-request-id")).isNotBlank();
      test.completeNow();
    })));
  }

  @Test
  @DisplayName("an upstream that refuses connections is 502 upstream_unreachable")
  void refused(Vertx vertx, VertxTestContext test) {
    new HttpTestClient(vertx, false, key).get(gateway.proxyPort(), "/dead/anything").onComplete(test.succeeding(reply -> test.verify(() -> {
      assertEnvelope(reply, 502, "upstream_unreachable");
      test.completeNow();
    })));
  }

  @Test
  @DisplayName("an upstream that never answers is 504 upstream_timeout")
  void hangs(Vertx vertx, VertxTestContext test) {
    new HttpTestClient(vertx, false, key).send(HttpMethod.GET, gateway.proxyPort(), "/v1/models",
            MultiMap.caseInsensitiveMultiMap().add("x-stub-hang", "true"), null)
        .onComplete(test.succeeding(reply -> test.verify(() -> {
          assertEnvelope(reply, 504, "upstream_timeout");
          test.completeNow();
        })));
  }

  @Test
  @DisplayName("an upstream that resets the connection is 502 upstream_connection_closed")
  void reset(Vertx vertx, VertxTestContext test) {
    new HttpTestClient(vertx, false, key).send(HttpMethod.GET, gateway.proxyPort(), "/v1/models",
            MultiMap.caseInsensitiveMultiMap().add("x-stub-fail", "reset"), null)
        .onComplete(test.succeeding(reply -> test.verify(() -> {
          assertEnvelope(reply, 502, "upstream_connection_closed");
          test.completeNow();
        })));
  }

  @Test
  @DisplayName("an upstream error status passes through untouched")
  void upstreamErrorPassesThrough(Vertx vertx, VertxTestContext test) {
    new HttpTestClient(vertx, false, key).send(HttpMethod.GET, gateway.proxyPort(), "/v1/models",
            MultiMap.caseInsensitiveMultiMap().add("x-stub-status", "503"), null)
        .onComplete(test.succeeding(reply -> test.verify(() -> {
          assertThat(reply.status()).isEqualTo(503);
          // The stub's own error body (StubUpstream: x-stub-status), byte for byte, not the gateway's envelope.
          assertThat(reply.body().toString()).isEqualTo(
              "{\"error\":{\"message\":\"injected status 503\",\"type\":\"stub_error\",\"code\":\"stub_injected\"}}");
          assertThat(reply.headers().get("content-type")).isEqualTo("application/json");
          test.completeNow();
        })));
  }

  @Test
  @DisplayName("a declared body over the limit is 413 before anything is forwarded")
  void declaredTooLarge(Vertx vertx, VertxTestContext test) {
    int before = harness.stub.requestCount();
    new HttpTestClient(vertx, false, key).send(HttpMethod.POST, gateway.proxyPort(), "/v1/upload", null, Buffer.buffer(new byte[2048]))
        .onComplete(test.succeeding(reply -> test.verify(() -> {
          assertEnvelope(reply, 413, "request_too_large");
          assertThat(harness.stub.requestCount()).isEqualTo(before);
          test.completeNow();
        })));
  }

  @Test
  @DisplayName("a chunked body that grows over the limit is 413")
  void chunkedTooLarge(Vertx vertx, VertxTestContext test) {
    new HttpTestClient(vertx, false, key).raw()
        .request(new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1").setPort(gateway.proxyPort()).setURI("/v1/upload")
            .putHeader("authorization", "Bearer " + key))
        .compose(req -> {
          req.setChunked(true);
          Future<HttpClientResponse> response = req.response();
          for (int i = 0; i < 4; i++) {
            req.write(Buffer.buffer(new byte[1024]));
          }
          req.end();
          return response;
        })
        .compose(resp -> resp.body().map(b -> new HttpTestClient.Reply(resp.statusCode(), resp.headers(), b)))
        .onComplete(test.succeeding(reply -> test.verify(() -> {
          assertEnvelope(reply, 413, "request_too_large");
          test.completeNow();
        })));
  }

  @Test
  @DisplayName("a path with dot segments is 400 invalid_path and is not forwarded")
  void dotSegments(Vertx vertx, VertxTestContext test) {
    new HttpTestClient(vertx, false, key).get(gateway.proxyPort(), "/v1/../admin").onComplete(test.succeeding(reply -> test.verify(() -> {
      assertEnvelope(reply, 400, "invalid_path");
      test.completeNow();
    })));
  }

  @Test
  @DisplayName("a stream the upstream breaks mid-way is cut for the client too, and the gateway keeps serving")
  void midStreamFailure(Vertx vertx, VertxTestContext test) {
    HttpTestClient client = new HttpTestClient(vertx, false, key);
    JsonObject body = new JsonObject().put("model", "m").put("stream", true)
        .put("messages", new io.vertx.core.json.JsonArray().add(new JsonObject().put("role", "user").put("content", "x")));
    client.send(HttpMethod.POST, gateway.proxyPort(), "/v1/chat/completions",
            MultiMap.caseInsensitiveMultiMap().add("content-type", "application/json").add("x-stub-fail", "mid-stream"), body.toBuffer())
        .andThen(ar -> test.verify(() -> {
          // Either the body failed, or it ended without the SSE terminator: never a clean, complete stream.
          if (ar.succeeded()) {
            assertThat(ar.result().text()).doesNotContain("[DONE]");
          }
        }))
        .transform(ar -> client.get(gateway.proxyPort(), "/v1/models"))
        .onComplete(test.succeeding(reply -> test.verify(() -> {
          assertThat(reply.status()).isEqualTo(200);
          test.completeNow();
        })));
  }

  @Test
  @DisplayName("a malformed HTTP request gets 400 from the server and does not disturb others")
  void malformedHttp(Vertx vertx, VertxTestContext test) {
    NetClient net = vertx.createNetClient();
    Buffer answer = Buffer.buffer();
    net.connect(gateway.proxyPort(), "127.0.0.1").onComplete(test.succeeding(socket -> {
      socket.handler(answer::appendBuffer);
      socket.closeHandler(v -> test.verify(() -> {
        assertThat(answer.toString()).startsWith("HTTP/1.").contains(" 400 ");
        test.completeNow();
      }));
      socket.write("THIS IS NOT HTTP\r\n\r\n");
    }));
  }
}
