package io.tollgate.stripesync;

import static io.tollgate.metering.store.PgTime.utc;

import io.tollgate.config.Credits;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The Stripe outbox in Postgres. Usage rows are claimed into a batch ({@code usage_events.stripe_batch})
 * in the same transaction that writes the batch's outbox rows, so every unit of usage is in
 * exactly one batch; concurrent cutters cannot claim a row twice (the second waits on the row
 * lock and then finds it claimed). Outbox rows are leased for sending with {@code FOR UPDATE SKIP
 * LOCKED}, so several instances share the work.
 *
 * <p>Whole numbers for Stripe: usage is in units (millicredits), a Stripe meter value is whole
 * credits. Per account, Stripe customer and meter event, a cut adds the batch's units to the
 * remainder carried from earlier batches ({@code stripe_meter_carry}), writes the whole credits of
 * that sum as the outbox row's {@code value} and carries the rest (0-999 units) to the next batch.
 * So at any time Stripe has received exactly floor(metered usage so far) credits for the customer,
 * each unit counted in one batch only. A remainder is carried across billing periods rather than
 * rounded up at a period's end: it is billed with the usage that makes it whole, in the invoice of
 * the period that usage falls in; never twice, never more than was used. (Usage that stays below one
 * credit for good is the only part never billed.) The cuts are serialised by an advisory lock, so
 * two instances never read the same remainder.
 */
public final class MeterOutbox {

  /** The batch that marks usage of accounts that are not billed by meter (prepaid), so it leaves the unsynced index. */
  public static final UUID NOT_METERED = new UUID(0, 0);

  private static final String SKIP_UNMETERED = """
      UPDATE usage_events u SET stripe_batch = $1 FROM accounts a
      WHERE a.id = u.account_id AND u.stripe_batch IS NULL AND a.billing_mode = 'prepaid'
      """;
  /** Cuts are serialised (one short transaction a minute per instance): each reads and moves the carried remainders. */
  private static final String CUT_LOCK = "SELECT pg_advisory_xact_lock(hashtext('tollgate.meter_cut'))";
  private static final String CUT = """
      WITH claimed AS (
        UPDATE usage_events u SET stripe_batch = $1 FROM accounts a
        WHERE a.id = u.account_id AND u.stripe_batch IS NULL AND a.stripe_customer_id IS NOT NULL
          AND a.billing_mode IN ('postpaid', 'hybrid')
        -- Postpaid accounts are billed all their usage; hybrid ones only what their credits did not cover.
        RETURNING u.account_id, a.stripe_customer_id,
                  CASE WHEN a.billing_mode = 'hybrid' THEN u.overage_credits ELSE u.credits END AS units, u.occurred_at
      ), grouped AS (
        -- sum(bigint) is numeric: back to bigint, so that owed / 1000 below divides integers (floor), never rounds.
        SELECT account_id, stripe_customer_id, sum(units)::bigint AS units, min(occurred_at) AS window_start, max(occurred_at) AS window_end
        FROM claimed GROUP BY account_id, stripe_customer_id HAVING sum(units) > 0
      ), owed AS (
        -- The batch's units plus the remainder carried from earlier batches of this account, customer and meter.
        SELECT g.*, g.units + coalesce(c.units, 0) AS owed
        FROM grouped g LEFT JOIN stripe_meter_carry c
          ON c.account_id = g.account_id AND c.stripe_customer_id = g.stripe_customer_id AND c.event_name = $2
      ), carried AS (
        INSERT INTO stripe_meter_carry AS c (account_id, stripe_customer_id, event_name, units)
        SELECT account_id, stripe_customer_id, $2, owed % 1000 FROM owed
        ON CONFLICT (account_id, stripe_customer_id, event_name) DO UPDATE SET units = excluded.units, updated_at = now()
      )
      INSERT INTO stripe_meter_outbox (batch_id, account_id, stripe_customer_id, event_name, value, units, window_start, window_end,
                                       event_timestamp, identifier)
      SELECT $1, account_id, stripe_customer_id, $2, owed / 1000, units, window_start, window_end, $3,
             'tg_' || replace($1::text, '-', '') || '_' || substr(md5(stripe_customer_id || '|' || $2), 1, 16)
      FROM owed WHERE owed >= 1000
      RETURNING id
      """;
  private static final String LEASE = """
      UPDATE stripe_meter_outbox SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2::double precision)
      WHERE id IN (SELECT id FROM stripe_meter_outbox WHERE status = 'pending' AND next_attempt_at <= now()
                   ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
      RETURNING id, identifier, event_name, stripe_customer_id, value, event_timestamp, created_at, attempts
      """;
  private static final String SENT = "UPDATE stripe_meter_outbox SET status = 'sent', sent_at = now(), last_error = NULL "
      + "WHERE id = ANY($1) AND status = 'pending'";
  private static final String DEAD = "UPDATE stripe_meter_outbox SET status = 'dead', last_error = $2 WHERE id = $1";
  private static final String LATER = "UPDATE stripe_meter_outbox SET last_error = $2, "
      + "next_attempt_at = now() + make_interval(secs => $3::double precision) WHERE id = ANY($1) AND status = 'pending'";
  private static final String RETRY_DEAD = "UPDATE stripe_meter_outbox SET status = 'pending', attempts = 0, next_attempt_at = now(), "
      + "last_error = 'retried by an admin after: ' || coalesce(last_error, '') WHERE status = 'dead' AND id = ANY($1) RETURNING id";
  private static final String STATS = """
      SELECT (SELECT count(*) FROM stripe_meter_outbox WHERE status = 'pending') AS pending,
             (SELECT count(*) FROM stripe_meter_outbox WHERE status = 'dead') AS dead,
             (SELECT extract(epoch FROM now() - min(created_at)) FROM stripe_meter_outbox WHERE status = 'pending') AS oldest_pending,
             (SELECT count(DISTINCT u.account_id) FROM usage_events u JOIN accounts a ON a.id = u.account_id
              WHERE u.stripe_batch IS NULL AND a.stripe_customer_id IS NULL
                AND (a.billing_mode = 'postpaid' OR (a.billing_mode = 'hybrid' AND u.overage_credits > 0))) AS unlinked
      """;
  private static final String LIST = "SELECT id, batch_id, account_id, stripe_customer_id, event_name, value, units, window_start, window_end, "
      + "event_timestamp, identifier, status, attempts, last_error, created_at, sent_at FROM stripe_meter_outbox "
      + "WHERE status = $1 AND id < $2 ORDER BY id DESC LIMIT $3";
  private static final String UNLINKED = "SELECT a.id, a.name, count(*) AS events, "
      + "sum(CASE WHEN a.billing_mode = 'hybrid' THEN u.overage_credits ELSE u.credits END) AS credits FROM usage_events u "
      + "JOIN accounts a ON a.id = u.account_id WHERE u.stripe_batch IS NULL AND a.stripe_customer_id IS NULL "
      + "AND (a.billing_mode = 'postpaid' OR (a.billing_mode = 'hybrid' AND u.overage_credits > 0)) "
      + "GROUP BY a.id, a.name ORDER BY a.id LIMIT $1";

  private final Pool pool;

  public MeterOutbox(Pool pool) {
    this.pool = pool;
  }

  /** A leased outbox row. {@code attempts} counts this one. */
  public record Item(long id, MeterEvent event, Instant createdAt, int attempts) {
  }

  /** Sync state at a glance. */
  public record Stats(long pending, long dead, double oldestPendingSeconds, long unlinkedAccounts) {
  }

  /**
   * Cuts all unclaimed metered usage into a new batch; returns the outbox rows written (one per
   * customer whose owed usage reached a whole credit; a smaller amount is carried).
   */
  public Future<Integer> cut(String eventName, Instant timestamp) {
    UUID batch = UUID.randomUUID();
    return pool.withTransaction(conn -> conn.query(CUT_LOCK).execute()
        .compose(v -> conn.preparedQuery(SKIP_UNMETERED).execute(Tuple.of(NOT_METERED)))
        .compose(v -> conn.preparedQuery(CUT).execute(Tuple.of(batch, eventName, utc(timestamp))))
        .map(rows -> rows.rowCount()));
  }

  /** Leases up to {@code limit} due rows for {@code lease}; a crashed sender's rows come back after it. */
  public Future<List<Item>> lease(int limit, Duration lease) {
    return pool.preparedQuery(LEASE).execute(Tuple.of(limit, lease.toMillis() / 1000.0)).map(rows -> {
      List<Item> items = new ArrayList<>();
      for (Row r : rows) {
        items.add(new Item(r.getLong("id"), new MeterEvent(r.getString("identifier"), r.getString("event_name"),
            r.getString("stripe_customer_id"), r.getLong("value"), r.getOffsetDateTime("event_timestamp").toInstant()),
            r.getOffsetDateTime("created_at").toInstant(), r.getInteger("attempts")));
      }
      items.sort((a, b) -> Long.compare(a.id(), b.id()));
      return items;
    });
  }

  public Future<Void> sent(List<Long> ids) {
    return pool.preparedQuery(SENT).execute(Tuple.of(ids.toArray(new Long[0]))).mapEmpty();
  }

  public Future<Void> dead(long id, String error) {
    return pool.preparedQuery(DEAD).execute(Tuple.of(id, truncate(error))).mapEmpty();
  }

  public Future<Void> later(List<Long> ids, String error, Duration after) {
    return pool.preparedQuery(LATER).execute(Tuple.of(ids.toArray(new Long[0]), truncate(error), after.toMillis() / 1000.0)).mapEmpty();
  }

  /** Puts dead items back in the queue (after an admin fixed the cause); returns those that were dead. */
  public Future<List<Long>> retryDead(List<Long> ids) {
    return pool.preparedQuery(RETRY_DEAD).execute(Tuple.of(ids.toArray(new Long[0]))).map(rows -> {
      List<Long> out = new ArrayList<>();
      rows.forEach(r -> out.add(r.getLong("id")));
      return out;
    });
  }

  public Future<Stats> stats() {
    return pool.query(STATS).execute().map(rows -> {
      Row r = rows.iterator().next();
      Number oldest = (Number) r.getValue("oldest_pending");
      return new Stats(r.getLong("pending"), r.getLong("dead"), oldest == null ? 0 : oldest.doubleValue(), r.getLong("unlinked"));
    });
  }

  /** Outbox rows in a status ({@code pending}, {@code sent}, {@code dead}), newest first. */
  public Future<List<JsonObject>> list(String status, long beforeId, int limit) {
    return pool.preparedQuery(LIST).execute(Tuple.of(status, beforeId, limit)).map(rows -> {
      List<JsonObject> out = new ArrayList<>();
      for (Row r : rows) {
        out.add(new JsonObject().put("id", r.getLong("id")).put("batchId", r.getUUID("batch_id").toString())
            .put("accountId", r.getLong("account_id")).put("customerId", r.getString("stripe_customer_id"))
            .put("eventName", r.getString("event_name")).put("value", r.getLong("value"))
            .put("usageCredits", Credits.json(r.getLong("units")))
            .put("windowStart", iso(r.getOffsetDateTime("window_start"))).put("windowEnd", iso(r.getOffsetDateTime("window_end")))
            .put("timestamp", iso(r.getOffsetDateTime("event_timestamp"))).put("identifier", r.getString("identifier"))
            .put("status", r.getString("status")).put("attempts", r.getInteger("attempts")).put("lastError", r.getString("last_error"))
            .put("createdAt", iso(r.getOffsetDateTime("created_at"))).put("sentAt", iso(r.getOffsetDateTime("sent_at"))));
      }
      return out;
    });
  }

  /** Accounts billed by meter whose usage waits because they have no Stripe customer. */
  public Future<List<JsonObject>> unlinked(int limit) {
    return pool.preparedQuery(UNLINKED).execute(Tuple.of(limit)).map(rows -> {
      List<JsonObject> out = new ArrayList<>();
      for (Row r : rows) {
        out.add(new JsonObject().put("accountId", r.getLong("id")).put("name", r.getString("name"))
            .put("events", r.getLong("events")).put("credits", Credits.json(r.getLong("credits"))));
      }
      return out;
    });
  }

  private static String iso(OffsetDateTime t) {
    return t == null ? null : t.toInstant().toString();
  }


  private static String truncate(String s) {
    return s == null || s.length() <= 1_000 ? s : s.substring(0, 1_000);
  }
}
