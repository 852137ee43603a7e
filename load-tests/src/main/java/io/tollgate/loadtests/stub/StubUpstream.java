package io.tollgate.loadtests.stub;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An OpenAI- and Anthropic-compatible fake upstream on a real socket, for tests, benchmarks and
 * the README demo. Endpoints: {@code POST /v1/chat/completions} (JSON or SSE), {@code POST
 * /v1/embeddings}, {@code POST /v1/messages}, {@code GET /v1/models}, {@code POST|PUT /v1/upload}
 * (counts a streamed body), {@code GET /v1/large?bytes=N}, {@code ANY /echo/**} (echoes what it
 * received) and {@code POST /_stub/release/TOKEN}.
 *
 * <p>Per-request behaviour headers: {@code x-stub-latency-ms}, {@code x-stub-chunks},
 * {@code x-stub-chunk-delay-ms}, {@code x-stub-status} (answer that status with an error body),
 * {@code x-stub-fail} ({@code reset}, {@code mid-stream}, {@code no-usage}, {@code bad-json},
 * {@code bad-sse}), {@code x-stub-usage-with-choices: true}, {@code x-stub-hold: TOKEN} (SSE
 * pauses after the first event until {@link #release}), {@code x-stub-hang: true} (never answer)
 * and {@code x-stub-record: true} (keep the request in {@link #received()}).
 */
public final class StubUpstream extends VerticleBase {

  private final StubOptions options;
  private final AtomicInteger requests = new AtomicInteger();
  private final List<RecordedRequest> recorded = new CopyOnWriteArrayList<>();
  private final Map<String, Promise<Void>> holds = new ConcurrentHashMap<>();
  private HttpServer server;
  private ChatHandlers chat;

  public StubUpstream(StubOptions options) {
    this.options = options;
  }

  @Override
  public Future<?> start() {
    chat = new ChatHandlers(vertx, options, this::hold);
    server = vertx.createHttpServer(new HttpServerOptions().setHost(options.host()).setPort(options.port()).setTcpNoDelay(true))
        .requestHandler(this::handle);
    return server.listen();
  }

  @Override
  public Future<?> stop() {
    return server.close();
  }

  public int actualPort() {
    return server.actualPort();
  }

  public int requestCount() {
    return requests.get();
  }

  public List<RecordedRequest> received() {
    return List.copyOf(recorded);
  }

  public void clearReceived() {
    recorded.clear();
  }

  /** Lets an SSE response held by {@code x-stub-hold: token} continue. */
  public void release(String token) {
    holds.computeIfAbsent(token, t -> Promise.promise()).tryComplete();
  }

  Future<Void> hold(String token) {
    return holds.computeIfAbsent(token, t -> Promise.promise()).future();
  }

  private void handle(HttpServerRequest req) {
    requests.incrementAndGet();
    if ("true".equals(req.getHeader("x-stub-hang"))) {
      return;
    }
    if ("reset".equals(req.getHeader("x-stub-fail"))) {
      req.connection().close();
      return;
    }
    String path = req.path();
    if (path.equals("/v1/upload")) {
      countUpload(req);
      return;
    }
    req.body().compose(body -> {
      if ("true".equals(req.getHeader("x-stub-record"))) {
        recorded.add(new RecordedRequest(req.method().name(), req.uri(), headersOf(req), body.length()));
      }
      return Sse.pause(vertx, longHeader(req, "x-stub-latency-ms", options.latency().toMillis())).map(body);
    }).onSuccess(body -> route(req, path, body)).onFailure(err -> req.connection().close());
  }

  private void route(HttpServerRequest req, String path, Buffer body) {
    HttpServerResponse resp = req.response();
    String status = req.getHeader("x-stub-status");
    if (status != null) {
      int code = Integer.parseInt(status);
      if (code == 429) {
        resp.putHeader("retry-after", "1");
      }
      json(resp, code, error("injected status " + code, "stub_injected"));
      return;
    }
    if (path.startsWith("/echo/") || path.equals("/echo")) {
      json(resp, 200, new JsonObject().put("method", req.method().name()).put("uri", req.uri())
          .put("headers", new JsonObject(new TreeMap<>(flatHeaders(req)))).put("bodyBytes", body.length()));
      return;
    }
    if (path.startsWith("/_stub/release/")) {
      release(path.substring("/_stub/release/".length()));
      resp.setStatusCode(204).end();
      return;
    }
    switch (path) {
      case "/v1/chat/completions" -> chat.openAi(req, body);
      case "/v1/messages" -> chat.anthropic(req, body);
      case "/v1/embeddings" -> chat.embeddings(req, body);
      case "/v1/models" -> json(resp, 200, new JsonObject().put("object", "list").put("data", new JsonArray()
          .add(new JsonObject().put("id", "gpt-4o-mini").put("object", "model"))
          .add(new JsonObject().put("id", "claude-3-5-haiku").put("object", "model"))));
      case "/v1/large" -> large(req);
      default -> json(resp, 404, error("no stub endpoint " + req.method() + " " + path, "not_found"));
    }
  }

  /** Reads the body as a stream, never holding it whole, and answers how many bytes came. */
  private void countUpload(HttpServerRequest req) {
    long[] bytes = {0};
    req.handler(chunk -> bytes[0] += chunk.length());
    req.endHandler(v -> json(req.response(), 200, new JsonObject().put("bytes", bytes[0])));
  }

  private void large(HttpServerRequest req) {
    long total = Long.parseLong(req.getParam("bytes", "1048576"));
    HttpServerResponse resp = req.response().setChunked(true).putHeader("content-type", "application/octet-stream");
    Buffer block = Buffer.buffer(new byte[64 * 1024]);
    writeLarge(resp, block, total);
  }

  private void writeLarge(HttpServerResponse resp, Buffer block, long remaining) {
    while (remaining > 0 && !resp.writeQueueFull()) {
      int n = (int) Math.min(block.length(), remaining);
      resp.write(n == block.length() ? block : block.slice(0, n));
      remaining -= n;
    }
    if (remaining == 0) {
      resp.drainHandler(null);
      resp.end();
      return;
    }
    long left = remaining;
    resp.drainHandler(v -> writeLarge(resp, block, left));
  }

  static void json(HttpServerResponse resp, int status, JsonObject body) {
    resp.setStatusCode(status).putHeader("content-type", "application/json").end(body.toBuffer());
  }

  static JsonObject error(String message, String code) {
    return new JsonObject().put("error", new JsonObject().put("message", message).put("type", "stub_error").put("code", code));
  }

  static long longHeader(HttpServerRequest req, String name, long fallback) {
    String value = req.getHeader(name);
    return value == null ? fallback : Long.parseLong(value.trim());
  }

  private static Map<String, Object> flatHeaders(HttpServerRequest req) {
    Map<String, Object> out = new TreeMap<>();
    for (String name : req.headers().names()) {
      out.put(name.toLowerCase(), String.join(", ", req.headers().getAll(name)));
    }
    return out;
  }

  private static Map<String, List<String>> headersOf(HttpServerRequest req) {
    Map<String, List<String>> out = new TreeMap<>();
    for (String name : req.headers().names()) {
      out.put(name.toLowerCase(), new ArrayList<>(req.headers().getAll(name)));
    }
    return out;
  }
}
