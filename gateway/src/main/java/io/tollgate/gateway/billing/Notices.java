package io.tollgate.gateway.billing;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.metering.accounts.Account;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;

/**
 * Billing notifications (trial ending, payment failed, downgrade, top-up results): a row in
 * {@code notifications}, listed by the admin API and posted to the account's webhook by
 * {@link AlertWebhooks}. The row is unique on (account, kind, threshold, period start), so each
 * notice is raised once however often its event is delivered.
 */
public final class Notices {

  private static final String INSERT = "INSERT INTO notifications (account_id, kind, threshold, period_start, payload, delivery_status) "
      + "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id, kind, threshold, period_start) DO NOTHING RETURNING id";

  private final boolean deliveries;
  private final MeterRegistry registry;

  public Notices(boolean deliveries, MeterRegistry registry) {
    this.deliveries = deliveries;
    this.registry = registry;
  }

  /** True if this call raised it (false: raised before). */
  public Future<Boolean> raise(SqlClient sql, Account account, String kind, int threshold, Instant at, JsonObject payload) {
    String delivery = deliveries && account.alertWebhookUrl() != null ? "pending" : "none";
    return sql.preparedQuery(INSERT).execute(Tuple.of(account.id(), kind, threshold, BillingEvents.utc(at), payload, delivery))
        .map(rows -> {
          if (rows.size() == 0) {
            return false;
          }
          count(registry, kind);
          return true;
        });
  }

  /** Counts a notification raised by this instance (each is raised once, by the instance whose insert created it). */
  static void count(MeterRegistry registry, String kind) {
    Counter.builder("tollgate_notifications").description("Notifications raised (each once per account, kind, threshold and period)")
        .tag("kind", kind).register(registry).increment();
  }
}
