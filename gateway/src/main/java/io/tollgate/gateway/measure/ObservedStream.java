package io.tollgate.gateway.measure;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;
import io.tollgate.gateway.streams.DelegatingReadStream;

/**
 * A response body passed through a {@link UsageObserver}, with the source's back-pressure. The
 * observer sees every chunk the source delivers, even while nobody reads the output (a pipe whose
 * client hung up drops its handlers but resumes the source): the usage of an answer read to its
 * end after a client abort is then still complete.
 */
public final class ObservedStream extends DelegatingReadStream {

  private final UsageObserver observer;
  private Handler<Buffer> dataHandler;
  private long bytes;
  private boolean ended;
  private Throwable failure;

  public ObservedStream(ReadStream<Buffer> source, UsageObserver observer) {
    super(source);
    this.observer = observer;
  }

  @Override
  public ReadStream<Buffer> handler(Handler<Buffer> handler) {
    this.dataHandler = handler;
    if (ended) {
      // A pipe clears its handlers once the source ended; an ended HTTP response refuses any new
      // handler with an exception, built with its stack trace, three per request (issue 18's profile).
      return this;
    }
    source.handler(chunk -> {
      bytes += chunk.length();
      Buffer out = observer.onChunk(chunk);
      if (out.length() > 0 && handler != null) {
        handler.handle(out);
      }
    });
    return this;
  }

  /** Bytes the upstream has delivered so far. */
  public long bytes() {
    return bytes;
  }

  @Override
  public ReadStream<Buffer> endHandler(Handler<Void> endHandler) {
    if (ended) {
      return this;
    }
    source.endHandler(v -> {
      ended = true;
      Buffer rest = observer.onEnd();
      if (rest.length() > 0 && dataHandler != null) {
        dataHandler.handle(rest);
      }
      if (endHandler != null) {
        endHandler.handle(null);
      }
    });
    return this;
  }

  @Override
  public ReadStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
    if (ended) {
      return this;
    }
    source.exceptionHandler(err -> {
      failure = err;
      if (handler != null) {
        handler.handle(err);
      }
    });
    return this;
  }

  /** What the source failed with (the upstream cut the answer), or null. */
  public Throwable failure() {
    return failure;
  }

  /** True once the source has ended (and the observer has seen its end). */
  public boolean ended() {
    return ended;
  }
}
