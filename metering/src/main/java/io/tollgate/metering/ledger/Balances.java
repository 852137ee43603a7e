package io.tollgate.metering.ledger;

import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.accounts.AccountStore;
import io.tollgate.metering.admission.Admissions;
import io.tollgate.metering.usage.UsageQueries;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.SqlClient;

/**
 * The hot balance in Redis and its source of truth, the Postgres ledger: loads the one from the
 * other when Redis has none, and reads whichever is current.
 */
public final class Balances {

  private final Pool pool;
  private final AccountStore accounts;
  private final CreditLedger ledger;
  private final Admissions admissions;
  private final UsageQueries usage;

  public Balances(Pool pool, AccountStore accounts, CreditLedger ledger, Admissions admissions) {
    this.pool = pool;
    this.accounts = accounts;
    this.ledger = ledger;
    this.admissions = admissions;
    this.usage = new UsageQueries(pool);
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

  /**
   * The events of record since the period's start, with no end: the counters this stands in for
   * (or seeds) count every admission until the period rolls over, even one past its end.
   */
  private Future<java.util.Map<String, Long>> allowancesUsedOfRecord(Account account) {
    return usage.allowancesUsedSince(account.id(), account.periodStart());
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
