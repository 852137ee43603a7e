package io.tollgate.config;

import java.util.Optional;

/**
 * Redis to use; no URL means Tollgate starts an embedded Redis under the data directory.
 *
 * @param url      {@code redis://} or {@code rediss://}, possibly with a password (from {@code REDIS_URL})
 * @param poolSize connections to Redis
 */
public record RedisConfig(Optional<String> url, int poolSize) {

  public boolean embedded() {
    return url.isEmpty();
  }

  /** Masks the URL's password: configs get logged. */
  @Override
  public String toString() {
    return "RedisConfig[url=" + url.map(Urls::mask).orElse("(embedded)") + ", poolSize=" + poolSize + "]";
  }
}
