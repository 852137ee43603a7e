package io.tollgate.config;

import java.util.Optional;

/** Redis to use; no URL means Tollgate starts an embedded Redis under the data directory. */
public record RedisConfig(Optional<String> url, int poolSize) {

  public boolean embedded() {
    return url.isEmpty();
  }

  @Override
  public String toString() {
    return "RedisConfig[url=" + url.map(Urls::mask).orElse("(embedded)") + ", poolSize=" + poolSize + "]";
  }
}
