package io.tollgate.metering.alerts;

import static io.tollgate.metering.store.PgTime.utc;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.metering.accounts.Account;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Notifications to accounts (usage thresholds, low balance, trial ending, payment failed,
 * downgrade, top-up results): a row in {@code notifications}, listed by the admin API, posted
 * to the account's webhook by {@code AlertWebhooks} and, for the {@link #MAILED} kinds, emailed by
 * {@code NoticeMailer}, each at most once per row. Every notification is raised here. The row
 * is unique on (account, kind, threshold, period start), so each is raised once however often
 * its cause is seen, on however many instances: only the insert that created the row counts it.
 */
public final class Notices {

  private static final String INSERT = "INSERT INTO notifications (account_id, kind, threshold, period_start, payload, delivery_status, "
      + "email_status, email_next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, now()) "
      + "ON CONFLICT (account_id, kind, threshold, period_start) DO NOTHING RETURNING id";
  private static final String INSERT_EACH = "INSERT INTO notifications (account_id, kind, threshold, period_start, payload, "
      + "delivery_status, email_status, email_next_attempt_at) SELECT $1, $2, t, $3, $4::jsonb || jsonb_build_object('threshold', t), $5, "
      + "$7, now() FROM unnest($6::int[]) AS t ON CONFLICT (account_id, kind, threshold, period_start) DO NOTHING RETURNING id, threshold";

  /**
   * The kinds mailed to the account: what the customer is told by email. The others (a refund's
   * shortfall, a refunded invoice) are for the operator, listed by the admin API and posted to the
   * webhook only.
   */
  public static final java.util.Set<String> MAILED = java.util.Set.of(UsageAlerts.USAGE_THRESHOLD, UsageAlerts.LOW_BALANCE,
      "trial_will_end", "payment_failed", "grace_ending", "plan_downgraded", "top_up_receipt", "top_up_failed");

  /** A notification this call created. */
  public record Raised(long id, int threshold) {
  }

  private final boolean deliveries;
  private final boolean mail;
  private final MeterRegistry registry;

  /**
   * {@code deliveries}: whether notifications are posted to accounts' webhooks (the signing secret
   * is set); {@code mail}: whether the {@link #MAILED} kinds are also emailed (SMTP is configured).
   */
  public Notices(boolean deliveries, boolean mail, MeterRegistry registry) {
    this.deliveries = deliveries;
    this.mail = mail;
    this.registry = registry;
  }

  /** True if this call raised it (false: raised before). */
  public Future<Boolean> raise(SqlClient sql, Account account, String kind, int threshold, Instant at, JsonObject payload) {
    return sql.preparedQuery(INSERT).execute(Tuple.of(account.id(), kind, threshold, utc(at), payload, delivery(account), email(kind)))
        .map(rows -> {
          if (rows.size() == 0) {
            return false;
          }
          count(kind);
          return true;
        });
  }

  /**
   * One notification per threshold, in one statement, each payload with its {@code threshold};
   * returns those this call created (the others were raised before).
   */
  public Future<List<Raised>> raiseEach(SqlClient sql, Account account, String kind, List<Integer> thresholds, Instant at,
                                        JsonObject payload) {
    return sql.preparedQuery(INSERT_EACH).execute(Tuple.of(account.id(), kind, utc(at), payload, delivery(account),
        thresholds.toArray(new Integer[0]), email(kind))).map(rows -> {
          List<Raised> raised = new ArrayList<>();
          for (Row r : rows) {
            raised.add(new Raised(r.getLong("id"), r.getInteger("threshold")));
            count(kind);
          }
          return raised;
        });
  }

  /** Recipients and opt-outs are read when the mail is due (an opt-out then still holds it back). */
  private String email(String kind) {
    return mail && MAILED.contains(kind) ? "pending" : "none";
  }

  private String delivery(Account account) {
    return deliveries && account.alertWebhookUrl() != null ? "pending" : "none";
  }

  private void count(String kind) {
    Counter.builder("tollgate_notifications").description("Notifications raised (each once per account, kind, threshold and period)")
        .tag("kind", kind).register(registry).increment();
  }
}
