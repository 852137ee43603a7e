package io.tollgate.metering.periods;

import static io.tollgate.metering.store.PgTime.utc;

import io.tollgate.config.PlanConfig;
import io.tollgate.config.TollgateConfig;
import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.accounts.AccountStore;
import io.tollgate.metering.admission.Admissions;
import io.tollgate.metering.ledger.CreditLedger;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Closes billing periods that have ended and opens the next, exactly once per account and
 * boundary whichever instance gets there first: the account row is locked ({@code FOR UPDATE
 * SKIP LOCKED}, so instances share the work instead of queueing), and the period change, the
 * {@code billing_periods} record, the lapse of unused included credits and the new period's
 * grant commit together; the ledger rows carry idempotency keys as a second guard.
 *
 * <p>Prepaid and hybrid accounts: included credits are spent first; what is left of them at the
 * boundary lapses ({@code expiry}), purchased credits carry over, and the plan's included credits
 * for the new period are granted. Postpaid accounts with a spend cap start the new period with
 * the whole cap. Usage counters (alert thresholds, the period summary) are keyed by the period's
 * start, so they begin again at zero.
 *
 * <p>A period is closed {@link #GRACE} after its end, so that events settled just before the
 * boundary have reached Postgres when the period's usage is summed.
 */
public final class PeriodRollover {

  private static final Logger log = LoggerFactory.getLogger(PeriodRollover.class);
  /** Longer than the usage pipeline's normal delay from settle to row (a flush interval). */
  public static final Duration GRACE = Duration.ofSeconds(30);
  private static final int BATCH = 100;

  // Accounts on a live Stripe subscription whose grace period (if any) is not over are moved by
  // their invoices instead ({@link #advance}), so periods follow Stripe's billing cycle; so is any
  // past-due account (it waits for a payment or for dunning: rolling it over would grant its paid
  // plan's credits unpaid). Once dunning has moved an account to the free plan, the calendar takes
  // over again. $3 is the clock's now.
  private static final String DUE = "SELECT a.id FROM accounts a LEFT JOIN account_billing b ON b.account_id = a.id "
      + "WHERE a.period_end <= $1 AND NOT coalesce(a.status = 'past_due' OR (b.subscription_status IN ('active', 'trialing', "
      + "'past_due') AND (b.grace_until IS NULL OR b.grace_until > $3)), false) ORDER BY a.period_end LIMIT $2";
  private static final String LOCK = "SELECT id FROM accounts WHERE id = $1 AND period_end <= $2 FOR UPDATE SKIP LOCKED";
  private static final String USAGE = "SELECT count(*) AS requests, coalesce(sum(credits), 0) AS credits, "
      + "coalesce(sum(credits - overage_credits), 0) AS covered FROM usage_events "
      + "WHERE account_id = $1 AND occurred_at >= $2 AND occurred_at < $3";
  // The period's included credits: the grant at its start, plus any top-up of it by a paid invoice.
  private static final String GRANTED = "SELECT coalesce(sum(amount), 0) FROM credit_transactions WHERE account_id = $2 "
      + "AND (idempotency_key = $1 OR idempotency_key LIKE $1 || ':%')";
  private static final String ADVANCE = "UPDATE accounts SET period_start = $2, period_end = $3, updated_at = now() "
      + "WHERE id = $1 AND period_start = $4";
  private static final String RECORD = "INSERT INTO billing_periods (account_id, period_start, period_end, requests, credits_used, "
      + "included_expired) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING";

  private final Pool pool;
  private final TollgateConfig config;
  private final AccountStore accounts;
  private final CreditLedger ledger;
  private final Admissions admissions;
  private final Clock clock;

  /** One account's rollover, as committed. */
  public record Rolled(Account before, Account after, long creditsUsed, long expired, long granted) {
  }

  public PeriodRollover(Pool pool, TollgateConfig config, AccountStore accounts, CreditLedger ledger, Admissions admissions,
                        Clock clock) {
    this.pool = pool;
    this.config = config;
    this.accounts = accounts;
    this.ledger = ledger;
    this.admissions = admissions;
    this.clock = clock;
  }

  /** The idempotency key of an account's included-credit grant for the period starting at {@code start}. */
  public static String periodGrantKey(long accountId, Instant start) {
    return "period:" + accountId + ":" + start;
  }

  /** Rolls over every account whose period has ended; returns those this instance rolled. */
  public Future<List<Rolled>> runOnce() {
    Instant now = clock.instant();
    Instant cutoff = now.minus(GRACE);
    return pool.preparedQuery(DUE).execute(Tuple.of(utc(cutoff), BATCH, utc(now))).compose(rows -> {
      List<Long> due = new ArrayList<>();
      rows.forEach(r -> due.add(r.getLong("id")));
      Future<List<Rolled>> all = Future.succeededFuture(new ArrayList<>());
      for (long id : due) {
        all = all.compose(done -> rollOver(id, cutoff)
            .map(rolled -> {
              rolled.ifPresent(done::add);
              return done;
            })
            .recover(err -> {
              log.warn("could not roll over the billing period of account {} (retrying next run): {}", id, err.toString());
              return Future.succeededFuture(done);
            }));
      }
      return all;
    });
  }

  /** One account: empty if it is not due or another instance holds it. */
  Future<Optional<Rolled>> rollOver(long accountId, Instant cutoff) {
    return pool.withTransaction(conn -> conn.preparedQuery(LOCK).execute(Tuple.of(accountId, utc(cutoff))).compose(locked -> {
      if (locked.size() == 0) {
        return Future.succeededFuture(Optional.<Rolled>empty());
      }
      return accounts.get(conn, accountId).compose(found -> close(conn, found.orElseThrow(), cutoff)).map(Optional::of);
    })).compose(rolled -> {
      if (rolled.isEmpty()) {
        return Future.succeededFuture(rolled);
      }
      // Committed: now the hot balance, once, by the instance that committed.
      return applyToRedis(rolled.get()).map(rolled).recover(err -> {
        log.warn("billing period of account {} rolled over, but its Redis balance was not updated ({}); "
            + "rebuild it with POST /admin/v1/accounts/{}/credits/rebuild", accountId, err.toString(), accountId);
        return Future.succeededFuture(rolled);
      });
    });
  }

  private Future<Rolled> close(SqlConnection conn, Account account, Instant cutoff) {
    // Several periods may have passed (an instance was down for months): jump to the current one.
    Instant nextStart = account.periodEnd();
    while (!plusMonth(nextStart).isAfter(cutoff)) {
      nextStart = plusMonth(nextStart);
    }
    return advance(conn, account, account.periodEnd(), nextStart, plusMonth(nextStart), config.plan(account.plan()), null);
  }

  /**
   * Closes the account's current period at {@code closedEnd} and opens {@code [newStart, newEnd)}
   * under {@code plan}: unused included credits of the closing period lapse, the new period gets
   * the plan's included credits (prepaid and hybrid accounts), and the closed period is recorded.
   * Used by the calendar rollover and by paid subscription invoices ({@code invoiceId} set), whose
   * grant keys name the invoice so each invoice grants once.
   */
  public Future<Rolled> advance(SqlConnection conn, Account account, Instant closedEnd, Instant newStart, Instant newEnd,
                                PlanConfig plan, String invoiceId) {
    Instant start = account.periodStart();
    boolean prepaid = !"postpaid".equals(account.billingMode());
    return conn.preparedQuery(USAGE).execute(Tuple.of(account.id(), utc(start), utc(closedEnd))).compose(usage -> {
      Row u = usage.iterator().next();
      long requests = u.getLong("requests");
      long used = u.getLong("credits");
      // Overage (hybrid) was billed by meter, not paid from the included credits.
      long covered = u.getLong("covered");
      Future<Long> included = prepaid ? includedGranted(conn, account.id(), start) : Future.succeededFuture(0L);
      return included.compose(grantedThen -> {
        long expired = Math.max(0, grantedThen - covered);
        Future<Boolean> steps = Future.succeededFuture(true);
        if (expired > 0) {
          steps = steps.compose(v -> ledger.record(conn, account.id(), -expired, "expiry",
              "unused included credits of the period from " + start, "expiry:" + account.id() + ":" + start, "billing-period"));
        }
        Account moved = account.withPeriod(newStart, newEnd);
        return steps
            .compose(v -> conn.preparedQuery(ADVANCE).execute(Tuple.of(account.id(), utc(newStart), utc(newEnd), utc(start))))
            .compose(v -> conn.preparedQuery(RECORD).execute(Tuple.of(account.id(), utc(start), utc(closedEnd), requests, used, expired)))
            .compose(v -> grantIncluded(conn, moved, plan, invoiceId))
            .compose(granted -> accounts.get(conn, account.id()).map(after -> new Rolled(account, after.orElseThrow(), used, expired, granted)));
      });
    });
  }

  /**
   * Brings the current period's included credits up to {@code plan}'s (a paid invoice for the
   * period that has already begun: say, a late payment after a downgrade). Returns what it granted.
   */
  public Future<Long> grantIncluded(SqlConnection conn, Account account, PlanConfig plan, String invoiceId) {
    if ("postpaid".equals(account.billingMode()) || plan.includedCredits() <= 0) {
      return Future.succeededFuture(0L);
    }
    String key = periodGrantKey(account.id(), account.periodStart());
    return includedGranted(conn, account.id(), account.periodStart()).compose(already -> {
      long missing = plan.includedCredits() - already;
      if (missing <= 0) {
        return Future.succeededFuture(0L);
      }
      String reason = "plan " + plan.name() + " included credits" + (invoiceId == null ? "" : " (invoice " + invoiceId + ")");
      String actor = invoiceId == null ? "billing-period" : "stripe";
      // The plain key for the period's first grant, an invoice-named one for a top-up of it.
      String grantKey = already == 0 && invoiceId == null ? key : key + ":" + (invoiceId == null ? "plan:" + plan.name() : "invoice:" + invoiceId);
      return ledger.record(conn, account.id(), missing, "period_grant", reason, grantKey, actor).map(applied -> applied ? missing : 0L);
    });
  }

  private Future<Long> includedGranted(SqlConnection conn, long accountId, Instant periodStart) {
    return conn.preparedQuery(GRANTED).execute(Tuple.of(periodGrantKey(accountId, periodStart), accountId))
        .map(r -> r.iterator().next().getLong(0));
  }

  /**
   * Applies a committed period change to the hot balance: the grant minus the lapse, or the
   * renewed cap; and resets the action allowance counters. A balance Redis does not hold is left alone: the first request loads it from the
   * ledger, which already has the change.
   */
  public Future<Void> applyToRedis(Rolled rolled) {
    // Every billing mode: the action allowances of the new period start from zero.
    return admissions.resetAllowances(rolled.after().id()).compose(v -> applyBalanceToRedis(rolled));
  }

  private Future<Void> applyBalanceToRedis(Rolled rolled) {
    Account after = rolled.after();
    if (!"postpaid".equals(after.billingMode())) {
      long delta = rolled.granted() - rolled.expired();
      // A new period starts with no overage (its spend cap applies afresh).
      Future<Void> overage = admissions.resetOverage(after.id());
      return delta == 0 ? overage : overage.compose(v -> admissions.addCreditsIfLoaded(after.id(), delta)).mapEmpty();
    }
    if (after.spendCap() == null) {
      return Future.succeededFuture();
    }
    // The cap applies afresh: what is left is the cap minus this new period's usage (none yet).
    return admissions.balance(after.id()).compose(hot -> hot.isEmpty() ? Future.succeededFuture()
        : ledger.spendable(pool, after).compose(balance -> admissions.setBalance(after.id(), balance)));
  }

  private static Instant plusMonth(Instant t) {
    return OffsetDateTime.ofInstant(t, ZoneOffset.UTC).plusMonths(1).toInstant();
  }

}
