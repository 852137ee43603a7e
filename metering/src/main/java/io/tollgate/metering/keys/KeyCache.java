package io.tollgate.metering.keys;

import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import io.tollgate.metering.keys.ApiKeyStore;
import io.tollgate.metering.keys.KeyGrant;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Optional;

/**
 * Key hash → grant, in process. Known keys are trusted for a short TTL, unknown ones remembered
 * for a shorter one; revocations are pushed ({@link #invalidate}) so they need not wait for the
 * TTL. Concurrent misses for one key share a single Postgres query. Steady state: no Postgres.
 */
final class KeyCache {

  private final AsyncCache<String, Optional<KeyGrant>> cache;
  private final ApiKeyStore keys;
  private final Pool pool;

  KeyCache(ApiKeyStore keys, Pool pool, Duration ttl, Duration negativeTtl) {
    this.keys = keys;
    this.pool = pool;
    this.cache = Caffeine.newBuilder()
        .maximumSize(500_000)
        .expireAfter(new Expiry<String, Optional<KeyGrant>>() {
          @Override
          public long expireAfterCreate(String key, Optional<KeyGrant> value, long currentTime) {
            return (value.isPresent() ? ttl : negativeTtl).toNanos();
          }

          @Override
          public long expireAfterUpdate(String key, Optional<KeyGrant> value, long currentTime, long currentDuration) {
            return expireAfterCreate(key, value, currentTime);
          }

          @Override
          public long expireAfterRead(String key, Optional<KeyGrant> value, long currentTime, long currentDuration) {
            return currentDuration;
          }
        })
        .buildAsync();
  }

  static String hex(byte[] hash) {
    return HexFormat.of().formatHex(hash);
  }

  Future<Optional<KeyGrant>> get(byte[] hash) {
    String id = hex(hash);
    return Future.fromCompletionStage(cache.get(id, (k, executor) ->
        keys.findGrant(pool, hash).toCompletionStage().toCompletableFuture()));
  }

  void invalidate(String hashHex) {
    cache.synchronous().invalidate(hashHex);
  }

  void invalidateAll() {
    cache.synchronous().invalidateAll();
  }
}
