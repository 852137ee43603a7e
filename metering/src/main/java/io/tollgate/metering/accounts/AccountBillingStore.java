package io.tollgate.metering.accounts;

import static io.tollgate.metering.store.PgTime.utc;

import io.vertx.core.Future;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** {@code account_billing} rows, and finding the account behind a Stripe customer or subscription. */
public final class AccountBillingStore {

  private static final String ENSURE = "INSERT INTO account_billing (account_id) VALUES ($1) ON CONFLICT DO NOTHING";
  private static final String SELECT = "SELECT " + AccountBilling.COLUMNS + " FROM account_billing WHERE account_id = $1";
  private static final String SAVE = "UPDATE account_billing SET email = $2, stripe_subscription_id = $3, subscription_status = $4, "
      + "subscription_prices = $5, cancel_at_period_end = $6, current_period_end = $7, trial_end = $8, subscription_event_at = $9, "
      + "grace_until = $10, default_payment_method = $11, payment_method_event_at = $12, auto_top_up_pack = $13, "
      + "auto_top_up_threshold = $14, auto_top_up_paused = $15, updated_at = now() WHERE account_id = $1";
  private static final String BY_CUSTOMER = "SELECT id FROM accounts WHERE stripe_customer_id = $1";
  private static final String BY_SUBSCRIPTION = "SELECT account_id FROM account_billing WHERE stripe_subscription_id = $1";
  private static final String GRACE_OVER = "SELECT b.account_id FROM account_billing b JOIN accounts a ON a.id = b.account_id "
      + "WHERE b.grace_until <= $1 AND a.status = 'past_due' ORDER BY b.grace_until LIMIT $2";

  public Future<Optional<AccountBilling>> get(SqlClient sql, long accountId) {
    return sql.preparedQuery(SELECT).execute(Tuple.of(accountId))
        .map(rows -> rows.size() == 0 ? Optional.empty() : Optional.of(AccountBilling.from(rows.iterator().next())));
  }

  /** The account's row, created if missing, locked for the transaction. */
  public Future<AccountBilling> lock(SqlClient sql, long accountId) {
    return sql.preparedQuery(ENSURE).execute(Tuple.of(accountId))
        .compose(v -> sql.preparedQuery(SELECT + " FOR UPDATE").execute(Tuple.of(accountId)))
        .map(rows -> AccountBilling.from(rows.iterator().next()));
  }

  public Future<Void> save(SqlClient sql, AccountBilling b) {
    return sql.preparedQuery(SAVE).execute(Tuple.from(Arrays.asList(b.accountId(), b.email(), b.subscriptionId(),
        b.subscriptionStatus(), b.subscriptionPrices().toArray(new String[0]), b.cancelAtPeriodEnd(), utc(b.currentPeriodEnd()),
        utc(b.trialEnd()), utc(b.subscriptionEventAt()), utc(b.graceUntil()), b.defaultPaymentMethod(), utc(b.paymentMethodEventAt()),
        b.autoTopUpPack(), b.autoTopUpThreshold(), b.autoTopUpPaused()))).mapEmpty();
  }

  public Future<Optional<Long>> accountForCustomer(SqlClient sql, String customerId) {
    return sql.preparedQuery(BY_CUSTOMER).execute(Tuple.of(customerId))
        .map(rows -> rows.size() == 0 ? Optional.empty() : Optional.of(rows.iterator().next().getLong(0)));
  }

  public Future<Optional<Long>> accountForSubscription(SqlClient sql, String subscriptionId) {
    return sql.preparedQuery(BY_SUBSCRIPTION).execute(Tuple.of(subscriptionId))
        .map(rows -> rows.size() == 0 ? Optional.empty() : Optional.of(rows.iterator().next().getLong(0)));
  }

  /** Past-due accounts whose grace period is over. */
  private static final String GRACE_ENDING = "SELECT b.account_id FROM account_billing b JOIN accounts a ON a.id = b.account_id "
      + "WHERE b.grace_until > $1 AND b.grace_until <= $2 AND a.status = 'past_due' ORDER BY b.grace_until LIMIT $3";

  /** Past-due accounts whose grace period ends after {@code now} and by {@code until}. */
  public Future<List<Long>> graceEnding(SqlClient sql, Instant now, Instant until, int limit) {
    return sql.preparedQuery(GRACE_ENDING).execute(Tuple.of(utc(now), utc(until), limit)).map(rows -> {
      List<Long> ids = new ArrayList<>();
      rows.forEach(r -> ids.add(r.getLong(0)));
      return ids;
    });
  }

  public Future<List<Long>> graceOver(SqlClient sql, Instant now, int limit) {
    return sql.preparedQuery(GRACE_OVER).execute(Tuple.of(utc(now), limit)).map(rows -> {
      List<Long> out = new ArrayList<>();
      rows.forEach(r -> out.add(r.getLong(0)));
      return out;
    });
  }

}
