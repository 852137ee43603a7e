package io.tollgate.gateway.billing;

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

  private static final String DUE = "SELECT id FROM accounts WHERE period_end <= $1 ORDER BY period_end LIMIT $2";
  private static final String LOCK = "SELECT id FROM accounts WHERE id = $1 AND period_end <= $2 FOR UPDATE SKIP LOCKED";
  private static final String USAGE = "SELECT count(*) AS requests, coalesce(sum(credits), 0) AS credits FROM usage_events "
      + "WHERE account_id = $1 AND occurred_at >= $2 AND occurred_at < $3";
  private static final String GRANTED = "SELECT coalesce(sum(amount), 0) FROM credit_transactions WHERE idempotency_key = $1";
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
    Instant cutoff = clock.instant().minus(GRACE);
    return pool.preparedQuery(DUE).execute(Tuple.of(utc(cutoff), BATCH)).compose(rows -> {
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
    Instant start = account.periodStart();
    Instant end = account.periodEnd();
    // Several periods may have passed (an instance was down for months): jump to the current one.
    Instant nextStart = end;
    while (!plusMonth(nextStart).isAfter(cutoff)) {
      nextStart = plusMonth(nextStart);
    }
    Instant newStart = nextStart;
    Instant newEnd = plusMonth(newStart);
    PlanConfig plan = config.plan(account.plan());
    boolean prepaid = !"postpaid".equals(account.billingMode());
    return conn.preparedQuery(USAGE).execute(Tuple.of(account.id(), utc(start), utc(end))).compose(usage -> {
      Row u = usage.iterator().next();
      long requests = u.getLong("requests");
      long used = u.getLong("credits");
      Future<Long> included = prepaid
          ? conn.preparedQuery(GRANTED).execute(Tuple.of(periodGrantKey(account.id(), start))).map(r -> r.iterator().next().getLong(0))
          : Future.succeededFuture(0L);
      return included.compose(grantedThen -> {
        long expired = Math.max(0, grantedThen - used);
        long granted = prepaid ? plan.includedCredits() : 0;
        Future<Boolean> steps = Future.succeededFuture(true);
        if (expired > 0) {
          steps = steps.compose(v -> ledger.record(conn, account.id(), -expired, "expiry",
              "unused included credits of the period from " + start, "expiry:" + account.id() + ":" + start, "billing-period"));
        }
        if (granted > 0) {
          steps = steps.compose(v -> ledger.record(conn, account.id(), granted, "period_grant",
              "plan " + account.plan() + " included credits", periodGrantKey(account.id(), newStart), "billing-period"));
        }
        return steps
            .compose(v -> conn.preparedQuery(ADVANCE).execute(Tuple.of(account.id(), utc(newStart), utc(newEnd), utc(start))))
            .compose(v -> conn.preparedQuery(RECORD).execute(Tuple.of(account.id(), utc(start), utc(end), requests, used, expired)))
            .compose(v -> accounts.get(conn, account.id()))
            .map(after -> new Rolled(account, after.orElseThrow(), used, expired, granted));
      });
    });
  }

  private Future<Void> applyToRedis(Rolled rolled) {
    Account after = rolled.after();
    return admissions.balance(after.id()).compose(hot -> {
      if (hot.isEmpty()) {
        // Not loaded: the first request loads it from the ledger, which already has the change.
        return Future.succeededFuture();
      }
      if ("postpaid".equals(after.billingMode())) {
        // The cap applies afresh: what is left is the cap minus this new period's usage (none yet).
        return after.spendCap() == null ? Future.succeededFuture()
            : ledger.spendable(pool, after).compose(balance -> admissions.setBalance(after.id(), balance));
      }
      long delta = rolled.granted() - rolled.expired();
      return delta == 0 ? Future.succeededFuture() : admissions.addCredits(after.id(), delta).mapEmpty();
    });
  }

  private static Instant plusMonth(Instant t) {
    return OffsetDateTime.ofInstant(t, ZoneOffset.UTC).plusMonths(1).toInstant();
  }

  private static OffsetDateTime utc(Instant t) {
    return OffsetDateTime.ofInstant(t, ZoneOffset.UTC);
  }
}
