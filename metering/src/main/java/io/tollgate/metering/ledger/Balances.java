package io.tollgate.metering.ledger;

import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.accounts.AccountStore;
import io.tollgate.metering.admission.Admissions;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.SqlClient;

/**
 * The hot balance in Redis and its source of truth, the Postgres ledger: loads the one from the
 * other when Redis has none, and reads whichever is current.
 */
public final class Balances {

  /** Allowance units used per tier in the current period, from the events of record. */
  private static final String ALLOWANCES_USED = "SELECT tier, sum(allowance_units) AS used FROM usage_events "
      + "WHERE account_id = $1 AND occurred_at >= $2 AND tier IS NOT NULL GROUP BY tier";

  private final Pool pool;
  private final AccountStore accounts;
  private final CreditLedger ledger;
  private final Admissions admissions;

  public Balances(Pool pool, AccountStore accounts, CreditLedger ledger, Admissions admissions) {
    this.pool = pool;
    this.accounts = accounts;
    this.ledger = ledger;
    this.admissions = admissions;
  }

  /** An account's spendable credits: the hot balance if Redis holds it, else the ledger's (without loading it). */
  public Future<Long> spendable(Account account) {
    return spendable(admissions, ledger, pool, account);
  }

  /** {@link #spendable(Account)}, reading the ledger through {@code sql} (a caller's transaction, say). */
  public static Future<Long> spendable(Admissions admissions, CreditLedger ledger, SqlClient sql, Account account) {
    return admissions.balance(account.id())
        .compose(hot -> hot.isPresent() ? Future.succeededFuture(hot.get()) : ledger.spendable(sql, account));
  }

  /**
   * Sets the hot balance (and the period's overage and action allowance counters) from Postgres,
   * where Redis has none.
   */
  public Future<Void> seed(Account account) {
    Future<Void> overage = "hybrid".equals(account.billingMode())
        ? ledger.overageThisPeriod(pool, account).compose(o -> admissions.seedOverage(account.id(), o)).mapEmpty()
        : Future.succeededFuture();
    return overage.compose(v -> seedAllowances(account))
        .compose(v -> ledger.spendable(pool, account)).compose(balance -> admissions.seedBalance(account.id(), balance))
        .mapEmpty();
  }

  private Future<Void> seedAllowances(Account account) {
    return allowancesUsedOfRecord(account).compose(used -> admissions.seedAllowances(account.id(), used));
  }

  /**
   * Action allowance units used this period per tier (held by open reservations included): the
   * hot counters if Redis holds them, else the events of record (without loading them).
   */
  public Future<java.util.Map<String, Long>> allowancesUsed(Account account, java.util.Collection<String> tiers) {
    return admissions.allowancesUsed(account.id(), tiers)
        .compose(hot -> hot.isPresent() ? Future.succeededFuture(hot.get()) : allowancesUsedOfRecord(account));
  }

  private Future<java.util.Map<String, Long>> allowancesUsedOfRecord(Account account) {
    return pool.preparedQuery(ALLOWANCES_USED)
        .execute(io.vertx.sqlclient.Tuple.of(account.id(), io.tollgate.metering.store.PgTime.utc(account.periodStart())))
        .map(rows -> {
          java.util.Map<String, Long> used = new java.util.TreeMap<>();
          rows.forEach(r -> used.put(r.getString("tier"), r.getLong("used")));
          return used;
        });
  }

  /** {@link #seed} by account id. */
  public Future<Void> seed(long accountId) {
    return accounts.get(pool, accountId).compose(account -> {
      if (account.isEmpty()) {
        return Future.failedFuture(new IllegalStateException("account " + accountId + " not found"));
      }
      return seed(account.get());
    });
  }
}
