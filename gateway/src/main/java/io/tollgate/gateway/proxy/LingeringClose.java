package io.tollgate.gateway.proxy;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;

/**
 * Closes an HTTP/1.x connection after an answer given before the request's body was read (a 413,
 * a refusal), the way nginx's lingering close does. Closing a socket that still has unread bytes
 * makes the kernel send a TCP reset, and a reset can reach the client before it has read the
 * answer: it then sees "connection reset" instead of the 413 that says what was wrong. So the
 * rest of the body is read and discarded, within bounds, and the connection closed when the body
 * ends, after {@link #MAX_BYTES} more bytes, or after {@link #MAX_MILLIS}, whichever comes first.
 * The caller must make sure nothing after this request on the connection is served (the proxy
 * marks the connection as closing).
 *
 * <p>HTTP/2 streams are left alone: the connection carries other requests, and Vert.x resets the
 * stream whose answer ended before its body.
 */
final class LingeringClose {

  /** How long the rest of a refused body is read before the connection is closed regardless. */
  static final long MAX_MILLIS = 5_000;
  /** How much of a refused body is read and discarded before the connection is closed regardless. */
  static final long MAX_BYTES = 16L << 20;

  private LingeringClose() {
  }

  /** Closes the request's connection once its answer is sent and the rest of its body discarded. */
  static void close(Vertx vertx, HttpServerRequest request) {
    if (request.version() == HttpVersion.HTTP_2) {
      return;
    }
    HttpConnection connection = request.connection();
    if (request.isEnded()) {
      connection.close();
      return;
    }
    long timer = vertx.setTimer(MAX_MILLIS, id -> connection.close());
    long[] discarded = {0};
    request.exceptionHandler(err -> {
      vertx.cancelTimer(timer);
      connection.close();
    });
    request.endHandler(v -> {
      vertx.cancelTimer(timer);
      connection.close();
    });
    request.handler(chunk -> {
      discarded[0] += chunk.length();
      if (discarded[0] > MAX_BYTES) {
        vertx.cancelTimer(timer);
        connection.close();
      }
    });
    request.resume();
  }
}
