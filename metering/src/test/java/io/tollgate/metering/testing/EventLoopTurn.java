package io.tollgate.metering.testing;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/** Starts work on a real event loop in one turn: where admissions and settlements are batched. */
public final class EventLoopTurn {

  private EventLoopTurn() {
  }

  /** Runs {@code start} on an event loop of {@code vertx} and returns the futures it began. */
  public static <T> List<Future<T>> inOneTurn(Vertx vertx, Supplier<List<Future<T>>> start) throws Exception {
    CompletableFuture<List<Future<T>>> started = new CompletableFuture<>();
    vertx.getOrCreateContext().runOnContext(v -> {
      try {
        started.complete(start.get());
      } catch (RuntimeException e) {
        started.completeExceptionally(e);
      }
    });
    return started.get(30, TimeUnit.SECONDS);
  }
}
