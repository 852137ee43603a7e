package io.tollgate.loadtests.stub;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import java.util.List;
import java.util.function.Supplier;

/** Writes server-sent events one HTTP chunk per event, with an optional delay between them. */
final class Sse {

  private Sse() {
  }

  static void start(HttpServerResponse response) {
    response.setChunked(true).putHeader("content-type", "text/event-stream").putHeader("cache-control", "no-cache");
  }

  static Buffer data(String json) {
    return Buffer.buffer("data: " + json + "\n\n");
  }

  static Buffer event(String name, String json) {
    return Buffer.buffer("event: " + name + "\ndata: " + json + "\n\n");
  }

  /** Writes {@code events} in order, waiting {@code delayMs} between them, then completes. */
  static Future<Void> writeAll(Vertx vertx, HttpServerResponse response, List<Supplier<Buffer>> events, long delayMs) {
    Future<Void> chain = Future.succeededFuture();
    for (Supplier<Buffer> event : events) {
      chain = chain.compose(v -> pause(vertx, delayMs)).compose(v -> response.closed() ? Future.failedFuture("client gone") : response.write(event.get()));
    }
    return chain;
  }

  static Future<Void> pause(Vertx vertx, long millis) {
    if (millis <= 0) {
      return Future.succeededFuture();
    }
    return vertx.timer(millis).mapEmpty();
  }
}
