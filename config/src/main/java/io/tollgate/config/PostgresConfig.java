package io.tollgate.config;

import java.util.Optional;

/** Postgres to use; no URL means Tollgate starts an embedded PostgreSQL under the data directory. */
public record PostgresConfig(Optional<String> url, int poolSize) {

  public boolean embedded() {
    return url.isEmpty();
  }

  @Override
  public String toString() {
    return "PostgresConfig[url=" + url.map(Urls::mask).orElse("(embedded)") + ", poolSize=" + poolSize + "]";
  }
}
