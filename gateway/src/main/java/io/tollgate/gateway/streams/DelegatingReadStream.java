package io.tollgate.gateway.streams;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;

/**
 * A body stream wrapped to see (or reshape) its chunks, keeping the source's flow control:
 * pause, resume, fetch and errors go straight to the source. Subclasses override
 * {@link #handler} and {@link #endHandler}.
 */
public abstract class DelegatingReadStream implements ReadStream<Buffer> {

  protected final ReadStream<Buffer> source;

  protected DelegatingReadStream(ReadStream<Buffer> source) {
    this.source = source;
  }

  @Override
  public ReadStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
    source.exceptionHandler(handler);
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
}
