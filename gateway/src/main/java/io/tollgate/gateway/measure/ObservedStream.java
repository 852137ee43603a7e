package io.tollgate.gateway.measure;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;
import io.tollgate.gateway.streams.DelegatingReadStream;

/** A response body passed through a {@link UsageObserver}, with the source's back-pressure. */
public final class ObservedStream extends DelegatingReadStream {

  private final UsageObserver observer;
  private Handler<Buffer> dataHandler;

  public ObservedStream(ReadStream<Buffer> source, UsageObserver observer) {
    super(source);
    this.observer = observer;
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
