package io.tollgate.metering.usage;

import io.vertx.core.Future;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;

/**
 * Keeps monthly {@code usage_events} partitions created ahead of time. A month without its
 * partition would send its rows to the default partition, and a partition can then no longer be
 * created for that month without moving them; so every instance calls this at startup and every
 * few hours. The SQL function takes an advisory lock, so concurrent calls are safe.
 */
public final class UsagePartitions {

  /** The current month and this many after it always have a partition. */
  public static final int MONTHS_AHEAD = 2;

  private UsagePartitions() {
  }

  /** Creates the missing partitions; returns how many it created. */
  public static Future<Integer> ensure(SqlClient sql) {
    return sql.preparedQuery("SELECT ensure_usage_partitions($1)").execute(Tuple.of(MONTHS_AHEAD))
        .map(rows -> rows.iterator().next().getInteger(0));
  }
}
