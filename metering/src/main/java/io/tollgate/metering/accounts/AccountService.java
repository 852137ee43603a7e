package io.tollgate.metering.accounts;

import io.tollgate.config.PlanConfig;
import io.tollgate.config.TollgateConfig;
import io.tollgate.metering.Refusal;
import io.tollgate.metering.accounts.AccountStore.NewAccount;
import io.tollgate.metering.admission.Admissions;
import io.tollgate.metering.audit.Actor;
import io.tollgate.metering.audit.AuditLog;
import io.tollgate.metering.keys.ApiKey;
import io.tollgate.metering.keys.KeyBudget;
import io.tollgate.metering.keys.ApiKeyStore;
import io.tollgate.metering.keys.KeyEvents;
import io.tollgate.metering.ledger.Balances;
import io.tollgate.metering.ledger.CreditLedger;
import io.tollgate.metering.periods.PeriodRollover;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.SqlConnection;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * Accounts, their API keys and credits as an operator changes them. Every mutation and its audit
 * row share one Postgres transaction; Redis (the hot balance, every instance's key cache) is told
 * after the commit, and is rebuildable from Postgres if that step fails. Whatever the caller can
 * fix fails with a {@link Refusal}.
 */
public final class AccountService {

  private final Pool pool;
  private final TollgateConfig config;
  private final AccountStore accounts;
  private final ApiKeyStore keys;
  private final CreditLedger ledger;
  private final AuditLog audit;
  private final Admissions admissions;
  private final Balances balances;
  private final KeyEvents keyEvents;
  private final Clock clock;
  private final AccountBillingStore billingStore = new AccountBillingStore();
  private final io.tollgate.metering.usage.UsageQueries usage;

  public AccountService(Pool pool, TollgateConfig config, AccountStore accounts, ApiKeyStore keys, CreditLedger ledger,
                        AuditLog audit, Admissions admissions, Balances balances, KeyEvents keyEvents, Clock clock) {
    this.pool = pool;
    this.usage = new io.tollgate.metering.usage.UsageQueries(pool);
    this.config = config;
    this.accounts = accounts;
    this.keys = keys;
    this.ledger = ledger;
    this.audit = audit;
    this.admissions = admissions;
    this.balances = balances;
    this.keyEvents = keyEvents;
    this.clock = clock;
  }

  /** What a new key is made of; the plaintext is generated. */
  public record NewKey(String prefix, String name, JsonObject scopes, Long requestsPerMinute, Long tokensPerMinute,
                       Instant expiresAt, Long budgetCredits, String budgetPeriod, Long budgetOf) {

    public NewKey(String prefix, String name, JsonObject scopes, Long requestsPerMinute, Long tokensPerMinute, Instant expiresAt) {
      this(prefix, name, scopes, requestsPerMinute, tokensPerMinute, expiresAt, null, null, null);
    }

    /** A rotation's new key: the old one's settings, and its budget's spend continued (never started over). */
    static NewKey like(ApiKey old) {
      KeyBudget b = old.budget();
      return new NewKey(old.prefix(), old.name(), old.scopes(), old.requestsPerMinute(), old.tokensPerMinute(), old.expiresAt(),
          b == null ? null : b.credits(), b == null ? null : b.period(), b == null ? null : b.spendKeyId());
    }
  }

  /** A rotation's new key (with its plaintext) and the old one, now valid only until the overlap ends. */
  public record Rotation(ApiKeyStore.Created created, ApiKey retired) {
  }

  /** A credit change: whether it was applied (not a replay of its idempotency key) and the hot balance after it. */
  public record CreditChange(boolean applied, Long balance) {
  }

  /** The ledger view: the hot balance (null when Redis has none), the ledger's, and the latest transactions. */
  public record Credits(Long hot, long ledgerSpendable, List<JsonObject> transactions) {
  }

  /** A rebuild of the hot balance from the ledger: what Redis held before (null for nothing) and what it holds now. */
  public record Rebuilt(Long previous, long balance) {
  }

  // ---- accounts

  /**
   * Creates the account with its plan's included credits for the first period (not for postpaid
   * accounts) and {@code initialCredits}, then seeds its hot balance.
   */
  public Future<Account> create(NewAccount account, long initialCredits, Actor actor) {
    return pool.withTransaction(conn -> accounts.create(conn, account).compose(created -> {
      PlanConfig plan = config.plan(created.plan());
      Future<Boolean> grants = Future.succeededFuture(true);
      if (!"postpaid".equals(created.billingMode()) && plan.includedCredits() > 0) {
        grants = ledger.record(conn, created.id(), plan.includedCredits(), "period_grant",
            "plan " + created.plan() + " included credits", PeriodRollover.periodGrantKey(created.id(), created.periodStart()),
            actor.name());
      }
      if (initialCredits > 0) {
        grants = grants.compose(v -> ledger.record(conn, created.id(), initialCredits, "grant", "initial credits", null, actor.name()));
      }
      return grants.compose(v -> audit.record(conn, actor.name(), "account.create", "account", Long.toString(created.id()),
          actor.ip(), null, created.toJson())).map(created);
    })).compose(created -> balances.seed(created).map(created));
  }

  public Future<Account> get(long id) {
    return accounts.get(pool, id).map(found -> found.orElseThrow(() -> Refusal.notFound("account " + id)));
  }

  /** Accounts by id, after {@code afterId}. */
  public Future<List<Account>> page(long afterId, int limit) {
    return accounts.page(pool, afterId, limit);
  }

  /** Accounts after {@code afterId} whose name contains {@code text}, or whose id or Stripe customer id it is. */
  public Future<List<Account>> search(String text, long afterId, int limit) {
    return accounts.search(pool, text, afterId, limit);
  }

  /** The account's spendable credits: the hot balance if Redis holds it, else the ledger's. */
  public Future<Long> spendable(Account account) {
    return balances.spendable(account);
  }

  /**
   * Changes an account: {@code change} builds the new state from the locked current one (and may
   * fail, refusing the change); every instance is told after the commit.
   */
  public Future<Account> update(long id, Function<Account, Account> change, Actor actor) {
    return pool.withTransaction(conn -> locked(conn, id).compose(before -> stripeGuard(conn, before, change.apply(before)))
        .compose(pair -> accounts.update(conn, pair.after())
            .compose(updated -> audit.record(conn, actor.name(), "account.update", "account", Long.toString(updated.id()),
                actor.ip(), pair.before().toJson(), updated.toJson()).map(updated))))
        .compose(updated -> keyEvents.announceAccountChange().map(updated));
  }

  private record Change(Account before, Account after) {
  }

  /**
   * A local plan change of an account billed by a live Stripe subscription is refused: Stripe would
   * go on billing the old plan, and its next event would put the old plan back. The plan of such an
   * account changes through Stripe (the admin API's plan-change endpoints), never beside it.
   */
  private Future<Change> stripeGuard(SqlConnection conn, Account before, Account after) {
    if (after.plan().equals(before.plan())) {
      return Future.succeededFuture(new Change(before, after));
    }
    return billingStore.get(conn, before.id()).map(found -> {
      found.filter(b -> b.subscriptionId() != null && AccountBilling.live(b.subscriptionStatus())).ifPresent(b -> {
        throw Refusal.conflict("account " + before.id() + " is billed by Stripe subscription " + b.subscriptionId() + " ("
            + b.subscriptionStatus() + "), which sets its plan: change the plan with POST /admin/v1/accounts/" + before.id()
            + "/plan-change (preview it with POST /admin/v1/accounts/" + before.id() + "/plan-change/preview)");
      });
      return new Change(before, after);
    });
  }

  /**
   * A local trial: an account without a Stripe customer moves to {@code plan} with status {@code trialing} until
   * {@code days} from now; when it ends without a Stripe subscription the account returns to the free plan (the
   * billing jobs). An account with a Stripe customer is refused: its trial belongs in Checkout.
   */
  public Future<Account> startLocalTrial(long id, String plan, int days, Actor actor) {
    if (!config.plans().containsKey(plan)) {
      return Future.failedFuture(Refusal.invalid("plan", "must be a configured plan: " + String.join(", ", config.plans().keySet())));
    }
    if (plan.equals(TollgateConfig.freePlanName())) {
      return Future.failedFuture(Refusal.invalid("plan", "is the free plan, which needs no trial"));
    }
    return pool.withTransaction(conn -> locked(conn, id).compose(before -> {
          if (before.stripeCustomerId() != null) {
            throw Refusal.conflict("account " + id + " has a Stripe customer (" + before.stripeCustomerId()
                + "): start its trial through Checkout (trial: {days, withoutCard})");
          }
          Account trial = before.withLocalTrial(plan, clock.instant().plus(Duration.ofDays(days)));
          return accounts.update(conn, trial).compose(updated -> audit.record(conn, actor.name(), "account.trial", "account",
              Long.toString(id), actor.ip(), before.toJson(), updated.toJson()).map(updated));
        }))
        .compose(updated -> keyEvents.announceAccountChange().map(updated));
  }

  private Future<Account> locked(SqlConnection conn, long id) {
    return accounts.getForUpdate(conn, id).map(found -> found.orElseThrow(() -> Refusal.notFound("account " + id)));
  }

  // ---- keys

  /** A new key for the account (found by {@link #get}); the plaintext is in the answer and nowhere else. */
  public Future<ApiKeyStore.Created> createKey(Account account, NewKey key, Actor actor) {
    return pool.withTransaction(conn -> create(conn, account.id(), key)
        .compose(created -> audit.record(conn, actor.name(), "key.create", "api_key", Long.toString(created.key().id()),
            actor.ip(), null, created.key().toJson(clock.instant())).map(created)));
  }

  private Future<ApiKeyStore.Created> create(SqlConnection conn, long accountId, NewKey key) {
    KeyBudget budget = key.budgetCredits() == null ? null : new KeyBudget(key.budgetCredits(), key.budgetPeriod(), 0);
    return keys.create(conn, accountId, key.prefix(), key.name(), key.scopes(), key.requestsPerMinute(), key.tokensPerMinute(),
        key.expiresAt(), budget, key.budgetOf());
  }

  /**
   * Sets a key's budget ({@code credits} per {@code period}: {@link KeyBudget#PERIOD} or
   * {@link KeyBudget#LIFETIME}), or removes it (nulls); every instance forgets the key's cached
   * grant at once, so the next request is admitted under the new budget. The spend so far counts.
   */
  public Future<ApiKey> setKeyBudget(long keyId, Long credits, String period, Actor actor) {
    return pool.withTransaction(conn -> key(conn, keyId).compose(old -> keys.setBudget(conn, keyId, credits, period)
            .map(Optional::orElseThrow).compose(after -> audit.record(conn, actor.name(), "key.budget", "api_key", Long.toString(keyId),
                actor.ip(), old.key().toJson(clock.instant()), after.key().toJson(clock.instant())).map(after))))
        .compose(after -> keyEvents.announceRevocation(after.hash()).map(after.key()));
  }

  /**
   * A budgeted key's spend in its current window: Redis' counter when it holds one (settled usage
   * plus what open requests hold), else the stored usage; null for a key without a budget.
   */
  public Future<Long> keySpent(ApiKey key, Account account) {
    KeyBudget b = key.budget();
    if (b == null) {
      return Future.succeededFuture(null);
    }
    return admissions.keySpend(account.id(), b.spendKeyId(), b.window(account.periodStart())).compose(hot -> hot.isPresent()
        ? Future.succeededFuture(hot.get()) : usage.keySpend(b.spendKeyId(), b.since(account.periodStart())));
  }

  public Future<List<ApiKey>> listKeys(long accountId) {
    return get(accountId).compose(this::listKeys);
  }

  /** The keys of an account the caller has read already (no second read of it). */
  public Future<List<ApiKey>> listKeys(Account account) {
    return keys.listForAccount(pool, account.id());
  }

  /** Revokes the key (again is harmless) and tells every instance to forget it. */
  public Future<ApiKey> revokeKey(long keyId, Actor actor) {
    return pool.withTransaction(conn -> key(conn, keyId).compose(old -> keys.revoke(conn, keyId).compose(after ->
            audit.record(conn, actor.name(), "key.revoke", "api_key", Long.toString(keyId), actor.ip(),
                old.key().toJson(clock.instant()), after.orElseThrow().key().toJson(clock.instant())).map(after.get()))))
        .compose(revoked -> keyEvents.announceRevocation(revoked.hash()).map(revoked.key()));
  }

  /**
   * Issues a new key like the old one and lets the old one work for {@code overlap} more; a
   * revoked key cannot be rotated.
   */
  public Future<Rotation> rotateKey(long keyId, Duration overlap, Actor actor) {
    return pool.withTransaction(conn -> key(conn, keyId).compose(found -> {
      ApiKey old = found.key();
      if (old.revokedAt() != null) {
        throw Refusal.conflict("key " + keyId + " is revoked and cannot be rotated");
      }
      if (old.replacedBy() != null) {
        // A retried rotate must not issue a second key that dies with the first one's overlap.
        throw Refusal.conflict("key " + keyId + " was already rotated: its replacement is key " + old.replacedBy()
            + " (the new key's secret was shown once, in the first answer)");
      }
      return create(conn, old.accountId(), NewKey.like(old))
          .compose(created -> keys.retire(conn, keyId, clock.instant().plus(overlap), created.key().id())
              .compose(retired -> audit.record(conn, actor.name(), "key.rotate", "api_key", Long.toString(keyId), actor.ip(),
                  old.toJson(clock.instant()), retired.key().toJson(clock.instant()).put("replacedBy", created.key().id()))
                  .map(v -> new Retired(created, retired))));
    })).compose(r -> keyEvents.announceRevocation(r.retired().hash()).map(new Rotation(r.created(), r.retired().key())));
  }

  private record Retired(ApiKeyStore.Created created, ApiKeyStore.WithHash retired) {
  }

  private Future<ApiKeyStore.WithHash> key(SqlConnection conn, long keyId) {
    return keys.get(conn, keyId).map(found -> found.orElseThrow(() -> Refusal.notFound("key " + keyId)));
  }

  // ---- credits

  /**
   * Grants (positive) or takes back (negative) credits, once per idempotency key. After the
   * commit the hot balance moves by the amount if Redis holds it, else is seeded from the ledger.
   */
  public Future<CreditChange> changeCredits(long accountId, long amount, String reason, String idempotencyKey, Actor actor) {
    return pool.withTransaction(conn -> locked(conn, accountId).compose(account -> ledger
        .record(conn, account.id(), amount, amount > 0 ? "grant" : "adjustment", reason,
            idempotencyKey == null ? null : "admin:" + account.id() + ":" + idempotencyKey, actor.name())
        .compose(applied -> !applied ? Future.succeededFuture(new Applied(account, false))
            : audit.record(conn, actor.name(), amount > 0 ? "credits.grant" : "credits.adjust", "account",
                Long.toString(account.id()), actor.ip(), null, new JsonObject().put("amount", io.tollgate.config.Credits.json(amount)).put("reason", reason))
                .map(new Applied(account, true)))))
        .compose(applied -> {
          if (!applied.changed()) {
            return admissions.balance(applied.account().id()).map(balance -> new CreditChange(false, balance.orElse(null)));
          }
          // Committed in Postgres; now the hot copy. If the account was never loaded, seed it from the ledger.
          return admissions.addCreditsIfLoaded(applied.account().id(), amount)
              .compose(hot -> hot.isPresent() ? Future.succeededFuture(hot.get())
                  : balances.seed(applied.account()).compose(v -> admissions.balance(applied.account().id()).map(x -> x.orElse(0L))))
              .map(balance -> new CreditChange(true, balance));
        });
  }

  private record Applied(Account account, boolean changed) {
  }

  /** The hot and ledger balances and the latest {@code limit} ledger transactions. */
  public Future<Credits> credits(Account account, int limit) {
    return ledger.recent(pool, account.id(), limit).compose(rows -> admissions.balance(account.id())
        .compose(hot -> ledger.spendable(pool, account).map(spendable -> new Credits(hot.orElse(null), spendable, rows))));
  }

  /** Overwrites the hot balance with the ledger's, and records that it did. */
  public Future<Rebuilt> rebuildBalance(long accountId, Actor actor) {
    return get(accountId).compose(account -> admissions.balance(accountId).compose(before -> ledger.spendable(pool, account)
        .compose(balance -> admissions.setBalance(accountId, balance)
            .compose(v -> audit.record(pool, actor.name(), "credits.rebuild", "account", Long.toString(accountId), actor.ip(),
                new JsonObject().put("balance", io.tollgate.config.Credits.json(before.orElse(null))),
                new JsonObject().put("balance", io.tollgate.config.Credits.json(balance))))
            .map(v -> new Rebuilt(before.orElse(null), balance)))));
  }
}
