package io.tollgate.gateway;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;

/** A real HTTP client for tests: status, headers and the whole body of one exchange. */
final class HttpTestClient {

  record Reply(int status, MultiMap headers, Buffer body) {
    JsonObject json() {
      return body.toJsonObject();
    }

    String text() {
      return body.toString();
    }
  }

  /**
   * Vert.x 5 closes a client once it becomes unreachable (a Cleaner), even with a request in
   * flight, which fails that request with "Pool closed". Tests often drop the wrapper right after
   * starting an exchange, so every client stays reachable until its Vert.x instance closes.
   */
  private static final java.util.List<HttpClient> REACHABLE = java.util.Collections.synchronizedList(new java.util.ArrayList<>());

  private final HttpClient client;
  private final io.vertx.core.Context context;
  private final String key;

  HttpTestClient(Vertx vertx) {
    this(vertx, false, null);
  }

  /** With keep-alive the client leaves a caller's own {@code Connection} header alone. */
  HttpTestClient(Vertx vertx, boolean keepAlive) {
    this(vertx, keepAlive, null);
  }

  /** Sends {@code Authorization: Bearer key} on every request that does not set its own. */
  HttpTestClient(Vertx vertx, boolean keepAlive, String key) {
    this.client = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(keepAlive));
    REACHABLE.add(client);
    this.context = vertx.getOrCreateContext();
    this.key = key;
  }

  /**
   * Runs the exchange on a Vert.x context. Driving the client straight from the test thread lost
   * about one request in several hundred here: from a foreign thread, Vert.x 5.0.10 can deliver a
   * response's end before {@code body()} has set its handler, and the body's future never
   * completes (eclipse-vertx/vert.x#6038, fixed after 5.0.10). From a context it did not happen in 3,000.
   */
  Future<Reply> send(HttpMethod method, int port, String uri, MultiMap headers, Buffer body) {
    io.vertx.core.Promise<Reply> promise = io.vertx.core.Promise.promise();
    context.runOnContext(v -> exchange(method, port, uri, headers, body).onComplete(promise));
    return promise.future();
  }

  private Future<Reply> exchange(HttpMethod method, int port, String uri, MultiMap headers, Buffer body) {
    return client.request(new RequestOptions().setMethod(method).setHost("127.0.0.1").setPort(port).setURI(uri))
        .compose(req -> {
          if (headers != null) {
            req.headers().addAll(headers);
          }
          if (key != null && !req.headers().contains("authorization")) {
            req.putHeader("authorization", "Bearer " + key);
          }
          return body == null ? req.send() : req.send(body);
        })
        .compose(resp -> resp.body().map(b -> new Reply(resp.statusCode(), resp.headers(), b)));
  }

  Future<Reply> get(int port, String uri) {
    return send(HttpMethod.GET, port, uri, null, null);
  }

  Future<Reply> postJson(int port, String uri, JsonObject body) {
    return send(HttpMethod.POST, port, uri, MultiMap.caseInsensitiveMultiMap().add("content-type", "application/json"), body.toBuffer());
  }

  /** Keeps a client made elsewhere in a test reachable too (see {@link #REACHABLE}). */
  static HttpClient keep(HttpClient client) {
    REACHABLE.add(client);
    return client;
  }

  HttpClient raw() {
    return client;
  }
}
