package io.tollgate.loadtests.stub;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;

/** Chat completions (OpenAI and Anthropic shapes) and embeddings, JSON and SSE. */
final class ChatHandlers {

  private final Vertx vertx;
  private final StubOptions options;
  private final Function<String, Future<Void>> holds;

  ChatHandlers(Vertx vertx, StubOptions options, Function<String, Future<Void>> holds) {
    this.vertx = vertx;
    this.options = options;
    this.holds = holds;
  }

  void openAi(HttpServerRequest req, Buffer raw) {
    JsonObject body = parse(req, raw);
    if (body == null) {
      return;
    }
    String fail = req.getHeader("x-stub-fail");
    boolean usage = !"no-usage".equals(fail);
    String model = body.getString("model", "gpt-4o-mini");
    long prompt = promptTokens(body.getJsonArray("messages", new JsonArray()));
    long completion = completionTokens(body);
    JsonObject usageJson = new JsonObject().put("prompt_tokens", prompt).put("completion_tokens", completion)
        .put("total_tokens", prompt + completion);
    if (!body.getBoolean("stream", false)) {
      if ("bad-json".equals(fail)) {
        req.response().putHeader("content-type", "application/json").end("{\"id\": \"broken");
        return;
      }
      JsonObject reply = new JsonObject().put("id", "chatcmpl-stub").put("object", "chat.completion").put("model", model)
          .put("choices", new JsonArray().add(new JsonObject().put("index", 0).put("finish_reason", "stop")
              .put("message", new JsonObject().put("role", "assistant").put("content", "stub ".repeat((int) Math.min(completion, 64))))));
      if (usage) {
        reply.put("usage", usageJson);
      }
      StubUpstream.json(req.response(), 200, reply);
      return;
    }
    boolean includeUsage = usage && body.getJsonObject("stream_options", new JsonObject()).getBoolean("include_usage", false);
    boolean usageWithChoices = "true".equals(req.getHeader("x-stub-usage-with-choices"));
    int chunks = (int) StubUpstream.longHeader(req, "x-stub-chunks", options.chunks());
    List<Supplier<Buffer>> events = new ArrayList<>();
    for (int i = 0; i < chunks; i++) {
      JsonObject chunk = new JsonObject().put("id", "chatcmpl-stub").put("object", "chat.completion.chunk").put("model", model)
          .put("choices", new JsonArray().add(new JsonObject().put("index", 0)
              .put("delta", new JsonObject().put("content", "tok" + i + " "))
              .put("finish_reason", i == chunks - 1 ? "stop" : null)));
      if (i == chunks - 1 && includeUsage && usageWithChoices) {
        chunk.put("usage", usageJson);
      }
      events.add(() -> Sse.data(chunk.encode()));
      if (i == 0 && "bad-sse".equals(fail)) {
        events.add(() -> Buffer.buffer("data: {this is not json\n\n"));
      }
    }
    if (includeUsage && !usageWithChoices) {
      JsonObject last = new JsonObject().put("id", "chatcmpl-stub").put("object", "chat.completion.chunk").put("model", model)
          .put("choices", new JsonArray()).put("usage", usageJson);
      events.add(() -> Sse.data(last.encode()));
    }
    events.add(() -> Buffer.buffer("data: [DONE]\n\n"));
    stream(req, events);
  }

  void anthropic(HttpServerRequest req, Buffer raw) {
    JsonObject body = parse(req, raw);
    if (body == null) {
      return;
    }
    boolean usage = !"no-usage".equals(req.getHeader("x-stub-fail"));
    String model = body.getString("model", "claude-3-5-haiku");
    long input = promptTokens(body.getJsonArray("messages", new JsonArray()));
    long output = completionTokens(body);
    if (!body.getBoolean("stream", false)) {
      JsonObject reply = new JsonObject().put("id", "msg_stub").put("type", "message").put("role", "assistant").put("model", model)
          .put("content", new JsonArray().add(new JsonObject().put("type", "text").put("text", "stub reply")))
          .put("stop_reason", "end_turn");
      if (usage) {
        reply.put("usage", new JsonObject().put("input_tokens", input).put("output_tokens", output));
      }
      StubUpstream.json(req.response(), 200, reply);
      return;
    }
    int chunks = (int) StubUpstream.longHeader(req, "x-stub-chunks", options.chunks());
    List<Supplier<Buffer>> events = new ArrayList<>();
    JsonObject start = new JsonObject().put("type", "message_start").put("message", new JsonObject().put("id", "msg_stub")
        .put("type", "message").put("role", "assistant").put("model", model)
        .put("usage", usage ? new JsonObject().put("input_tokens", input).put("output_tokens", 1) : new JsonObject()));
    events.add(() -> Sse.event("message_start", start.encode()));
    events.add(() -> Sse.event("content_block_start", new JsonObject().put("type", "content_block_start").put("index", 0)
        .put("content_block", new JsonObject().put("type", "text").put("text", "")).encode()));
    for (int i = 0; i < chunks; i++) {
      String text = "tok" + i + " ";
      events.add(() -> Sse.event("content_block_delta", new JsonObject().put("type", "content_block_delta").put("index", 0)
          .put("delta", new JsonObject().put("type", "text_delta").put("text", text)).encode()));
    }
    events.add(() -> Sse.event("content_block_stop", new JsonObject().put("type", "content_block_stop").put("index", 0).encode()));
    JsonObject delta = new JsonObject().put("type", "message_delta").put("delta", new JsonObject().put("stop_reason", "end_turn"));
    if (usage) {
      delta.put("usage", new JsonObject().put("output_tokens", output));
    }
    events.add(() -> Sse.event("message_delta", delta.encode()));
    events.add(() -> Sse.event("message_stop", new JsonObject().put("type", "message_stop").encode()));
    stream(req, events);
  }

  void embeddings(HttpServerRequest req, Buffer raw) {
    JsonObject body = parse(req, raw);
    if (body == null) {
      return;
    }
    Object input = body.getValue("input");
    long tokens = Math.max(1, String.valueOf(input).length() / 4);
    JsonObject reply = new JsonObject().put("object", "list").put("model", body.getString("model", "text-embedding-3-small"))
        .put("data", new JsonArray().add(new JsonObject().put("object", "embedding").put("index", 0)
            .put("embedding", new JsonArray().add(0.1).add(0.2).add(0.3))));
    if (!"no-usage".equals(req.getHeader("x-stub-fail"))) {
      reply.put("usage", new JsonObject().put("prompt_tokens", tokens).put("total_tokens", tokens));
    }
    StubUpstream.json(req.response(), 200, reply);
  }

  /** First event, then (if asked) wait for the hold, then the rest; mid-stream failure cuts the connection. */
  private void stream(HttpServerRequest req, List<Supplier<Buffer>> events) {
    HttpServerResponse resp = req.response();
    Sse.start(resp);
    long delay = StubUpstream.longHeader(req, "x-stub-chunk-delay-ms", options.chunkDelay().toMillis());
    String hold = req.getHeader("x-stub-hold");
    boolean midStream = "mid-stream".equals(req.getHeader("x-stub-fail"));
    Future<Void> first = resp.write(events.get(0).get());
    if (midStream) {
      first.compose(v -> Sse.writeAll(vertx, resp, events.subList(1, Math.min(2, events.size())), delay))
          .onComplete(v -> req.connection().close());
      return;
    }
    first.compose(v -> hold == null ? Future.succeededFuture() : holds.apply(hold))
        .compose(v -> Sse.writeAll(vertx, resp, events.subList(1, events.size()), delay))
        .compose(v -> resp.end())
        .onFailure(err -> resp.reset());
  }

  private static JsonObject parse(HttpServerRequest req, Buffer raw) {
    try {
      return raw.length() == 0 ? new JsonObject() : raw.toJsonObject();
    } catch (DecodeException | ClassCastException e) {
      StubUpstream.json(req.response(), 400, new JsonObject().put("error", new JsonObject()
          .put("message", "request body is not valid JSON").put("type", "invalid_request_error").put("code", "invalid_json")));
      return null;
    }
  }

  private static long promptTokens(JsonArray messages) {
    long chars = 0;
    for (Object m : messages) {
      if (m instanceof JsonObject message) {
        chars += String.valueOf(message.getValue("content", "")).length();
      }
    }
    return Math.max(1, chars / 4);
  }

  private long completionTokens(JsonObject body) {
    Integer max = body.getInteger("max_tokens", body.getInteger("max_completion_tokens"));
    return max == null ? options.completionTokens() : Math.min(max, options.completionTokens());
  }
}
