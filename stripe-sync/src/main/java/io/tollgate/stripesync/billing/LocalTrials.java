package io.tollgate.stripesync.billing;

import io.tollgate.config.TollgateConfig;
import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.accounts.AccountBilling;
import io.tollgate.metering.accounts.AccountBillingStore;
import io.tollgate.metering.accounts.AccountStatus;
import io.tollgate.metering.accounts.AccountStore;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ends local trials ({@code accounts.trial_ends_at}, set by {@code AccountService.startLocalTrial}): an account whose
 * trial is over returns to the free plan (status active), audited, unless a live Stripe subscription took over, in
 * which case only the trial's end date is cleared and the subscription's plan stays. Each account is re-checked under
 * its row lock and the end date is cleared in the same transaction, so any number of runs and instances end a trial
 * once.
 */
final class LocalTrials {

  private static final Logger log = LoggerFactory.getLogger(LocalTrials.class);
  private static final int BATCH = 100;
  /** Subscription states that no longer carry a plan. */
  private static final Set<String> ENDED = Set.of("canceled", "incomplete_expired");

  private final Pool pool;
  private final AccountStore accounts;
  private final AccountBillingStore billing;
  private final BillingEvents events;
  private final Clock clock;
  private final Supplier<Future<Void>> announceAccountChange;

  LocalTrials(Pool pool, AccountStore accounts, AccountBillingStore billing, BillingEvents events, Clock clock,
              Supplier<Future<Void>> announceAccountChange) {
    this.pool = pool;
    this.accounts = accounts;
    this.billing = billing;
    this.events = events;
    this.clock = clock;
    this.announceAccountChange = announceAccountChange;
  }

  /** Ends every local trial that is over; returns the ids this call moved to the free plan. */
  Future<List<Long>> runOnce() {
    Instant now = clock.instant();
    return accounts.trialsOver(pool, now, BATCH).compose(ids -> {
      Future<List<Long>> all = Future.succeededFuture(new ArrayList<>());
      for (long id : ids) {
        all = all.compose(done -> end(id, now).map(downgraded -> {
          if (downgraded) {
            done.add(id);
          }
          return done;
        }).recover(err -> {
          log.warn("could not end the local trial of account {} (retrying next run): {}", id, err.toString());
          return Future.succeededFuture(done);
        }));
      }
      return all;
    }).compose(done -> done.isEmpty() ? Future.succeededFuture(done) : announceAccountChange.get().map(done));
  }

  private Future<Boolean> end(long accountId, Instant now) {
    return pool.withTransaction(conn -> accounts.getForUpdate(conn, accountId).compose(found -> billing.lock(conn, accountId)
        .compose(b -> {
          if (found.isEmpty() || found.get().trialEndsAt() == null || found.get().trialEndsAt().isAfter(now)) {
            return Future.succeededFuture(false);
          }
          Account a = found.get();
          if (subscribed(b)) {
            log.info("account {}: local trial ended {}, Stripe subscription {} keeps plan {}", a.id(), a.trialEndsAt(),
                b.subscriptionId(), a.plan());
            return accounts.update(conn, a.withPlanAndStatus(a.plan(), a.status())).map(false);
          }
          String free = TollgateConfig.freePlanName();
          return events.changeAccount(conn, a, free, AccountStatus.ACTIVE.dbValue(), "local trial ended " + a.trialEndsAt())
              .compose(changed -> changed ? Future.succeededFuture(true)
                  // Already free and active: only the end date goes.
                  : accounts.update(conn, a.withPlanAndStatus(free, AccountStatus.ACTIVE.dbValue())).map(false));
        })));
  }

  private static boolean subscribed(AccountBilling b) {
    return b.subscriptionId() != null && b.subscriptionStatus() != null && !ENDED.contains(b.subscriptionStatus());
  }
}
