package io.tollgate.gateway.admin;

import static io.tollgate.gateway.admin.AdminApi.fail;
import static io.tollgate.gateway.admin.AdminApi.json;
import static io.tollgate.gateway.admin.AdminApi.queryId;
import static io.tollgate.gateway.admin.AdminApi.queryInstant;

import io.tollgate.config.Credits;
import io.tollgate.config.PlanConfig;
import io.tollgate.config.TollgateConfig;
import io.tollgate.gateway.admin.AdminApi.Reply;
import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.accounts.AccountService;
import io.tollgate.metering.alerts.AlertBasis;
import io.tollgate.metering.store.RowCursor;
import io.tollgate.metering.usage.UsageFilter;
import io.tollgate.metering.usage.TierAllowance;
import io.tollgate.metering.usage.UsageQueries;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.sqlclient.Row;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Usage queries over the hourly rollups (by account, key, model, route; per hour or day), the
 * current period's cost with a projection and the change against the previous period, and CSV
 * exports of raw events and of the daily breakdown. Exports stream from a Postgres cursor with
 * back-pressure: a year of events never sits in memory.
 */
public final class UsageApi {

  private static final Logger log = LoggerFactory.getLogger(UsageApi.class);
  private static final Duration MAX_HOURLY_RANGE = Duration.ofDays(31);
  private static final Duration MAX_DAILY_RANGE = Duration.ofDays(366);
  private static final Duration MAX_EXPORT_RANGE = Duration.ofDays(366);

  private final AccountService accounts;
  private final UsageQueries usage;
  private final TollgateConfig config;
  private final Clock clock;

  public UsageApi(AccountService accounts, UsageQueries usage, TollgateConfig config, Clock clock) {
    this.accounts = accounts;
    this.usage = usage;
    this.config = config;
    this.clock = clock;
  }

  void mount(Router router) {
    router.get("/admin/v1/usage").handler(json(this::usage));
    router.get("/admin/v1/accounts/:id/usage/summary").handler(json(this::summary));
    router.get("/admin/v1/usage/events.csv").handler(this::eventsCsv);
    router.get("/admin/v1/usage/daily.csv").handler(this::dailyCsv);
  }

  private UsageFilter filter(RoutingContext ctx, Duration defaultRange, Duration maxRange) {
    Instant to = queryInstant(ctx, "to");
    Instant from = queryInstant(ctx, "from");
    if (to == null) {
      to = clock.instant();
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
    return new UsageFilter(queryId(ctx, "accountId"), queryId(ctx, "keyId"), queryText(ctx, "model"), queryText(ctx, "route"), from, to);
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
    UsageFilter filter = filter(ctx, hourly ? Duration.ofHours(48) : Duration.ofDays(30), hourly ? MAX_HOURLY_RANGE : MAX_DAILY_RANGE);
    List<String> groupBy = new ArrayList<>();
    String rawGroups = ctx.queryParams().get("groupBy");
    if (rawGroups != null && !rawGroups.isBlank()) {
      for (String g : rawGroups.split(",")) {
        String name = g.trim();
        if (!UsageQueries.dimensions().contains(name)) {
          throw new BadInput(400, "invalid-request", "query parameter 'groupBy' may list " + String.join(", ", UsageQueries.dimensions())
              + "; got '" + name + "'");
        }
        if (!groupBy.contains(name)) {
          groupBy.add(name);
        }
      }
    }
    // Rollups are hourly; the range is widened to whole hours so that a bucket is never half counted.
    UsageFilter hours = filter.wholeHours();
    return usage.rollups(hours, granularity, groupBy, 10_001).map(buckets -> {
      if (buckets.size() > 10_000) {
        throw new BadInput(400, "invalid-request", "more than 10000 rows: narrow the range, use granularity=day, or export CSV");
      }
      JsonArray data = new JsonArray();
      JsonObject totals = new JsonObject().put("requests", 0L).put("inputTokens", 0L).put("outputTokens", 0L);
      long totalUnits = 0;
      for (UsageQueries.Bucket r : buckets) {
        JsonObject bucket = new JsonObject().put("start", r.start().toString());
        for (String g : groupBy) {
          Object v = r.groups().get(g);
          bucket.put(g, g.equals("key") && Long.valueOf(0L).equals(v) ? null : v);
        }
        bucket.put("requests", r.requests()).put("inputTokens", r.inputTokens())
            .put("outputTokens", r.outputTokens()).put("credits", Credits.json(r.credits()))
            .put("quantity", r.quantity()).put("allowanceUnits", r.allowanceUnits());
        data.add(bucket);
        totals.put("requests", totals.getLong("requests") + r.requests())
            .put("inputTokens", totals.getLong("inputTokens") + r.inputTokens())
            .put("outputTokens", totals.getLong("outputTokens") + r.outputTokens());
        totalUnits += r.credits();
      }
      totals.put("credits", Credits.json(totalUnits));
      return new Reply(200, new JsonObject().put("granularity", granularity)
          .put("from", hours.from().toString()).put("to", hours.to().toString())
          .put("groupBy", new JsonArray(groupBy)).put("data", data).put("totals", totals));
    });
  }

  // ---- GET /admin/v1/accounts/:id/usage/summary

  private Future<Reply> summary(RoutingContext ctx) {
    long id = Fields.pathId(ctx.pathParam("id"), "account");
    Instant now = clock.instant();
    return accounts.get(id).compose(account -> {
      Instant previousStart = OffsetDateTime.ofInstant(account.periodStart(), ZoneOffset.UTC).minusMonths(1).toInstant();
      return usage.periodSummary(id, account.periodStart(), account.periodEnd(), previousStart)
          .compose(summary -> usage.allowances(id, account.periodStart(), account.periodEnd(), config.plan(account.plan())::allowance,
                  new java.util.TreeSet<>(config.actions().tiers().keySet()))
              .map(allowances -> new Reply(200, summaryJson(account, summary, now, previousStart)
                  .put("allowances", allowancesJson(allowances)))));
    });
  }

  private JsonObject summaryJson(Account account, UsageQueries.PeriodSummary r, Instant now, Instant previousStart) {
    long credits = r.credits();
    Instant start = account.periodStart();
    Instant end = account.periodEnd();
    long projected = r.projectedCredits(start, end, now);
    long previous = r.previousCredits();
    Instant recordedStart = r.previousStart();
    PlanConfig plan = config.plan(account.plan());
    JsonObject out = new JsonObject()
        .put("accountId", account.id())
        .put("period", new JsonObject().put("start", start.toString()).put("end", end.toString()))
        .put("requests", r.requests())
        .put("creditsToDate", Credits.json(credits))
        .put("projectedCredits", Credits.json(projected))
        .put("previousPeriod", new JsonObject()
            .put("start", (recordedStart == null ? previousStart : recordedStart).toString())
            .put("end", start.toString()).put("credits", Credits.json(previous)))
        .put("changePercent", previous == 0 ? null : Math.round((credits - previous) * 1000.0 / previous) / 10.0)
        .put("includedCredits", Credits.json(plan.includedCredits()))
        .put("spendCap", Credits.json(account.spendCap()));
    long basis = AlertBasis.of(account, plan);
    out.put("percentOfAllowance", basis <= 0 ? null : Math.round(credits * 1000.0 / basis) / 10.0);
    return out;
  }


  /** Each configured tier's allowance this period: included by the plan, used by events of record, left. */
  private static JsonObject allowancesJson(List<TierAllowance> allowances) {
    JsonObject out = new JsonObject();
    allowances.forEach(a -> out.put(a.tier(), new JsonObject().put("included", a.included()).put("used", a.used())
        .put("remaining", a.remaining())));
    return out;
  }

  // ---- CSV exports

  private void eventsCsv(RoutingContext ctx) {
    UsageFilter filter;
    try {
      filter = filter(ctx, Duration.ofDays(30), MAX_EXPORT_RANGE);
    } catch (BadInput e) {
      fail(ctx, e);
      return;
    }
    streamCsv(ctx, "usage-events.csv", usage.events(filter),
        "event_id,occurred_at,account_id,key_id,route,model,input_tokens,output_tokens,credits,status,upstream_latency_ms,estimated,outcome,"
            + "action,tier,quantity,allowance_units,ingest_id",
        r -> r.getUUID("event_id") + "," + r.getOffsetDateTime("occurred_at").toInstant() + "," + r.getLong("account_id") + ","
            + nullable(r.getLong("key_id")) + "," + Csv.cell(r.getString("route")) + "," + Csv.cell(r.getString("model")) + ","
            + r.getLong("input_tokens") + "," + r.getLong("output_tokens") + "," + Credits.format(r.getLong("credits")) + "," + r.getInteger("status")
            + "," + nullable(r.getInteger("upstream_latency_ms")) + "," + r.getBoolean("estimated") + "," + Csv.cell(r.getString("outcome"))
            + "," + Csv.cell(r.getString("action")) + "," + Csv.cell(r.getString("tier")) + "," + nullable(r.getLong("quantity"))
            + "," + r.getLong("allowance_units") + "," + Csv.cell(r.getString("ingest_id")));
  }

  private void dailyCsv(RoutingContext ctx) {
    UsageFilter filter;
    try {
      filter = filter(ctx, Duration.ofDays(30), MAX_EXPORT_RANGE);
    } catch (BadInput e) {
      fail(ctx, e);
      return;
    }
    streamCsv(ctx, "usage-daily.csv", usage.daily(filter.wholeHours()),
        "day,account_id,route,model,requests,input_tokens,output_tokens,credits,action,tier,quantity,allowance_units",
        r -> r.getLocalDate("day") + "," + r.getLong("account_id") + "," + Csv.cell(r.getString("route")) + ","
            + Csv.cell(r.getString("model")) + "," + r.getLong("requests") + "," + r.getLong("input_tokens") + ","
            + r.getLong("output_tokens") + "," + Credits.format(r.getLong("credits")) + "," + Csv.cell(r.getString("action")) + ","
            + Csv.cell(r.getString("tier")) + "," + r.getLong("quantity") + "," + r.getLong("allowance_units"));
  }

  private static String nullable(Object v) {
    return v == null ? "" : v.toString();
  }

  /**
   * Streams a cursor's rows as CSV; the cursor is paused whenever the client's write queue is
   * full. A client that goes away closes the cursor and its connection.
   */
  private void streamCsv(RoutingContext ctx, String filename, Future<RowCursor> cursor, String header,
                         Function<Row, String> line) {
    cursor.onFailure(err -> fail(ctx, err)).onSuccess(rows -> pipe(ctx.response(), rows, filename, header, line));
  }

  private static void pipe(HttpServerResponse response, RowCursor rows, String filename, String header,
                           Function<Row, String> line) {
    Runnable release = rows::close;
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
