package io.tollgate.stripesync.webhooks;

import static io.tollgate.metering.store.PgTime.utc;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Stripe events in Postgres ({@code stripe_events}), keyed by Stripe's event id so that a
 * redelivery is a no-op. Every SQL statement on the table is here.
 */
public final class StripeEventStore {

  private static final String INSERT = "INSERT INTO stripe_events (id, type, payload, stripe_created, raw_body) "
      + "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING";
  private static final String CLAIM = "SELECT id, payload, attempts FROM stripe_events WHERE status = 'pending' "
      + "AND next_attempt_at <= $1 ORDER BY stripe_created, id LIMIT 1 FOR UPDATE SKIP LOCKED";
  private static final String PROCESSED = "UPDATE stripe_events SET status = 'processed', attempts = attempts + 1, "
      + "last_attempt_at = $2, processed_at = $2, outcome = $3, account_id = $4, last_error = NULL WHERE id = $1";
  private static final String FAILED = "UPDATE stripe_events SET attempts = attempts + 1, last_attempt_at = $2, last_error = $3, "
      + "next_attempt_at = $4, status = CASE WHEN attempts + 1 >= $5 THEN 'parked' ELSE 'pending' END "
      + "WHERE id = $1 AND status = 'pending' RETURNING status, attempts";
  private static final String REPLAY = "UPDATE stripe_events SET status = 'pending', attempts = 0, next_attempt_at = $2, "
      + "last_error = CASE WHEN last_error IS NULL THEN NULL ELSE 'replayed after: ' || last_error END "
      + "WHERE id = $1 RETURNING id";
  private static final String SUMMARY_COLUMNS = "id, type, stripe_created, received_at, status, attempts, next_attempt_at, "
      + "last_attempt_at, last_error, processed_at, account_id, outcome";
  private static final String GET = "SELECT " + SUMMARY_COLUMNS + ", payload, raw_body FROM stripe_events WHERE id = $1";
  private static final String LIST = "SELECT " + SUMMARY_COLUMNS + " FROM stripe_events "
      + "WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR type = $2) AND ($3::bigint IS NULL OR account_id = $3) "
      + "AND (received_at, id) < ($4, $5) ORDER BY received_at DESC, id DESC LIMIT $6";
  private static final String STATS = "SELECT count(*) FILTER (WHERE status = 'pending') AS pending, "
      + "count(*) FILTER (WHERE status = 'parked') AS parked, "
      + "extract(epoch FROM $1 - min(received_at) FILTER (WHERE status = 'pending')) AS oldest_pending FROM stripe_events "
      + "WHERE status <> 'processed'";

  /** Stores an event; false if it was already stored (a redelivery). */
  public Future<Boolean> insert(SqlClient sql, StripeEvent e) {
    return insert(sql, e, e.payload().encode());
  }

  /**
   * Stores an event received as {@code rawBody}; false if it was already stored. An event with a
   * NUL anywhere (which Postgres cannot hold in jsonb) is stored anyway: its payload with each
   * NUL replaced by U+FFFD, which is what the worker applies, and the body exactly as received
   * in {@code raw_body}, so nothing is lost and Stripe is not asked to redeliver it forever.
   */
  public Future<Boolean> insert(SqlClient sql, StripeEvent e, String rawBody) {
    boolean nul = NulFreeJson.hasNul(rawBody);
    JsonObject payload = nul ? NulFreeJson.of(e.payload()) : e.payload();
    Buffer raw = nul ? Buffer.buffer(rawBody, "UTF-8") : null;
    return sql.preparedQuery(INSERT).execute(Tuple.of(e.id(), e.type(), payload, utc(e.created()), raw))
        .map(rows -> rows.rowCount() == 1);
  }

  /** A due event, locked for this transaction; other instances skip it. */
  Future<Optional<Claimed>> claim(SqlClient sql, Instant now) {
    return sql.preparedQuery(CLAIM).execute(Tuple.of(utc(now))).map(rows -> {
      if (rows.size() == 0) {
        return Optional.empty();
      }
      Row r = rows.iterator().next();
      return Optional.of(new Claimed(StripeEvent.from((JsonObject) r.getValue("payload")), r.getInteger("attempts")));
    });
  }

  record Claimed(StripeEvent event, int attempts) {
  }

  Future<Void> processed(SqlClient sql, String id, Instant now, String outcome, Long accountId) {
    return sql.preparedQuery(PROCESSED).execute(Tuple.of(id, utc(now), truncate(outcome), accountId)).mapEmpty();
  }

  /** Records a failed attempt; returns the new status (pending or parked), empty if someone else finished it meanwhile. */
  Future<Optional<String>> failed(SqlClient sql, String id, Instant now, String error, Instant nextAttempt, int maxAttempts) {
    return sql.preparedQuery(FAILED).execute(Tuple.of(id, utc(now), truncate(error), utc(nextAttempt), maxAttempts))
        .map(rows -> rows.size() == 0 ? Optional.empty() : Optional.of(rows.iterator().next().getString("status")));
  }

  /** Puts an event back in the queue (parked or processed alike: handlers are idempotent); false if unknown. */
  public Future<Boolean> replay(SqlClient sql, String id, Instant now) {
    return sql.preparedQuery(REPLAY).execute(Tuple.of(id, utc(now))).map(rows -> rows.size() == 1);
  }

  public Future<Optional<JsonObject>> get(SqlClient sql, String id) {
    return sql.preparedQuery(GET).execute(Tuple.of(id))
        .map(rows -> rows.size() == 0 ? Optional.empty() : Optional.of(detail(rows.iterator().next())));
  }

  /** Newest first; {@code before} is a {@code (receivedAt, id)} cursor from the previous page, or null. */
  public Future<List<JsonObject>> list(SqlClient sql, String status, String type, Long accountId, Cursor before, int limit) {
    Cursor from = before == null ? new Cursor(Instant.parse("9999-12-31T00:00:00Z"), "") : before;
    return sql.preparedQuery(LIST).execute(Tuple.from(java.util.Arrays.asList(status, type, accountId, utc(from.receivedAt()),
            from.id(), limit)))
        .map(rows -> {
          List<JsonObject> out = new ArrayList<>();
          rows.forEach(r -> out.add(summary(r)));
          return out;
        });
  }

  /** A position in the listing. */
  public record Cursor(Instant receivedAt, String id) {
  }

  /** Pending and parked counts, and the age in seconds of the oldest pending event (0 if none). */
  public Future<Stats> stats(Pool pool, Instant now) {
    return pool.preparedQuery(STATS).execute(Tuple.of(utc(now))).map(rows -> {
      Row r = rows.iterator().next();
      Object oldest = r.getValue("oldest_pending");
      return new Stats(r.getLong("pending"), r.getLong("parked"), oldest == null ? 0 : ((Number) oldest).doubleValue());
    });
  }

  public record Stats(long pending, long parked, double oldestPendingSeconds) {
  }

  /** The summary, the payload, and when the body held a NUL, that body exactly as received ({@code rawBody}). */
  private static JsonObject detail(Row r) {
    Buffer raw = r.getBuffer("raw_body");
    JsonObject out = summary(r).put("payload", r.getValue("payload"));
    return raw == null ? out : out.put("rawBody", raw.toString(java.nio.charset.StandardCharsets.UTF_8));
  }

  private static JsonObject summary(Row r) {
    return new JsonObject().put("id", r.getString("id")).put("type", r.getString("type"))
        .put("created", str(r.getOffsetDateTime("stripe_created"))).put("receivedAt", str(r.getOffsetDateTime("received_at")))
        .put("status", r.getString("status")).put("attempts", r.getInteger("attempts"))
        .put("nextAttemptAt", "pending".equals(r.getString("status")) ? str(r.getOffsetDateTime("next_attempt_at")) : null)
        .put("lastAttemptAt", str(r.getOffsetDateTime("last_attempt_at"))).put("lastError", r.getString("last_error"))
        .put("processedAt", str(r.getOffsetDateTime("processed_at"))).put("accountId", r.getLong("account_id"))
        .put("outcome", r.getString("outcome"));
  }

  private static String str(OffsetDateTime t) {
    return t == null ? null : t.toInstant().toString();
  }

  private static String truncate(String s) {
    return s == null || s.length() <= 2_000 ? s : s.substring(0, 2_000);
  }

}
