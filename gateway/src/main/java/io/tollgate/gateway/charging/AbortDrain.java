package io.tollgate.gateway.charging;

import io.tollgate.gateway.measure.ObservedStream;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.streams.ReadStream;

/**
 * Reads what is left of an upstream's answer after its client hung up, within a time and a byte
 * bound, so that the usage it reports can be billed. Answers true when the answer was read to its
 * end; false when it failed or ran out of bounds, in which case the upstream request is cancelled.
 */
final class AbortDrain {

  private AbortDrain() {
  }

  static Future<Boolean> drain(Vertx vertx, ReadStream<Buffer> body, HttpClientRequest upstream, long timeoutMillis,
                               long maxBytes) {
    if (body instanceof ObservedStream observed && observed.ended()) {
      // It ended while nobody listened (between the failed write to the client and now).
      return Future.succeededFuture(true);
    }
    Promise<Boolean> done = Promise.promise();
    long[] read = {0};
    long timer = vertx.setTimer(timeoutMillis, id -> cut(upstream, done));
    body.handler(chunk -> {
      read[0] += chunk.length();
      if (read[0] > maxBytes) {
        cut(upstream, done);
      }
    });
    body.exceptionHandler(err -> done.tryComplete(false));
    body.endHandler(v -> done.tryComplete(true));
    body.resume();
    return done.future().andThen(v -> vertx.cancelTimer(timer));
  }

  private static void cut(HttpClientRequest upstream, Promise<Boolean> done) {
    if (done.tryComplete(false)) {
      upstream.reset();
    }
  }
}
