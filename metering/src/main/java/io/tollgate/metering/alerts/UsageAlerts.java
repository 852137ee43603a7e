package io.tollgate.metering.alerts;

import io.tollgate.config.Credits;
import io.tollgate.config.PlanConfig;
import io.tollgate.config.TollgateConfig;
import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.admission.Admissions;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Usage threshold and low-balance alerts. Checked for the accounts whose usage just reached
 * Postgres; each threshold fires once per account and period whichever instance sees it first,
 * because the notification row is unique on (account, kind, threshold, period start) and only
 * the instance whose insert created the row counts and delivers it.
 */
public final class UsageAlerts {

  private static final Logger log = LoggerFactory.getLogger(UsageAlerts.class);
  public static final String USAGE_THRESHOLD = "usage_threshold";
  public static final String LOW_BALANCE = "low_balance";

  // Period usage from the hourly rollups: periods start on whole hours, and the rollups are
  // written in the same statement as the events, so they are exact.
  private static final String ACCOUNTS = "SELECT " + Account.COLUMNS + ", (SELECT coalesce(sum(r.credits), 0) "
      + "FROM usage_rollups_hourly r WHERE r.account_id = a.id AND r.hour >= a.period_start AND r.hour < a.period_end) AS used "
      + "FROM accounts a WHERE a.id = ANY($1)";
  private final Pool pool;
  private final TollgateConfig config;
  private final Admissions admissions;
  private final Notices notices;

  public UsageAlerts(Pool pool, TollgateConfig config, Admissions admissions, Notices notices) {
    this.pool = pool;
    this.config = config;
    this.admissions = admissions;
    this.notices = notices;
  }

  /** A notification this instance created. */
  public record Fired(long id, long accountId, String kind, int threshold) {
  }

  /** Checks the given accounts; returns the notifications this call created. */
  public Future<List<Fired>> check(Collection<Long> accountIds) {
    if (accountIds.isEmpty()) {
      return Future.succeededFuture(List.of());
    }
    return pool.preparedQuery(ACCOUNTS).execute(Tuple.of(accountIds.toArray(new Long[0]))).compose(rows -> {
      List<Future<List<Fired>>> checks = new ArrayList<>();
      for (Row row : rows) {
        Account account = Account.from(row);
        checks.add(thresholds(account, row.getLong("used")));
        if (account.lowBalanceCredits() != null && account.enforcesCredits()) {
          checks.add(lowBalance(account));
        }
      }
      return Future.all(checks).map(done -> {
        List<Fired> fired = new ArrayList<>();
        for (int i = 0; i < done.size(); i++) {
          fired.addAll(done.resultAt(i));
        }
        return fired;
      });
    });
  }

  private Future<List<Fired>> thresholds(Account account, long used) {
    PlanConfig plan = config.plan(account.plan());
    long allowance = AlertBasis.of(account, plan);
    if (allowance <= 0) {
      return Future.succeededFuture(List.of());
    }
    List<Integer> thresholds = account.alertThresholds() != null ? account.alertThresholds() : plan.alertThresholds();
    List<Integer> crossed = new ArrayList<>();
    for (int t : thresholds) {
      // Exact: used / allowance >= t / 100, without rounding or overflow.
      if (java.math.BigInteger.valueOf(used).multiply(java.math.BigInteger.valueOf(100))
          .compareTo(java.math.BigInteger.valueOf(t).multiply(java.math.BigInteger.valueOf(allowance))) >= 0) {
        crossed.add(t);
      }
    }
    if (crossed.isEmpty()) {
      return Future.succeededFuture(List.of());
    }
    JsonObject payload = new JsonObject().put("type", "usage.threshold").put("accountId", account.id())
        .put("usedCredits", Credits.json(used)).put("allowanceCredits", Credits.json(allowance))
        .put("basis", account.spendCap() != null && account.spendCap() > 0 ? "spend_cap" : "included_credits")
        .put("period", period(account));
    return insert(account, USAGE_THRESHOLD, payload, crossed);
  }

  private Future<List<Fired>> lowBalance(Account account) {
    return admissions.balance(account.id()).compose(hot -> {
      if (hot.isEmpty() || hot.get() >= account.lowBalanceCredits()) {
        return Future.succeededFuture(List.of());
      }
      JsonObject payload = new JsonObject().put("type", "balance.low").put("accountId", account.id())
          .put("balanceCredits", Credits.json(hot.get())).put("lowBalanceCredits", Credits.json(account.lowBalanceCredits())).put("period", period(account));
      return insert(account, LOW_BALANCE, payload, List.of(0));
    });
  }

  private Future<List<Fired>> insert(Account account, String kind, JsonObject payload, List<Integer> thresholds) {
    return notices.raiseEach(pool, account, kind, thresholds, account.periodStart(), payload).map(raised -> {
      List<Fired> fired = new ArrayList<>();
      for (Notices.Raised r : raised) {
        fired.add(new Fired(r.id(), account.id(), kind, r.threshold()));
        log.info("account {} alert {} {}% (notification {})", account.id(), kind, r.threshold(), r.id());
      }
      return fired;
    });
  }

  private static JsonObject period(Account account) {
    return new JsonObject().put("start", account.periodStart().toString()).put("end", account.periodEnd().toString());
  }
}
