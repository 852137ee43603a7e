package io.tollgate.metering.store;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;

/** Whether Postgres answers a query at all: for readiness checks. */
public final class PostgresHealth {

  private PostgresHealth() {
  }

  public static Future<Void> ping(Pool pool) {
    return pool.query("SELECT 1").execute().mapEmpty();
  }
}
