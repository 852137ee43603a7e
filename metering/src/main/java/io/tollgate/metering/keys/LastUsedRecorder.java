package io.tollgate.metering.keys;

import io.tollgate.metering.keys.ApiKeyStore;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import java.time.Clock;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Keeps each key's last use in memory and writes them to Postgres in one statement per flush. */
final class LastUsedRecorder {

  private final ConcurrentHashMap<Long, Instant> pending = new ConcurrentHashMap<>();
  private final ApiKeyStore keys;
  private final Pool pool;
  private final Clock clock;

  LastUsedRecorder(ApiKeyStore keys, Pool pool, Clock clock) {
    this.keys = keys;
    this.pool = pool;
    this.clock = clock;
  }

  void used(long keyId) {
    pending.put(keyId, clock.instant());
  }

  Future<Void> flush() {
    if (pending.isEmpty()) {
      return Future.succeededFuture();
    }
    Map<Long, Instant> batch = new HashMap<>();
    for (Long id : pending.keySet()) {
      Instant at = pending.remove(id);
      if (at != null) {
        batch.put(id, at);
      }
    }
    // On failure the times go back, unless a newer one arrived meanwhile.
    return keys.touch(pool, batch).onFailure(err -> batch.forEach((id, at) -> pending.merge(id, at, (a, b) -> a.isAfter(b) ? a : b)));
  }
}
