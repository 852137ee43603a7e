package io.tollgate.gateway.metering;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;

/** A response body passed through a {@link UsageObserver}, with the source's back-pressure. */
final class ObservedStream implements ReadStream<Buffer> {

  private final ReadStream<Buffer> source;
  private final UsageObserver observer;
  private Handler<Buffer> dataHandler;

  ObservedStream(ReadStream<Buffer> source, UsageObserver observer) {
    this.source = source;
    this.observer = observer;
  }

  @Override
  public ReadStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
    source.exceptionHandler(handler);
    return this;
  }

  @Override
  public ReadStream<Buffer> handler(Handler<Buffer> handler) {
    this.dataHandler = handler;
    source.handler(handler == null ? null : chunk -> {
      Buffer out = observer.onChunk(chunk);
      if (out.length() > 0) {
        handler.handle(out);
      }
    });
    return this;
  }

  @Override
  public ReadStream<Buffer> pause() {
    source.pause();
    return this;
  }

  @Override
  public ReadStream<Buffer> resume() {
    source.resume();
    return this;
  }

  @Override
  public ReadStream<Buffer> fetch(long amount) {
    source.fetch(amount);
    return this;
  }

  @Override
  public ReadStream<Buffer> endHandler(Handler<Void> endHandler) {
    source.endHandler(endHandler == null ? null : v -> {
      Buffer rest = observer.onEnd();
      if (rest.length() > 0 && dataHandler != null) {
        dataHandler.handle(rest);
      }
      endHandler.handle(null);
    });
    return this;
  }
}
