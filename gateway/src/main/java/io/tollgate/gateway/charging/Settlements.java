package io.tollgate.gateway.charging;

import io.vertx.core.Future;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Settlements still running on this instance. Shutdown waits for them, so a request that finishes
 * while the instance stops is charged and its usage event reaches the stream before the last flush.
 */
public final class Settlements {

  private final Set<Future<?>> running = ConcurrentHashMap.newKeySet();

  /** Tracks a request's settlement until it completes. */
  <T> Future<T> track(Future<T> settlement) {
    running.add(settlement);
    return settlement.onComplete(ar -> running.remove(settlement));
  }

  /** Completes when every settlement running now has completed, whatever their outcome. */
  public Future<Void> drained() {
    return Future.join(List.copyOf(running)).transform(ar -> Future.succeededFuture());
  }
}
