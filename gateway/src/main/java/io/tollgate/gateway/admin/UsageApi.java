package io.tollgate.gateway.admin;

import static io.tollgate.gateway.admin.AdminApi.fail;
import static io.tollgate.gateway.admin.AdminApi.json;
import static io.tollgate.gateway.admin.AdminApi.queryId;
import static io.tollgate.gateway.admin.AdminApi.queryInstant;
import static io.tollgate.metering.store.PgTime.utc;

import io.tollgate.config.PlanConfig;
import io.tollgate.gateway.admin.AdminApi.Reply;
import io.tollgate.metering.alerts.AlertBasis;
import io.tollgate.gateway.Services;
import io.tollgate.metering.accounts.Account;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowStream;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Transaction;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Usage queries over the hourly rollups (by account, key, model, route; per hour or day), the
 * current period's cost with a projection and the change against the previous period, and CSV
 * exports of raw events and of the daily breakdown. Exports stream from a Postgres cursor with
 * back-pressure: a year of events never sits in memory.
 */
final class UsageApi {

  private static final Logger log = LoggerFactory.getLogger(UsageApi.class);
  /** groupBy name → rollup column. */
  private static final Map<String, String> DIMENSIONS = new LinkedHashMap<>();

  static {
    DIMENSIONS.put("account", "account_id");
    DIMENSIONS.put("key", "key_id");
    DIMENSIONS.put("model", "model");
    DIMENSIONS.put("route", "route");
  }

  private static final int CURSOR_FETCH = 500;
  private static final Duration MAX_HOURLY_RANGE = Duration.ofDays(31);
  private static final Duration MAX_DAILY_RANGE = Duration.ofDays(366);
  private static final Duration MAX_EXPORT_RANGE = Duration.ofDays(366);

  private final Services m;

  UsageApi(Services m) {
    this.m = m;
  }

  void mount(Router router) {
    router.get("/admin/v1/usage").handler(json(this::usage));
    router.get("/admin/v1/accounts/:id/usage/summary").handler(json(this::summary));
    router.get("/admin/v1/usage/events.csv").handler(this::eventsCsv);
    router.get("/admin/v1/usage/daily.csv").handler(this::dailyCsv);
  }

  /** The filters every usage endpoint accepts; {@code from} inclusive, {@code to} exclusive. */
  private record Filter(Long accountId, Long keyId, String model, String route, Instant from, Instant to) {

    /** SQL conditions on the named columns, with parameters numbered from {@code $1}. */
    String where(String timeColumn, List<Object> params) {
      StringBuilder sql = new StringBuilder();
      params.add(OffsetDateTime.ofInstant(from, ZoneOffset.UTC));
      sql.append(timeColumn).append(" >= $").append(params.size());
      params.add(OffsetDateTime.ofInstant(to, ZoneOffset.UTC));
      sql.append(" AND ").append(timeColumn).append(" < $").append(params.size());
      equal(sql, params, "account_id", accountId);
      equal(sql, params, "key_id", keyId);
      equal(sql, params, "model", model);
      equal(sql, params, "route", route);
      return sql.toString();
    }

    /** {@code AND column = $n} when the filter is given. */
    private static void equal(StringBuilder sql, List<Object> params, String column, Object value) {
      if (value != null) {
        params.add(value);
        sql.append(" AND ").append(column).append(" = $").append(params.size());
      }
    }
  }

  private Filter filter(RoutingContext ctx, Duration defaultRange, Duration maxRange) {
    Instant to = queryInstant(ctx, "to");
    Instant from = queryInstant(ctx, "from");
    if (to == null) {
      to = m.clock().instant();
    }
    if (from == null) {
      from = to.minus(defaultRange);
    }
    if (!from.isBefore(to)) {
      throw new BadInput(400, "invalid-request", "query parameter 'from' must be before 'to'");
    }
    if (Duration.between(from, to).compareTo(maxRange) > 0) {
      throw new BadInput(400, "invalid-request", "the range from 'from' to 'to' may span at most " + maxRange.toDays()
          + " days here; split the query");
    }
    return new Filter(queryId(ctx, "accountId"), queryId(ctx, "keyId"), queryText(ctx, "model"), queryText(ctx, "route"), from, to);
  }

  private static String queryText(RoutingContext ctx, String name) {
    String raw = ctx.queryParams().get(name);
    if (raw != null && (raw.isEmpty() || raw.length() > 200)) {
      throw new BadInput(400, "invalid-request", "query parameter '" + name + "' must be 1-200 characters");
    }
    return raw;
  }

  // ---- GET /admin/v1/usage

  private Future<Reply> usage(RoutingContext ctx) {
    String granularity = ctx.queryParams().get("granularity") == null ? "day" : ctx.queryParams().get("granularity");
    if (!granularity.equals("hour") && !granularity.equals("day")) {
      throw new BadInput(400, "invalid-request", "query parameter 'granularity' must be hour or day");
    }
    boolean hourly = granularity.equals("hour");
    Filter filter = filter(ctx, hourly ? Duration.ofHours(48) : Duration.ofDays(30), hourly ? MAX_HOURLY_RANGE : MAX_DAILY_RANGE);
    List<String> groupBy = new ArrayList<>();
    String rawGroups = ctx.queryParams().get("groupBy");
    if (rawGroups != null && !rawGroups.isBlank()) {
      for (String g : rawGroups.split(",")) {
        String name = g.trim();
        if (!DIMENSIONS.containsKey(name)) {
          throw new BadInput(400, "invalid-request", "query parameter 'groupBy' may list " + String.join(", ", DIMENSIONS.keySet())
              + "; got '" + name + "'");
        }
        if (!groupBy.contains(name)) {
          groupBy.add(name);
        }
      }
    }
    // Rollups are hourly; the range is widened to whole hours so that a bucket is never half counted.
    Filter hours = new Filter(filter.accountId(), filter.keyId(), filter.model(), filter.route(),
        filter.from().truncatedTo(ChronoUnit.HOURS), ceilHour(filter.to()));
    List<Object> params = new ArrayList<>();
    StringBuilder columns = new StringBuilder("date_trunc('" + granularity + "', hour AT TIME ZONE 'UTC') AS bucket");
    for (String g : groupBy) {
      columns.append(", ").append(DIMENSIONS.get(g));
    }
    String where = hours.where("hour", params);
    String sql = "SELECT " + columns + ", sum(requests) AS requests, sum(input_tokens) AS input_tokens, "
        + "sum(output_tokens) AS output_tokens, sum(credits) AS credits FROM usage_rollups_hourly WHERE " + where
        + " GROUP BY " + groupColumns(groupBy.size()) + " ORDER BY " + groupColumns(groupBy.size()) + " LIMIT 10001";
    return m.pool().preparedQuery(sql).execute(Tuple.from(params)).map(rows -> {
      JsonArray data = new JsonArray();
      JsonObject totals = new JsonObject().put("requests", 0L).put("inputTokens", 0L).put("outputTokens", 0L).put("credits", 0L);
      for (Row r : rows) {
        if (data.size() == 10_000) {
          throw new BadInput(400, "invalid-request", "more than 10000 rows: narrow the range, use granularity=day, or export CSV");
        }
        JsonObject bucket = new JsonObject().put("start", r.getLocalDateTime("bucket").toInstant(ZoneOffset.UTC).toString());
        for (String g : groupBy) {
          Object v = r.getValue(DIMENSIONS.get(g));
          bucket.put(g, g.equals("key") && Long.valueOf(0L).equals(v) ? null : v);
        }
        bucket.put("requests", r.getLong("requests")).put("inputTokens", r.getLong("input_tokens"))
            .put("outputTokens", r.getLong("output_tokens")).put("credits", r.getLong("credits"));
        data.add(bucket);
        totals.put("requests", totals.getLong("requests") + r.getLong("requests"))
            .put("inputTokens", totals.getLong("inputTokens") + r.getLong("input_tokens"))
            .put("outputTokens", totals.getLong("outputTokens") + r.getLong("output_tokens"))
            .put("credits", totals.getLong("credits") + r.getLong("credits"));
      }
      return new Reply(200, new JsonObject().put("granularity", granularity)
          .put("from", hours.from().toString()).put("to", hours.to().toString())
          .put("groupBy", new JsonArray(groupBy)).put("data", data).put("totals", totals));
    });
  }

  private static String groupColumns(int dimensions) {
    StringBuilder s = new StringBuilder("1");
    for (int i = 0; i < dimensions; i++) {
      s.append(", ").append(i + 2);
    }
    return s.toString();
  }

  private static Instant ceilHour(Instant t) {
    Instant floor = t.truncatedTo(ChronoUnit.HOURS);
    return floor.equals(t) ? t : floor.plus(1, ChronoUnit.HOURS);
  }

  // ---- GET /admin/v1/accounts/:id/usage/summary

  private Future<Reply> summary(RoutingContext ctx) {
    long id = Fields.pathId(ctx.pathParam("id"), "account");
    Instant now = m.clock().instant();
    return m.accounts().get(m.pool(), id).map(found -> found.orElseThrow(() -> BadInput.notFound("account " + id)))
        .compose(account -> {
          Instant start = account.periodStart();
          Instant end = account.periodEnd();
          Instant previousStart = OffsetDateTime.ofInstant(start, ZoneOffset.UTC).minusMonths(1).toInstant();
          // Raw events for the current period (exact to the second), rollups for the previous one.
          String sql = "SELECT (SELECT count(*) FROM usage_events WHERE account_id = $1 AND occurred_at >= $2 AND occurred_at < $3) AS requests, "
              + "(SELECT coalesce(sum(credits), 0) FROM usage_events WHERE account_id = $1 AND occurred_at >= $2 AND occurred_at < $3) AS credits, "
              + "(SELECT coalesce(sum(credits), 0) FROM usage_rollups_hourly WHERE account_id = $1 AND hour >= $4 AND hour < $2) AS previous, "
              + "(SELECT period_start FROM billing_periods WHERE account_id = $1 AND period_end = $2) AS previous_start";
          return m.pool().preparedQuery(sql).execute(Tuple.of(id, utc(start), utc(end), utc(previousStart)))
              .map(rows -> new Reply(200, summaryJson(account, rows.iterator().next(), now, previousStart)));
        });
  }

  private JsonObject summaryJson(Account account, Row r, Instant now, Instant previousStart) {
    long credits = r.getLong("credits");
    Instant start = account.periodStart();
    Instant end = account.periodEnd();
    long periodSeconds = Math.max(1, Duration.between(start, end).toSeconds());
    // Linear projection; the first hour is extrapolated from at least an hour so that one early
    // request does not project a fantasy total.
    long elapsed = Math.max(3_600, Math.min(periodSeconds, Duration.between(start, now).toSeconds()));
    long projected = elapsed >= periodSeconds ? credits : (long) Math.ceil((double) credits * periodSeconds / elapsed);
    long previous = r.getLong("previous");
    OffsetDateTime recordedStart = r.getOffsetDateTime("previous_start");
    PlanConfig plan = m.config().plan(account.plan());
    JsonObject out = new JsonObject()
        .put("accountId", account.id())
        .put("period", new JsonObject().put("start", start.toString()).put("end", end.toString()))
        .put("requests", r.getLong("requests"))
        .put("creditsToDate", credits)
        .put("projectedCredits", projected)
        .put("previousPeriod", new JsonObject()
            .put("start", (recordedStart == null ? previousStart : recordedStart.toInstant()).toString())
            .put("end", start.toString()).put("credits", previous))
        .put("changePercent", previous == 0 ? null : Math.round((credits - previous) * 1000.0 / previous) / 10.0)
        .put("includedCredits", plan.includedCredits())
        .put("spendCap", account.spendCap());
    long basis = AlertBasis.of(account, plan);
    out.put("percentOfAllowance", basis <= 0 ? null : Math.round(credits * 1000.0 / basis) / 10.0);
    return out;
  }


  // ---- CSV exports

  private void eventsCsv(RoutingContext ctx) {
    Filter filter;
    try {
      filter = filter(ctx, Duration.ofDays(30), MAX_EXPORT_RANGE);
    } catch (BadInput e) {
      fail(ctx, e);
      return;
    }
    List<Object> params = new ArrayList<>();
    String sql = "SELECT event_id, occurred_at, account_id, key_id, route, model, input_tokens, output_tokens, credits, status, "
        + "upstream_latency_ms, estimated, outcome FROM usage_events WHERE " + filter.where("occurred_at", params)
        + " ORDER BY occurred_at, event_id";
    streamCsv(ctx, "usage-events.csv", sql, Tuple.from(params),
        "event_id,occurred_at,account_id,key_id,route,model,input_tokens,output_tokens,credits,status,upstream_latency_ms,estimated,outcome",
        r -> r.getUUID("event_id") + "," + r.getOffsetDateTime("occurred_at").toInstant() + "," + r.getLong("account_id") + ","
            + nullable(r.getLong("key_id")) + "," + Csv.cell(r.getString("route")) + "," + Csv.cell(r.getString("model")) + ","
            + r.getLong("input_tokens") + "," + r.getLong("output_tokens") + "," + r.getLong("credits") + "," + r.getInteger("status")
            + "," + nullable(r.getInteger("upstream_latency_ms")) + "," + r.getBoolean("estimated") + "," + Csv.cell(r.getString("outcome")));
  }

  private void dailyCsv(RoutingContext ctx) {
    Filter filter;
    try {
      filter = filter(ctx, Duration.ofDays(30), MAX_EXPORT_RANGE);
    } catch (BadInput e) {
      fail(ctx, e);
      return;
    }
    Filter hours = new Filter(filter.accountId(), filter.keyId(), filter.model(), filter.route(),
        filter.from().truncatedTo(ChronoUnit.HOURS), ceilHour(filter.to()));
    List<Object> params = new ArrayList<>();
    String sql = "SELECT (date_trunc('day', hour AT TIME ZONE 'UTC'))::date AS day, account_id, route, model, sum(requests) AS requests, "
        + "sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(credits) AS credits "
        + "FROM usage_rollups_hourly WHERE " + hours.where("hour", params) + " GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4";
    streamCsv(ctx, "usage-daily.csv", sql, Tuple.from(params), "day,account_id,route,model,requests,input_tokens,output_tokens,credits",
        r -> r.getLocalDate("day") + "," + r.getLong("account_id") + "," + Csv.cell(r.getString("route")) + ","
            + Csv.cell(r.getString("model")) + "," + r.getLong("requests") + "," + r.getLong("input_tokens") + ","
            + r.getLong("output_tokens") + "," + r.getLong("credits"));
  }

  private static String nullable(Object v) {
    return v == null ? "" : v.toString();
  }

  /**
   * Streams a query's rows as CSV: a cursor (inside a read-only transaction, which cursors need)
   * fetches {@value #CURSOR_FETCH} rows at a time, and the cursor is paused whenever the
   * client's write queue is full. A client that goes away closes the cursor and the connection.
   */
  private void streamCsv(RoutingContext ctx, String filename, String sql, Tuple params, String header,
                         Function<Row, String> line) {
    HttpServerResponse response = ctx.response();
    m.pool().getConnection().onFailure(err -> fail(ctx, err)).onSuccess(conn -> conn.begin().compose(tx ->
        conn.prepare(sql).map(ps -> ps.createStream(CURSOR_FETCH, params)).map(stream -> {
          pipe(ctx, response, conn, tx, stream, filename, header, line);
          return stream;
        })).onFailure(err -> {
          conn.close();
          fail(ctx, err);
        }));
  }

  private static void pipe(RoutingContext ctx, HttpServerResponse response, SqlConnection conn, Transaction tx,
                           RowStream<Row> rows, String filename, String header, Function<Row, String> line) {
    boolean[] finished = {false};
    Runnable release = () -> {
      if (!finished[0]) {
        finished[0] = true;
        rows.close().eventually(tx::rollback).eventually(conn::close);
      }
    };
    response.setChunked(true).putHeader("content-type", "text/csv; charset=utf-8")
        .putHeader("content-disposition", "attachment; filename=\"" + filename + "\"");
    response.closeHandler(v -> release.run());
    response.write(header + "\r\n");
    rows.exceptionHandler(err -> {
      log.warn("usage export {} failed after it started: {}", filename, err.toString());
      release.run();
      // The status line is gone; cutting the connection tells the client the file is incomplete.
      response.reset();
    });
    rows.endHandler(v -> {
      release.run();
      response.end();
    });
    rows.handler(row -> {
      response.write(Buffer.buffer(line.apply(row) + "\r\n"));
      if (response.writeQueueFull()) {
        rows.pause();
        response.drainHandler(d -> rows.resume());
      }
    });
  }
}
