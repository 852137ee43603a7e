package io.tollgate.gateway.charging;

import io.tollgate.gateway.errors.GatewayFailure;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;

/** Reads a request body whole (AI requests are small), refusing it as soon as it passes the limit. */
final class BodyReader {

  private BodyReader() {
  }

  static Future<Buffer> read(ReadStream<Buffer> stream, long limit) {
    Promise<Buffer> promise = Promise.promise();
    Buffer body = Buffer.buffer();
    stream.handler(chunk -> {
      if (body.length() + chunk.length() > limit) {
        stream.handler(null);
        promise.tryFail(GatewayFailure.tooLarge(limit));
        return;
      }
      body.appendBuffer(chunk);
    });
    stream.exceptionHandler(promise::tryFail);
    stream.endHandler(v -> promise.tryComplete(body));
    stream.resume();
    return promise.future();
  }
}
