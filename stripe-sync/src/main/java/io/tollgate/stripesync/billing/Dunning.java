package io.tollgate.stripesync.billing;

import io.tollgate.metering.alerts.Notices;

import io.tollgate.config.TollgateConfig;
import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.accounts.AccountStatus;
import io.tollgate.metering.accounts.AccountBillingStore;
import io.tollgate.metering.accounts.AccountStore;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ends grace periods: a past-due account whose grace period is over moves to the free plan
 * (status active, so it keeps working within the free plan's limits) and is told so. Each account
 * is re-checked under its row lock, so any number of instances downgrade it once. A later paid
 * invoice restores the plan ({@link BillingEvents}).
 */
public final class Dunning {

  private static final Logger log = LoggerFactory.getLogger(Dunning.class);
  private static final int BATCH = 100;

  private final Pool pool;
  private final AccountStore accounts;
  private final AccountBillingStore billing;
  private final BillingEvents events;
  private final Notices notices;
  private final Clock clock;
  private final Supplier<Future<Void>> announceAccountChange;

  public Dunning(Pool pool, AccountStore accounts, AccountBillingStore billing, BillingEvents events, Notices notices, Clock clock,
                 Supplier<Future<Void>> announceAccountChange) {
    this.pool = pool;
    this.accounts = accounts;
    this.billing = billing;
    this.events = events;
    this.notices = notices;
    this.clock = clock;
    this.announceAccountChange = announceAccountChange;
  }

  /**
   * The reminder before a downgrade: a past-due account whose grace period ends within
   * {@code min(24 h, grace period / 2)} gets a {@code grace_ending} notice, once per grace period
   * (the notice is unique on its end). Returns the accounts this call reminded.
   */
  public Future<List<Long>> remindGraceEnding(java.time.Duration gracePeriod) {
    Instant now = clock.instant();
    java.time.Duration half = gracePeriod.dividedBy(2);
    java.time.Duration lead = half.compareTo(java.time.Duration.ofHours(24)) < 0 ? half : java.time.Duration.ofHours(24);
    return billing.graceEnding(pool, now, now.plus(lead), BATCH).compose(ids -> {
      Future<List<Long>> all = Future.succeededFuture(new ArrayList<>());
      for (long id : ids) {
        all = all.compose(done -> pool.withTransaction(conn -> accounts.get(conn, id).compose(found -> billing.get(conn, id)
                .compose(b -> {
                  if (found.isEmpty() || b.isEmpty() || b.get().graceUntil() == null) {
                    return Future.succeededFuture(false);
                  }
                  Account a = found.get();
                  JsonObject payload = new JsonObject().put("type", "grace.ending").put("accountId", a.id()).put("plan", a.plan())
                      .put("graceUntil", b.get().graceUntil().toString()).put("to", TollgateConfig.freePlanName());
                  return notices.raise(conn, a, "grace_ending", 0, b.get().graceUntil(), payload);
                })))
            .map(raised -> {
              if (raised) {
                done.add(id);
              }
              return done;
            }).recover(err -> {
              log.warn("could not remind account {} of its grace period's end (retrying next run): {}", id, err.toString());
              return Future.succeededFuture(done);
            }));
      }
      return all;
    });
  }

  /** Downgrades every account whose grace period has ended; returns the ids this call downgraded. */
  public Future<List<Long>> runOnce() {
    Instant now = clock.instant();
    return billing.graceOver(pool, now, BATCH).compose(ids -> {
      Future<List<Long>> all = Future.succeededFuture(new ArrayList<>());
      for (long id : ids) {
        all = all.compose(done -> downgrade(id, now).map(d -> {
          if (d) {
            done.add(id);
          }
          return done;
        }).recover(err -> {
          log.warn("could not end the grace period of account {} (retrying next run): {}", id, err.toString());
          return Future.succeededFuture(done);
        }));
      }
      return all;
    }).compose(done -> done.isEmpty() ? Future.succeededFuture(done) : announceAccountChange.get().map(done));
  }

  private Future<Boolean> downgrade(long accountId, Instant now) {
    return pool.withTransaction(conn -> accounts.getForUpdate(conn, accountId).compose(found -> billing.lock(conn, accountId)
        .compose(b -> {
          Optional<Account> account = found;
          if (account.isEmpty() || !AccountStatus.PAST_DUE.dbValue().equals(account.get().status()) || b.graceUntil() == null || b.graceUntil().isAfter(now)) {
            return Future.succeededFuture(false);
          }
          Account a = account.get();
          String free = TollgateConfig.freePlanName();
          JsonObject payload = new JsonObject().put("type", "plan.downgraded").put("accountId", a.id()).put("from", a.plan())
              .put("to", free).put("reason", "payment failed and the grace period ended " + b.graceUntil());
          log.info("account {}: grace period ended {}, plan {} → {}", a.id(), b.graceUntil(), a.plan(), free);
          return events.changeAccount(conn, a, free, AccountStatus.ACTIVE.dbValue(), "grace period ended " + b.graceUntil())
              .compose(v -> notices.raise(conn, a, "plan_downgraded", 0, b.graceUntil(), payload)).map(true);
        })));
  }
}
