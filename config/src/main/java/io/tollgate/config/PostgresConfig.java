package io.tollgate.config;

import java.util.Optional;

/**
 * Postgres to use; no URL means Tollgate starts an embedded PostgreSQL under the data directory.
 *
 * @param url      {@code postgresql://} or {@code postgres://}, possibly with a password (from {@code DATABASE_URL})
 * @param poolSize connections to Postgres
 */
public record PostgresConfig(Optional<String> url, int poolSize) {

  public boolean embedded() {
    return url.isEmpty();
  }

  /** Masks the URL's password: configs get logged. */
  @Override
  public String toString() {
    return "PostgresConfig[url=" + url.map(Urls::mask).orElse("(embedded)") + ", poolSize=" + poolSize + "]";
  }
}
