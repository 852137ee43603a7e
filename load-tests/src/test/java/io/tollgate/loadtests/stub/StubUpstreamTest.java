package io.tollgate.loadtests.stub;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
@DisplayName("The stub upstream speaks OpenAI and Anthropic and injects faults on demand")
class StubUpstreamTest {

  private StubUpstream stub;
  private HttpClient client;
  private io.vertx.core.Context context;

  @BeforeEach
  void deploy(Vertx vertx, VertxTestContext test) {
    stub = new StubUpstream(StubOptions.defaults().withPort(0));
    client = vertx.createHttpClient();
    context = vertx.getOrCreateContext();
    vertx.deployVerticle(stub).onComplete(test.succeedingThenComplete());
  }

  /**
   * Runs the exchange on a Vert.x context, not the test thread: from a foreign thread Vert.x
   * 5.0.10 can lose a response's end before {@code body()} sets its handler (eclipse-vertx/vert.x#6038).
   */
  private Future<Map.Entry<HttpClientResponse, Buffer>> call(HttpMethod method, String uri, MultiMap headers, Buffer body) {
    io.vertx.core.Promise<Map.Entry<HttpClientResponse, Buffer>> promise = io.vertx.core.Promise.promise();
    context.runOnContext(v -> exchange(method, uri, headers, body).onComplete(promise));
    return promise.future();
  }

  private Future<Map.Entry<HttpClientResponse, Buffer>> exchange(HttpMethod method, String uri, MultiMap headers, Buffer body) {
    return client.request(new RequestOptions().setMethod(method).setHost("127.0.0.1").setPort(stub.actualPort()).setURI(uri))
        .compose(req -> {
          if (headers != null) {
            req.headers().addAll(headers);
          }
          return body == null ? req.send() : req.send(body);
        })
        .compose(resp -> resp.body().map(b -> Map.entry(resp, b)));
  }

  private static Buffer chat(boolean stream, boolean includeUsage) {
    JsonObject body = new JsonObject().put("model", "gpt-4o-mini").put("max_tokens", 7)
        .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "0123456789abcdef")));
    if (stream) {
      body.put("stream", true);
    }
    if (includeUsage) {
      body.put("stream_options", new JsonObject().put("include_usage", true));
    }
    return body.toBuffer();
  }

  private static List<JsonObject> sseData(String text) {
    List<JsonObject> out = new ArrayList<>();
    for (String line : text.split("\n")) {
      if (line.startsWith("data: {")) {
        out.add(new JsonObject(line.substring(6)));
      }
    }
    return out;
  }

  @Test
  @DisplayName("a JSON completion reports usage: prompt = chars/4, completion capped by max_tokens")
  void jsonUsage(VertxTestContext test) {
    call(HttpMethod.POST, "/v1/chat/completions", null, chat(false, false)).onComplete(test.succeeding(r -> test.verify(() -> {
      JsonObject usage = r.getValue().toJsonObject().getJsonObject("usage");
      assertThat(usage.getLong("prompt_tokens")).isEqualTo(4);
      assertThat(usage.getLong("completion_tokens")).isEqualTo(7);
      assertThat(usage.getLong("total_tokens")).isEqualTo(11);
      test.completeNow();
    })));
  }

  @Test
  @DisplayName("SSE sends content chunks and [DONE]; a usage chunk only when include_usage is asked")
  void sseUsageOnlyWhenAsked(VertxTestContext test) {
    call(HttpMethod.POST, "/v1/chat/completions", null, chat(true, false))
        .compose(without -> {
          test.verify(() -> {
            assertThat(without.getKey().getHeader("content-type")).isEqualTo("text/event-stream");
            assertThat(sseData(without.getValue().toString())).hasSize(5).noneMatch(j -> j.containsKey("usage"));
            assertThat(without.getValue().toString()).endsWith("data: [DONE]\n\n");
          });
          return call(HttpMethod.POST, "/v1/chat/completions", null, chat(true, true));
        })
        .onComplete(test.succeeding(with -> test.verify(() -> {
          List<JsonObject> data = sseData(with.getValue().toString());
          assertThat(data).hasSize(6);
          JsonObject last = data.get(5);
          assertThat(last.getJsonArray("choices")).isEmpty();
          assertThat(last.getJsonObject("usage").getLong("completion_tokens")).isEqualTo(7);
          test.completeNow();
        })));
  }

  @Test
  @DisplayName("x-stub-usage-with-choices puts usage on the last content chunk")
  void usageWithChoices(VertxTestContext test) {
    call(HttpMethod.POST, "/v1/chat/completions", MultiMap.caseInsensitiveMultiMap().add("x-stub-usage-with-choices", "true"), chat(true, true))
        .onComplete(test.succeeding(r -> test.verify(() -> {
          List<JsonObject> data = sseData(r.getValue().toString());
          assertThat(data).hasSize(5);
          assertThat(data.get(4).getJsonArray("choices")).isNotEmpty();
          assertThat(data.get(4).getJsonObject("usage").getLong("prompt_tokens")).isEqualTo(4);
          test.completeNow();
        })));
  }

  @Test
  @DisplayName("Anthropic streaming sends message_start with input tokens and message_delta with output tokens")
  void anthropicStream(VertxTestContext test) {
    call(HttpMethod.POST, "/v1/messages", null, chat(true, false)).onComplete(test.succeeding(r -> test.verify(() -> {
      String text = r.getValue().toString();
      assertThat(text).startsWith("event: message_start\n");
      assertThat(text.indexOf("event: message_delta")).isGreaterThan(text.indexOf("event: content_block_delta"));
      assertThat(text).endsWith("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
      List<JsonObject> data = sseData(text);
      assertThat(data.get(0).getJsonObject("message").getJsonObject("usage").getLong("input_tokens")).isEqualTo(4);
      assertThat(data.get(data.size() - 2).getJsonObject("usage").getLong("output_tokens")).isEqualTo(7);
      test.completeNow();
    })));
  }

  @Test
  @DisplayName("embeddings report prompt tokens")
  void embeddings(VertxTestContext test) {
    call(HttpMethod.POST, "/v1/embeddings", null, new JsonObject().put("model", "e").put("input", "0123456789ab").toBuffer())
        .onComplete(test.succeeding(r -> test.verify(() -> {
          assertThat(r.getValue().toJsonObject().getJsonObject("usage").getLong("prompt_tokens")).isEqualTo(3);
          test.completeNow();
        })));
  }

  @Test
  @DisplayName("an upload is counted as it streams: 20 MiB in, {bytes: 20971520} out")
  void upload(VertxTestContext test) {
    client.request(new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1").setPort(stub.actualPort()).setURI("/v1/upload"))
        .compose(req -> {
          req.setChunked(true);
          Future<HttpClientResponse> response = req.response();
          for (int i = 0; i < 20; i++) {
            req.write(Buffer.buffer(new byte[1024 * 1024]));
          }
          req.end();
          return response;
        })
        .compose(HttpClientResponse::body)
        .onComplete(test.succeeding(b -> test.verify(() -> {
          assertThat(b.toJsonObject().getLong("bytes")).isEqualTo(20L * 1024 * 1024);
          test.completeNow();
        })));
  }

  @Test
  @DisplayName("x-stub-status answers that status with an error body; 429 adds retry-after")
  void statusInjection(VertxTestContext test) {
    call(HttpMethod.GET, "/v1/models", MultiMap.caseInsensitiveMultiMap().add("x-stub-status", "429"), null)
        .onComplete(test.succeeding(r -> test.verify(() -> {
          assertThat(r.getKey().statusCode()).isEqualTo(429);
          assertThat(r.getKey().getHeader("retry-after")).isEqualTo("1");
          assertThat(r.getValue().toJsonObject().getJsonObject("error").getString("code")).isEqualTo("stub_injected");
          test.completeNow();
        })));
  }

  @Test
  @DisplayName("a held stream sends its first event, then nothing until released")
  void holdAndRelease(VertxTestContext test) {
    Buffer received = Buffer.buffer();
    client.request(new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1").setPort(stub.actualPort())
            .setURI("/v1/chat/completions").putHeader("x-stub-hold", "h1"))
        .compose(req -> req.send(chat(true, false)))
        .onComplete(test.succeeding(resp -> {
          resp.handler(chunk -> {
            boolean first = received.length() == 0;
            received.appendBuffer(chunk);
            if (first) {
              test.verify(() -> assertThat(received.toString()).doesNotContain("[DONE]"));
              stub.release("h1");
            }
          });
          resp.endHandler(v -> test.verify(() -> {
            assertThat(sseData(received.toString())).hasSize(5);
            test.completeNow();
          }));
        }));
  }

  @Test
  @DisplayName("x-stub-fail: reset closes the connection without a response")
  void reset(VertxTestContext test) {
    call(HttpMethod.GET, "/v1/models", MultiMap.caseInsensitiveMultiMap().add("x-stub-fail", "reset"), null)
        .onComplete(test.failing(err -> test.completeNow()));
  }

  @Test
  @DisplayName("a request body that is not JSON is 400 in the OpenAI envelope")
  void badJson(VertxTestContext test) {
    call(HttpMethod.POST, "/v1/chat/completions", null, Buffer.buffer("{nope")).onComplete(test.succeeding(r -> test.verify(() -> {
      assertThat(r.getKey().statusCode()).isEqualTo(400);
      assertThat(r.getValue().toJsonObject().getJsonObject("error").getString("code")).isEqualTo("invalid_json");
      test.completeNow();
    })));
  }

  @Test
  @DisplayName("the echo endpoint returns the request's method, uri and headers")
  void echo(VertxTestContext test) {
    call(HttpMethod.PUT, "/echo/a?b=1", MultiMap.caseInsensitiveMultiMap().add("X-Thing", "v"), Buffer.buffer("abc"))
        .onComplete(test.succeeding(r -> test.verify(() -> {
          JsonObject echo = r.getValue().toJsonObject();
          assertThat(echo.getString("method")).isEqualTo("PUT");
          assertThat(echo.getString("uri")).isEqualTo("/echo/a?b=1");
          assertThat(echo.getJsonObject("headers").getString("x-thing")).isEqualTo("v");
          assertThat(echo.getLong("bodyBytes")).isEqualTo(3);
          test.completeNow();
        })));
  }
}
