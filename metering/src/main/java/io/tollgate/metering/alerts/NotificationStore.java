package io.tollgate.metering.alerts;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Recorded notifications (usage alerts, raised by {@link Notices}) as operators read them, and
 * their webhook deliveries: leased a batch at a time, then marked delivered or failed.
 */
public final class NotificationStore {

  private static final String COLUMNS = "id, account_id, kind, threshold, period_start, payload, created_at, read_at, "
      + "delivery_status, delivery_attempts, delivered_at, last_error, email_status, email_attempts, email_sent_at, email_error";
  private static final String LIST = "SELECT " + COLUMNS + " FROM notifications WHERE id < $1 "
      + "AND ($2::bigint IS NULL OR account_id = $2) AND (NOT $3 OR read_at IS NULL) ORDER BY id DESC LIMIT $4";
  // Bounded: counts at most $1 unread rows (the notifications_unread partial index holds only those).
  private static final String UNREAD = "SELECT count(*) FROM (SELECT 1 FROM notifications WHERE read_at IS NULL LIMIT $1) u";
  private static final String MARK_READ = "UPDATE notifications SET read_at = coalesce(read_at, now()) WHERE id = $1 RETURNING " + COLUMNS;
  /*
   * The lease moves the next attempt to the backoff time before the POST, so several instances
   * never send the same attempt, and a crash mid-POST only means the next attempt comes after the
   * backoff.
   */
  private static final String LEASE = """
      UPDATE notifications n SET delivery_attempts = n.delivery_attempts + 1,
             next_attempt_at = now() + make_interval(secs => greatest($3::double precision,
                                                                     $1::double precision * power(2, n.delivery_attempts)))
      FROM accounts a
      WHERE a.id = n.account_id AND n.id IN (
        SELECT id FROM notifications WHERE delivery_status = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
      RETURNING n.id, n.account_id, n.kind, n.threshold, n.payload, n.created_at, n.delivery_attempts, a.alert_webhook_url
      """;
  private static final String DELIVERED = "UPDATE notifications SET delivery_status = 'delivered', delivered_at = now(), "
      + "last_error = NULL WHERE id = $1";
  private static final String FAILED = "UPDATE notifications SET delivery_status = CASE WHEN delivery_attempts >= $3 "
      + "THEN 'failed' ELSE 'pending' END, last_error = $2 WHERE id = $1 RETURNING delivery_status";

  private final Pool pool;

  public NotificationStore(Pool pool) {
    this.pool = pool;
  }

  /** A leased delivery: what to post, and where ({@code webhookUrl} is null when the account has none any more). */
  public record Delivery(long id, String kind, Integer threshold, Instant createdAt, JsonObject payload, String webhookUrl) {
  }

  /** Newest first, below {@code beforeId}; by account and unread only when asked. */
  public Future<List<JsonObject>> list(Long accountId, boolean unreadOnly, long beforeId, int limit) {
    return pool.preparedQuery(LIST).execute(Tuple.from(Arrays.asList(beforeId, accountId, unreadOnly, limit))).map(rows -> {
      List<JsonObject> out = new ArrayList<>();
      rows.forEach(r -> out.add(toJson(r)));
      return out;
    });
  }

  /** Unread notifications of every account, counted up to {@code cap} (a count of {@code cap} means "at least"). */
  public Future<Long> unreadCount(int cap) {
    return pool.preparedQuery(UNREAD).execute(Tuple.of(cap)).map(rows -> rows.iterator().next().getLong(0));
  }

  /** Marks it read (once: the first time is kept); empty when there is no such notification. */
  public Future<Optional<JsonObject>> markRead(long id) {
    return pool.preparedQuery(MARK_READ).execute(Tuple.of(id))
        .map(rows -> rows.size() == 0 ? Optional.empty() : Optional.of(toJson(rows.iterator().next())));
  }

  /**
   * Leases up to {@code batch} due deliveries: each one's next attempt moves to its backoff
   * ({@code baseSeconds} doubled per attempt, at least {@code leaseSeconds}) before it is sent.
   */
  public Future<List<Delivery>> leaseDue(double baseSeconds, int batch, double leaseSeconds) {
    return pool.preparedQuery(LEASE).execute(Tuple.of(baseSeconds, batch, leaseSeconds)).map(rows -> {
      List<Delivery> out = new ArrayList<>();
      for (Row r : rows) {
        out.add(new Delivery(r.getLong("id"), r.getString("kind"), r.getInteger("threshold"),
            r.getOffsetDateTime("created_at").toInstant(), r.getJsonObject("payload"), r.getString("alert_webhook_url")));
      }
      return out;
    });
  }

  public Future<Void> delivered(long id) {
    return pool.preparedQuery(DELIVERED).execute(Tuple.of(id)).mapEmpty();
  }

  /** Records a failed attempt; true when it was the last of {@code maxAttempts} and the delivery is given up. */
  public Future<Boolean> failed(long id, String error, int maxAttempts) {
    return pool.preparedQuery(FAILED).execute(Tuple.of(id, error, maxAttempts))
        .map(rows -> "failed".equals(rows.iterator().next().getString("delivery_status")));
  }

  private static JsonObject toJson(Row r) {
    return new JsonObject().put("id", r.getLong("id")).put("accountId", r.getLong("account_id")).put("kind", r.getString("kind"))
        .put("threshold", r.getInteger("threshold")).put("periodStart", instant(r.getOffsetDateTime("period_start")))
        .put("data", r.getJsonObject("payload")).put("createdAt", instant(r.getOffsetDateTime("created_at")))
        .put("readAt", instant(r.getOffsetDateTime("read_at")))
        .put("delivery", new JsonObject().put("status", r.getString("delivery_status"))
            .put("attempts", r.getInteger("delivery_attempts")).put("deliveredAt", instant(r.getOffsetDateTime("delivered_at")))
            .put("lastError", r.getString("last_error")))
        .put("email", new JsonObject().put("status", r.getString("email_status")).put("attempts", r.getInteger("email_attempts"))
            .put("sentAt", instant(r.getOffsetDateTime("email_sent_at"))).put("lastError", r.getString("email_error")));
  }

  private static String instant(OffsetDateTime t) {
    return t == null ? null : t.toInstant().toString();
  }
}
