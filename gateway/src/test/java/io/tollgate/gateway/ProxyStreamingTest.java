package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

@ExtendWith(VertxExtension.class)
@DisplayName("The proxy streams requests and responses")
class ProxyStreamingTest {

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  private static Tollgate gateway;
  private static String key;

  @BeforeAll
  static void start() {
    gateway = GatewayHarness.start("""
        server: { maxBodyBytes: 33554432 }
        routes:
          - prefix: /v1/
            upstream: %s/v1/
            usage: openai
        """.formatted(harness.stubBase()), Map.of());
    key = GatewayHarness.newKey(gateway, harness.stubVertx, 1_000_000);
  }

  @AfterAll
  static void stop() {
    gateway.close();
  }

  @Test
  @DisplayName("a JSON chat completion comes back from the upstream unchanged, with a request id")
  void jsonCompletion(Vertx vertx, VertxTestContext test) {
    JsonObject body = new JsonObject().put("model", "gpt-4o-mini")
        .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "hello there")));
    new HttpTestClient(vertx, false, key).postJson(gateway.proxyPort(), "/v1/chat/completions", body)
        .onComplete(test.succeeding(reply -> test.verify(() -> {
          assertThat(reply.status()).as(reply.text()).isEqualTo(200);
          assertThat(reply.json().getString("object")).isEqualTo("chat.completion");
          assertThat(reply.json().getJsonObject("usage").getInteger("prompt_tokens")).isPositive();
          assertThat(reply.headers().get("x-tollgate-request-id")).matches("[0-9a-f]{32}");
          test.completeNow();
        })));
  }

  @Test
  @DisplayName("an SSE chunk reaches the client while the upstream is still holding the rest of the stream")
  void sseFirstChunkBeforeUpstreamFinishes(Vertx vertx, VertxTestContext test) {
    String hold = "sse-" + System.nanoTime();
    AtomicBoolean released = new AtomicBoolean();
    Buffer received = Buffer.buffer();
    JsonObject body = new JsonObject().put("model", "gpt-4o-mini").put("stream", true)
        .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "stream please")));
    // From a Vert.x context, not the test thread: Vert.x 5.0.10 can emit response chunks before a
    // handler set from another thread is in place, and the client then misses them.
    vertx.runOnContext(onContext -> {
      new HttpTestClient(vertx).raw()
          .request(new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1").setPort(gateway.proxyPort())
              .setURI("/v1/chat/completions").putHeader("content-type", "application/json").putHeader("x-stub-hold", hold)
              .putHeader("authorization", "Bearer " + key))
          .compose(req -> req.send(body.toBuffer()))
          .onComplete(test.succeeding(resp -> {
            test.verify(() -> {
              assertThat(resp.statusCode()).isEqualTo(200);
              assertThat(resp.getHeader("content-type")).startsWith("text/event-stream");
            });
            resp.handler(chunk -> {
              received.appendBuffer(chunk);
              // The stub sends nothing more until released: if the gateway buffered, we would never get here.
              if (received.toString().contains("data:") && released.compareAndSet(false, true)) {
                test.verify(() -> assertThat(received.toString()).doesNotContain("[DONE]"));
                harness.stub.release(hold);
              }
            });
            resp.endHandler(v -> test.verify(() -> {
              assertThat(released).isTrue();
              assertThat(received.toString()).contains("[DONE]");
              test.completeNow();
            }));
          }));
    });
  }

  @Test
  @DisplayName("a 20 MiB chunked upload streams through to the upstream byte for byte")
  void largeChunkedUpload(Vertx vertx, VertxTestContext test) {
    int chunk = 1024 * 1024;
    int chunks = 20;
    // From a Vert.x context, not the test thread: Vert.x 5.0.10 can emit response chunks before a
    // handler set from another thread is in place, and the client then misses them.
    vertx.runOnContext(onContext -> {
      new HttpTestClient(vertx).raw()
          .request(new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1").setPort(gateway.proxyPort())
              .setURI("/v1/upload").putHeader("authorization", "Bearer " + key))
          .compose(req -> {
            req.setChunked(true);
            Future<HttpClientResponse> response = req.response();
            Buffer piece = Buffer.buffer(new byte[chunk]);
            for (int i = 0; i < chunks; i++) {
              req.write(piece);
            }
            req.end();
            return response;
          })
          .compose(resp -> resp.body().map(b -> Map.entry(resp.statusCode(), b.toJsonObject())))
          .onComplete(test.succeeding(reply -> test.verify(() -> {
            assertThat(reply.getKey()).isEqualTo(200);
            assertThat(reply.getValue().getLong("bytes")).isEqualTo((long) chunk * chunks);
            test.completeNow();
          })));
    });
  }

  @Test
  @DisplayName("a 64 MiB response streams through to the client byte for byte")
  void largeResponse(Vertx vertx, VertxTestContext test) {
    long size = 64L * 1024 * 1024;
    AtomicLong counted = new AtomicLong();
    // From a Vert.x context, not the test thread: Vert.x 5.0.10 can emit response chunks before a
    // handler set from another thread is in place, and the client then misses them.
    vertx.runOnContext(onContext -> {
      new HttpTestClient(vertx).raw()
          .request(new RequestOptions().setMethod(HttpMethod.GET).setHost("127.0.0.1").setPort(gateway.proxyPort())
              .setURI("/v1/large?bytes=" + size).putHeader("authorization", "Bearer " + key))
          .compose(req -> req.send())
          .onComplete(test.succeeding(resp -> {
            resp.handler(b -> counted.addAndGet(b.length()));
            resp.endHandler(v -> test.verify(() -> {
              assertThat(resp.statusCode()).isEqualTo(200);
              assertThat(counted.get()).isEqualTo(size);
              test.completeNow();
            }));
          }));
    });
  }
}
