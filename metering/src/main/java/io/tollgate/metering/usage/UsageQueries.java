package io.tollgate.metering.usage;

import static io.tollgate.metering.store.PgTime.utc;

import io.tollgate.metering.store.RowCursor;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads of stored usage: the hourly rollups grouped by dimensions, a period's totals, and the raw
 * events and daily breakdown as cursors for exports (a year of events never sits in memory).
 */
public final class UsageQueries {

  private static final String KEY_SPEND = "SELECT coalesce(sum(credits), 0) FROM usage_events WHERE key_id IN "
      + "(SELECT id FROM api_keys WHERE id = $1 OR budget_of = $1) AND occurred_at >= $2";

  /**
   * What a key spent since {@code since} as stored (its own usage and that of the keys rotated from
   * or to it that share its budget): seeds the budget's counter when Redis has none. Usage still on
   * its way from the stream is not counted yet.
   */
  public Future<Long> keySpend(long spendKeyId, Instant since) {
    return pool.preparedQuery(KEY_SPEND).execute(Tuple.of(spendKeyId, utc(since))).map(rows -> rows.iterator().next().getLong(0));
  }


  /** groupBy name → rollup column. */
  private static final Map<String, String> DIMENSIONS = new LinkedHashMap<>();

  static {
    DIMENSIONS.put("account", "account_id");
    DIMENSIONS.put("key", "key_id");
    DIMENSIONS.put("model", "model");
    DIMENSIONS.put("route", "route");
    DIMENSIONS.put("action", "action");
    DIMENSIONS.put("tier", "tier");
  }

  private static final int CURSOR_FETCH = 500;
  private static final String PERIOD_TOTALS = "SELECT coalesce(sum(requests), 0) AS requests, coalesce(sum(credits), 0) AS credits "
      + "FROM usage_rollups_hourly WHERE account_id = $1 AND hour >= $2 AND hour < $3";
  // Raw events for the current period (exact to the second), rollups for the previous one.
  private static final String SUMMARY = "SELECT (SELECT count(*) FROM usage_events WHERE account_id = $1 AND occurred_at >= $2 AND occurred_at < $3) AS requests, "
      + "(SELECT coalesce(sum(credits), 0) FROM usage_events WHERE account_id = $1 AND occurred_at >= $2 AND occurred_at < $3) AS credits, "
      + "(SELECT coalesce(sum(credits), 0) FROM usage_rollups_hourly WHERE account_id = $1 AND hour >= $4 AND hour < $2) AS previous, "
      + "(SELECT period_start FROM billing_periods WHERE account_id = $1 AND period_end = $2) AS previous_start";

  // One query, with the period's end or without it (allowancesUsed and allowancesUsedSince say which needs which).
  private static final String ALLOWANCES_USED = "SELECT tier, sum(allowance_units) AS used FROM usage_events "
      + "WHERE account_id = $1 AND occurred_at >= $2%s AND tier IS NOT NULL GROUP BY tier";
  private static final String ALLOWANCES_USED_BETWEEN = ALLOWANCES_USED.formatted(" AND occurred_at < $3");
  private static final String ALLOWANCES_USED_SINCE = ALLOWANCES_USED.formatted("");

  private final Pool pool;

  public UsageQueries(Pool pool) {
    this.pool = pool;
  }

  /** The names {@link #rollups} may group by: account, key, model, route, action, tier. */
  public static Set<String> dimensions() {
    return DIMENSIONS.keySet();
  }

  /**
   * One rollup bucket: its start, the value of each grouped dimension (by name), and its sums;
   * {@code quantity} and {@code allowanceUnits} count billable actions' units (0 for proxied traffic).
   */
  public record Bucket(Instant start, Map<String, Object> groups, long requests, long inputTokens, long outputTokens, long credits,
                       long quantity, long allowanceUnits) {
  }

  /** Requests and credits counted in a range. */
  public record Totals(long requests, long credits) {
  }

  /**
   * A period's usage to date from raw events, the previous period's credits from rollups, and
   * that period's recorded start (null when none was recorded).
   */
  public record PeriodSummary(long requests, long credits, long previousCredits, Instant previousStart) {

    /**
     * The period's credits projected linearly to its end from its use up to {@code now}. The first
     * hour is extrapolated from at least an hour so that one early request does not project a
     * fantasy total; a period that has ended projects what it used. In units, rounded up to a
     * unit, exactly (no floating point on money), capped at {@link io.tollgate.config.Credits#MAX_UNITS}.
     */
    public long projectedCredits(Instant start, Instant end, Instant now) {
      long periodSeconds = Math.max(1, java.time.Duration.between(start, end).toSeconds());
      long elapsed = Math.max(3_600, Math.min(periodSeconds, java.time.Duration.between(start, now).toSeconds()));
      if (elapsed >= periodSeconds) {
        return credits;
      }
      return java.math.BigInteger.valueOf(credits).multiply(java.math.BigInteger.valueOf(periodSeconds))
          .add(java.math.BigInteger.valueOf(elapsed - 1)).divide(java.math.BigInteger.valueOf(elapsed))
          .min(java.math.BigInteger.valueOf(io.tollgate.config.Credits.MAX_UNITS)).longValueExact();
    }
  }

  /**
   * Rollups over whole hours, per {@code granularity} ({@code hour} or {@code day}) and the given
   * dimensions, at most {@code limit} buckets in order.
   */
  public Future<List<Bucket>> rollups(UsageFilter hours, String granularity, List<String> groupBy, int limit) {
    if (!granularity.equals("hour") && !granularity.equals("day")) {
      throw new IllegalArgumentException("granularity must be hour or day");
    }
    List<Object> params = new ArrayList<>();
    StringBuilder columns = new StringBuilder("date_trunc('" + granularity + "', hour AT TIME ZONE 'UTC') AS bucket");
    for (String g : groupBy) {
      columns.append(", ").append(column(g));
    }
    String where = hours.where("hour", params);
    String sql = "SELECT " + columns + ", sum(requests) AS requests, sum(input_tokens) AS input_tokens, "
        + "sum(output_tokens) AS output_tokens, sum(credits) AS credits, sum(quantity) AS quantity, "
        + "sum(allowance_units) AS allowance_units FROM usage_rollups_hourly WHERE " + where
        + " GROUP BY " + groupColumns(groupBy.size()) + " ORDER BY " + groupColumns(groupBy.size()) + " LIMIT " + limit;
    return pool.preparedQuery(sql).execute(Tuple.from(params)).map(rows -> {
      List<Bucket> out = new ArrayList<>();
      for (Row r : rows) {
        Map<String, Object> groups = new LinkedHashMap<>();
        for (String g : groupBy) {
          groups.put(g, r.getValue(column(g)));
        }
        out.add(new Bucket(r.getLocalDateTime("bucket").toInstant(ZoneOffset.UTC), groups, r.getLong("requests"),
            r.getLong("input_tokens"), r.getLong("output_tokens"), r.getLong("credits"), r.getLong("quantity"),
            r.getLong("allowance_units")));
      }
      return out;
    });
  }

  private static String column(String dimension) {
    String column = DIMENSIONS.get(dimension);
    if (column == null) {
      throw new IllegalArgumentException("unknown usage dimension " + dimension);
    }
    return column;
  }

  private static String groupColumns(int dimensions) {
    StringBuilder s = new StringBuilder("1");
    for (int i = 0; i < dimensions; i++) {
      s.append(", ").append(i + 2);
    }
    return s.toString();
  }

  /** Requests and credits of the account's hourly rollups in {@code [start, end)}. */
  public Future<Totals> totals(long accountId, Instant start, Instant end) {
    return pool.preparedQuery(PERIOD_TOTALS).execute(Tuple.of(accountId, utc(start), utc(end))).map(rows -> {
      Row r = rows.iterator().next();
      return new Totals(r.getLong("requests"), r.getLong("credits"));
    });
  }

  /** The period {@code [start, end)} to date, and the previous one from {@code previousStart} to {@code start}. */
  public Future<PeriodSummary> periodSummary(long accountId, Instant start, Instant end, Instant previousStart) {
    return pool.preparedQuery(SUMMARY).execute(Tuple.of(accountId, utc(start), utc(end), utc(previousStart))).map(rows -> {
      Row r = rows.iterator().next();
      OffsetDateTime recorded = r.getOffsetDateTime("previous_start");
      return new PeriodSummary(r.getLong("requests"), r.getLong("credits"), r.getLong("previous"),
          recorded == null ? null : recorded.toInstant());
    });
  }

  /**
   * Billable actions' allowance units used per tier in {@code [start, end)}, from the events of
   * record (reservations still open are not in it). Bounded by the end like the requests and
   * credits the admin usage summary shows beside it.
   */
  public Future<Map<String, Long>> allowancesUsed(long accountId, Instant start, Instant end) {
    return allowancesUsed(ALLOWANCES_USED_BETWEEN, Tuple.of(accountId, utc(start), utc(end)));
  }

  /**
   * {@link #allowancesUsed(long, Instant, Instant)} with no end: every event since {@code start}.
   * This is what the hot allowance counters count: they run on past the period's end until the
   * period rolls over (a grace after it, or as late as the invoice of an account Stripe bills),
   * so this, not the bounded period, is what stands in for them and seeds them.
   */
  public Future<Map<String, Long>> allowancesUsedSince(long accountId, Instant start) {
    return allowancesUsed(ALLOWANCES_USED_SINCE, Tuple.of(accountId, utc(start)));
  }

  private Future<Map<String, Long>> allowancesUsed(String sql, Tuple params) {
    return pool.preparedQuery(sql).execute(params).map(rows -> {
      Map<String, Long> used = new java.util.TreeMap<>();
      rows.forEach(r -> used.put(r.getString("tier"), r.getLong("used")));
      return used;
    });
  }

  /**
   * Each of {@code tiers}' allowance in the account's current period: {@code included} per tier
   * from the plan, used from {@link #allowancesUsed}; in the order of {@code tiers}. The admin
   * usage summary and the console both read allowances here.
   */
  public Future<List<TierAllowance>> allowances(long accountId, Instant periodStart, Instant periodEnd,
                                                java.util.function.ToLongFunction<String> included, java.util.Collection<String> tiers) {
    return allowancesUsed(accountId, periodStart, periodEnd).map(used -> TierAllowance.of(tiers, included, used));
  }

  /**
   * Raw events in time order, with columns event_id, occurred_at, account_id, key_id, route,
   * model, input_tokens, output_tokens, credits, status, upstream_latency_ms, estimated, outcome,
   * and for billable actions action, tier, quantity, allowance_units, ingest_id.
   */
  public Future<RowCursor> events(UsageFilter filter) {
    List<Object> params = new ArrayList<>();
    String sql = "SELECT event_id, occurred_at, account_id, key_id, route, model, input_tokens, output_tokens, credits, status, "
        + "upstream_latency_ms, estimated, outcome, action, tier, quantity, allowance_units, ingest_id FROM usage_events WHERE "
        + filter.where("occurred_at", params)
        + " ORDER BY occurred_at, event_id";
    return RowCursor.open(pool, sql, Tuple.from(params), CURSOR_FETCH);
  }

  /**
   * Daily sums of the rollups over whole hours, by account, route, model, action and tier, with
   * columns day, account_id, route, model, requests, input_tokens, output_tokens, credits, action,
   * tier, quantity, allowance_units.
   */
  public Future<RowCursor> daily(UsageFilter hours) {
    List<Object> params = new ArrayList<>();
    String sql = "SELECT (date_trunc('day', hour AT TIME ZONE 'UTC'))::date AS day, account_id, route, model, action, tier, "
        + "sum(requests) AS requests, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(credits) AS credits, "
        + "sum(quantity) AS quantity, sum(allowance_units) AS allowance_units "
        + "FROM usage_rollups_hourly WHERE " + hours.where("hour", params) + " GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6";
    return RowCursor.open(pool, sql, Tuple.from(params), CURSOR_FETCH);
  }
}
