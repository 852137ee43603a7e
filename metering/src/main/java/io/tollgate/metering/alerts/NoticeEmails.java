package io.tollgate.metering.alerts;

import io.tollgate.metering.Refusal;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The email side of notifications: each account's recipients and opt-outs, and the mails due,
 * claimed a batch at a time. A claim ({@code sending}) is committed before the SMTP exchange and is
 * never claimed again, so however many instances run and whichever dies mid-send, a notification
 * is mailed at most once; a failure the SMTP client reports (nothing accepted) returns it to
 * {@code pending} with backoff, until {@code maxAttempts}.
 */
public final class NoticeEmails {

  private static final String CLAIM = """
      UPDATE notifications n SET email_status = 'sending', email_attempts = n.email_attempts + 1, email_claimed_at = now()
      FROM accounts a
      WHERE a.id = n.account_id AND n.id IN (
        SELECT id FROM notifications WHERE email_status = 'pending' AND email_next_attempt_at <= now()
        ORDER BY email_next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
      RETURNING n.id, n.account_id, n.kind, n.threshold, n.payload, n.created_at, n.email_attempts, a.name,
        (SELECT s.recipients FROM account_email_settings s WHERE s.account_id = n.account_id) AS recipients,
        (SELECT s.opt_outs FROM account_email_settings s WHERE s.account_id = n.account_id) AS opt_outs,
        (SELECT b.email FROM account_billing b WHERE b.account_id = n.account_id) AS billing_email
      """;
  private static final String SENT = "UPDATE notifications SET email_status = 'sent', email_sent_at = now(), email_recipients = $2, "
      + "email_error = NULL WHERE id = $1 AND email_status = 'sending'";
  private static final String SKIPPED = "UPDATE notifications SET email_status = 'skipped', email_error = $2 WHERE id = $1 "
      + "AND email_status = 'sending'";
  private static final String FAILED = "UPDATE notifications SET email_status = CASE WHEN email_attempts >= $3 THEN 'failed' ELSE 'pending' END, "
      + "email_next_attempt_at = now() + make_interval(secs => $4::double precision * power(2, email_attempts - 1)), email_error = $2 "
      + "WHERE id = $1 AND email_status = 'sending' RETURNING email_status";
  private static final String ABANDONED = "UPDATE notifications SET email_status = 'failed', email_error = 'the instance sending it stopped "
      + "before the SMTP server answered; not sent again, so that no notice is mailed twice' WHERE email_status = 'sending' "
      + "AND email_claimed_at < now() - make_interval(secs => $1::double precision)";
  private static final String SETTINGS = "SELECT recipients, opt_outs FROM account_email_settings WHERE account_id = $1";
  private static final String SAVE = "INSERT INTO account_email_settings (account_id, recipients, opt_outs) VALUES ($1, $2, $3) "
      + "ON CONFLICT (account_id) DO UPDATE SET recipients = EXCLUDED.recipients, opt_outs = EXCLUDED.opt_outs, updated_at = now() "
      + "RETURNING recipients, opt_outs";
  private static final String BILLING_EMAIL = "SELECT email FROM account_billing WHERE account_id = $1";

  /**
   * A claimed mail: the notice and whom to send it to.
   *
   * @param recipients the account's own list, else the Stripe customer's email; empty when there is none
   * @param optedOut   the account opted out of this kind
   */
  public record Due(long id, long accountId, String accountName, String kind, int threshold, JsonObject payload, Instant createdAt,
                    int attempt, List<String> recipients, boolean optedOut) {
  }

  /** An account's email settings as stored; {@code recipients} empty means the Stripe customer's email, if any. */
  public record Settings(List<String> recipients, List<String> optOuts, String billingEmail) {
    public JsonObject toJson() {
      List<String> effective = !recipients.isEmpty() ? recipients : billingEmail == null ? List.of() : List.of(billingEmail);
      return new JsonObject().put("recipients", new JsonArray(recipients)).put("optOut", new JsonArray(optOuts))
          .put("sendsTo", new JsonArray(effective));
    }
  }

  private final Pool pool;

  public NoticeEmails(Pool pool) {
    this.pool = pool;
  }

  /** Claims up to {@code batch} due mails. */
  public Future<List<Due>> claim(int batch) {
    return pool.preparedQuery(CLAIM).execute(Tuple.of(batch)).map(rows -> {
      List<Due> out = new ArrayList<>();
      for (Row r : rows) {
        String[] own = r.getArrayOfStrings("recipients");
        String[] outs = r.getArrayOfStrings("opt_outs");
        String billing = r.getString("billing_email");
        List<String> to = own != null && own.length > 0 ? List.of(own) : billing == null ? List.of() : List.of(billing);
        String kind = r.getString("kind");
        out.add(new Due(r.getLong("id"), r.getLong("account_id"), r.getString("name"), kind, r.getInteger("threshold"),
            r.getJsonObject("payload"), r.getOffsetDateTime("created_at").toInstant(), r.getInteger("email_attempts"), to,
            outs != null && Arrays.asList(outs).contains(kind)));
      }
      return out;
    });
  }

  public Future<Void> sent(long id, List<String> recipients) {
    return pool.preparedQuery(SENT).execute(Tuple.of(id, (Object) recipients.toArray(new String[0]))).mapEmpty();
  }

  public Future<Void> skipped(long id, String why) {
    return pool.preparedQuery(SKIPPED).execute(Tuple.of(id, why)).mapEmpty();
  }

  /** A failed attempt (nothing accepted): pending again after {@code baseSeconds} doubled per attempt; true when given up. */
  public Future<Boolean> failed(long id, String error, int maxAttempts, double baseSeconds) {
    return pool.preparedQuery(FAILED).execute(Tuple.of(id, error, maxAttempts, baseSeconds))
        .map(rows -> rows.size() > 0 && "failed".equals(rows.iterator().next().getString("email_status")));
  }

  /** Claims older than {@code seconds} whose instance never reported back: failed, never resent. */
  public Future<Integer> abandon(double seconds) {
    return pool.preparedQuery(ABANDONED).execute(Tuple.of(seconds)).map(rows -> rows.rowCount());
  }

  public Future<Settings> settings(long accountId) {
    return pool.preparedQuery(SETTINGS).execute(Tuple.of(accountId)).compose(rows -> billingEmail(accountId).map(email -> {
      if (rows.size() == 0) {
        return new Settings(List.of(), List.of(), email);
      }
      Row r = rows.iterator().next();
      return new Settings(List.of(r.getArrayOfStrings("recipients")), List.of(r.getArrayOfStrings("opt_outs")), email);
    }));
  }

  /** Replaces the account's recipients and opt-outs (kinds must be mailed ones). */
  public Future<Settings> save(long accountId, List<String> recipients, List<String> optOuts) {
    for (String kind : optOuts) {
      if (!Notices.MAILED.contains(kind)) {
        return Future.failedFuture(Refusal.invalid("optOut", "holds " + kind + ", not a mailed kind: "
            + String.join(", ", Notices.MAILED.stream().sorted().toList())));
      }
    }
    return pool.preparedQuery(SAVE).execute(Tuple.of(accountId, recipients.toArray(new String[0]), optOuts.toArray(new String[0])))
        .compose(rows -> billingEmail(accountId).map(email -> {
          Row r = rows.iterator().next();
          return new Settings(List.of(r.getArrayOfStrings("recipients")), List.of(r.getArrayOfStrings("opt_outs")), email);
        }));
  }

  private Future<String> billingEmail(long accountId) {
    return pool.preparedQuery(BILLING_EMAIL).execute(Tuple.of(accountId))
        .map(rows -> rows.size() == 0 ? null : rows.iterator().next().getString("email"));
  }
}
