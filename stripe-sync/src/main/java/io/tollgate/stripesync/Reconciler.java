package io.tollgate.stripesync;

import static io.tollgate.metering.store.PgTime.utc;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Compares, per customer, meter and UTC day, what Tollgate sent (outbox rows marked sent, by event
 * timestamp) with Stripe's meter event summaries, and reports days missing at Stripe, extra at
 * Stripe, and the drift in percent. The worst drift of the last run is a gauge, alerting above
 * the configured threshold. Runs on a schedule and on demand; each run is stored.
 */
public final class Reconciler {

  private static final Logger log = LoggerFactory.getLogger(Reconciler.class);

  private static final String SENT_BY_DAY = """
      SELECT stripe_customer_id, date_trunc('day', event_timestamp AT TIME ZONE 'UTC') AS day, sum(value) AS total
      FROM stripe_meter_outbox WHERE status = 'sent' AND event_name = $1 AND event_timestamp >= $2 AND event_timestamp < $3
      GROUP BY 1, 2 ORDER BY 1, 2
      """;
  private static final String STORE = "INSERT INTO stripe_reconciliations (range_start, range_end, report, max_drift_percent) "
      + "VALUES ($1, $2, $3, $4) RETURNING id";

  private final Vertx vertx;
  private final Pool pool;
  private final MeterEventTransport transport;
  private final String eventName;
  private final String meterId;
  private final AtomicReference<Double> lastDrift = new AtomicReference<>(0.0);
  private final long alertPercent;

  public Reconciler(Vertx vertx, Pool pool, MeterEventTransport transport, String eventName, String meterId, long alertPercent,
                    MeterRegistry registry) {
    this.alertPercent = alertPercent;
    this.vertx = vertx;
    this.pool = pool;
    this.transport = transport;
    this.eventName = eventName;
    this.meterId = meterId;
    Gauge.builder("tollgate_stripe_reconciliation_drift_percent", lastDrift, AtomicReference::get)
        .description("Worst per-customer-day drift between Postgres and Stripe in the last reconciliation").register(registry);
    Gauge.builder("tollgate_stripe_reconciliation_alert", lastDrift, d -> d.get() > alertPercent ? 1 : 0)
        .description("1 when the last reconciliation's worst drift exceeded stripe.driftAlertPercent").register(registry);
  }

  /** Reconciles whole UTC days from {@code start} (inclusive) to {@code end} (exclusive); returns the stored report. */
  public Future<JsonObject> run(Instant start, Instant end) {
    Instant from = start.truncatedTo(ChronoUnit.DAYS);
    Instant to = end.truncatedTo(ChronoUnit.DAYS).equals(end) ? end : end.truncatedTo(ChronoUnit.DAYS).plus(1, ChronoUnit.DAYS);
    return pool.preparedQuery(SENT_BY_DAY).execute(Tuple.of(eventName, utc(from), utc(to))).compose(rows -> {
      Map<String, Map<Instant, Long>> ours = new TreeMap<>();
      for (Row r : rows) {
        ours.computeIfAbsent(r.getString("stripe_customer_id"), c -> new TreeMap<>())
            .put(r.getLocalDateTime("day").toInstant(ZoneOffset.UTC), r.getLong("total"));
      }
      return vertx.executeBlocking(() -> compare(ours, from, to), false);
    }).compose(report -> pool.preparedQuery(STORE)
        .execute(Tuple.of(utc(from), utc(to), report, report.getDouble("maxDriftPercent")))
        .map(rows -> report.put("id", rows.iterator().next().getLong("id"))))
        .onSuccess(report -> {
          lastDrift.set(report.getDouble("maxDriftPercent"));
          report.put("alert", report.getDouble("maxDriftPercent") > alertPercent).put("alertPercent", alertPercent);
          if (report.getBoolean("alert")) {
            log.warn("Stripe reconciliation drift {} % exceeds the {} % threshold: see reconciliation {}",
                report.getDouble("maxDriftPercent"), alertPercent, report.getLong("id"));
          }
          log.info("Stripe reconciliation {} → {}: {} customer-days, {} missing, {} extra, worst drift {} %", from, to,
              report.getInteger("customerDays"), report.getJsonArray("missing").size(), report.getJsonArray("extra").size(),
              report.getDouble("maxDriftPercent"));
        });
  }

  private JsonObject compare(Map<String, Map<Instant, Long>> ours, Instant from, Instant to) throws SendFailure {
    JsonArray missing = new JsonArray();
    JsonArray extra = new JsonArray();
    JsonArray drift = new JsonArray();
    int customerDays = 0;
    double worst = 0;
    for (Map.Entry<String, Map<Instant, Long>> customer : ours.entrySet()) {
      Map<Instant, Long> theirs = new TreeMap<>();
      for (MeterEventTransport.DayTotal t : transport.dailyTotals(meterId, customer.getKey(), from, to)) {
        theirs.merge(t.dayStart(), t.value(), Long::sum);
      }
      List<Instant> days = new ArrayList<>(customer.getValue().keySet());
      theirs.keySet().stream().filter(d -> !customer.getValue().containsKey(d)).forEach(days::add);
      for (Instant day : days) {
        customerDays++;
        long sent = customer.getValue().getOrDefault(day, 0L);
        long reported = theirs.getOrDefault(day, 0L);
        JsonObject row = new JsonObject().put("customer", customer.getKey()).put("day", day.toString())
            .put("postgres", sent).put("stripe", reported);
        if (sent > 0 && reported == 0) {
          missing.add(row);
          worst = Math.max(worst, 100.0);
        } else if (sent == 0 && reported > 0) {
          extra.add(row);
          worst = Math.max(worst, 100.0);
        } else if (sent != reported) {
          double percent = Math.abs(reported - sent) * 100.0 / sent;
          drift.add(row.put("driftPercent", Math.round(percent * 100) / 100.0));
          worst = Math.max(worst, percent);
        }
      }
    }
    return new JsonObject().put("meterId", meterId).put("eventName", eventName).put("from", from.toString()).put("to", to.toString())
        .put("customerDays", customerDays).put("missing", missing).put("extra", extra).put("drift", drift)
        .put("maxDriftPercent", Math.round(worst * 100) / 100.0);
  }

}
