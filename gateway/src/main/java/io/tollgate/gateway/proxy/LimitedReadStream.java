package io.tollgate.gateway.proxy;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;
import io.tollgate.gateway.streams.DelegatingReadStream;

/**
 * Passes a request body through while counting it, and fails the stream as soon as it exceeds
 * the limit. Needed for chunked uploads, whose size is only known as they arrive; a declared
 * {@code Content-Length} over the limit is refused before any byte is read.
 */
final class LimitedReadStream extends DelegatingReadStream {

  /** Signals that the client sent more than the limit; mapped to 413. */
  static final class BodyTooLargeException extends RuntimeException {
    BodyTooLargeException(long limit) {
      super("request body exceeds the limit of " + limit + " bytes", null, false, false);
    }
  }

  private final long limit;
  private long seen;
  private boolean exceeded;
  private Handler<Throwable> exceptionHandler;
  private Handler<Void> endHandler;

  LimitedReadStream(ReadStream<Buffer> source, long limit) {
    super(source);
    this.limit = limit;
  }

  boolean exceeded() {
    return exceeded;
  }

  @Override
  public ReadStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
    this.exceptionHandler = handler;
    return super.exceptionHandler(handler);
  }

  @Override
  public ReadStream<Buffer> handler(Handler<Buffer> handler) {
    if (handler == null) {
      source.handler(null);
      return this;
    }
    source.handler(chunk -> {
      if (exceeded) {
        return;
      }
      seen += chunk.length();
      if (seen > limit) {
        exceeded = true;
        // Stop the pipe into the upstream: the pipe fails and resets the upstream request.
        Handler<Throwable> onError = exceptionHandler;
        if (onError != null) {
          onError.handle(new BodyTooLargeException(limit));
        }
        return;
      }
      handler.handle(chunk);
    });
    return this;
  }

  @Override
  public ReadStream<Buffer> endHandler(Handler<Void> handler) {
    this.endHandler = handler;
    source.endHandler(handler == null ? null : v -> {
      if (!exceeded) {
        endHandler.handle(null);
      }
    });
    return this;
  }
}
