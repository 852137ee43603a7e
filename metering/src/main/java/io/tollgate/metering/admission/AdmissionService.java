package io.tollgate.metering.admission;

import io.tollgate.config.PlanConfig;
import io.tollgate.config.PricingConfig;
import io.tollgate.metering.keys.KeyBudget;
import io.tollgate.metering.keys.KeyGrant;
import io.tollgate.metering.usage.UsageEvent;
import io.tollgate.metering.usage.UuidV7;
import io.vertx.core.Future;
import java.time.Clock;
import java.util.function.LongFunction;

/**
 * Admission and pricing rules of the hot path, without HTTP: which limits apply to a key (the
 * key's, else the account's, else its plan's), what a request reserves (its worst case), which
 * credit policy its billing mode calls for; then the atomic admit and settle scripts.
 */
public final class AdmissionService {

  private final Admissions admissions;
  private final Pricing pricing;
  private final LongFunction<Future<Void>> seedFromLedger;
  private final KeySpendSource keySpendSource;
  private final Clock clock;

  /** A key's settled spend since a time, from Postgres: what seeds its budget counter when Redis has none. */
  @FunctionalInterface
  public interface KeySpendSource {
    Future<Long> spentSince(long accountId, long spendKeyId, java.time.Instant since);
  }

  /**
   * @param seedFromLedger loads an account's hot balance from the ledger, for an admission that
   *                       finds none in Redis (after a Redis restart, say)
   */
  public AdmissionService(Admissions admissions, PricingConfig pricing, LongFunction<Future<Void>> seedFromLedger, Clock clock) {
    this(admissions, pricing, seedFromLedger, (account, key, since) -> Future.succeededFuture(0L), clock);
  }

  /** @param keySpendSource a key's settled spend from Postgres, for a key budget whose counter Redis does not hold */
  public AdmissionService(Admissions admissions, PricingConfig pricing, LongFunction<Future<Void>> seedFromLedger,
                          KeySpendSource keySpendSource, Clock clock) {
    this.admissions = admissions;
    this.pricing = new Pricing(pricing);
    this.seedFromLedger = seedFromLedger;
    this.keySpendSource = keySpendSource;
    this.clock = clock;
  }

  /**
   * The admission a request needs. A metered request reserves the price of its input estimate
   * and its maximum output plus the route's flat cost; an unmetered one only the flat cost.
   */
  public AdmissionRequest request(KeyGrant grant, PlanConfig plan, boolean metered, String model, long inputEstimate,
                                  long maxOutput, long estimatedTokens, long flatCost) {
    long reserve = metered ? pricing.cost(model, inputEstimate, maxOutput, flatCost) : flatCost;
    return admission(grant, plan, true, metered ? estimatedTokens : 0, reserve, null);
  }

  /**
   * What a proxied request and a billable action are admitted under alike: the key's limits, the
   * account's (its own, else its plan's), the credit policy its billing mode calls for, the overage
   * cap and the key's budget. {@code tokenLimits}: whether the tokens-per-minute limits apply (a
   * billable action has no tokens, so they are 0 for it).
   */
  private AdmissionRequest admission(KeyGrant grant, PlanConfig plan, boolean tokenLimits, long estimatedTokens, long reserve,
                                     ActionAdmission action) {
    Limits keyLimits = new Limits(orZero(grant.keyRequestsPerMinute()), tokenLimits ? orZero(grant.keyTokensPerMinute()) : 0);
    long accountTokens = grant.accountTokensPerMinute() != null ? grant.accountTokensPerMinute() : plan.tokensPerMinute();
    Limits accountLimits = new Limits(
        grant.accountRequestsPerMinute() != null ? grant.accountRequestsPerMinute() : plan.requestsPerMinute(),
        tokenLimits ? accountTokens : 0);
    CreditPolicy policy = CreditPolicy.of(grant.enforcesCredits(), plan.billsOverage(grant.billingMode()));
    // A hybrid account's spend cap bounds its overage per period; without one the overage is unbounded.
    long overageCap = policy == CreditPolicy.CHARGE && grant.spendCap() != null ? grant.spendCap() : -1;
    return new AdmissionRequest(UuidV7.at(clock.millis()), grant.accountId(), grant.keyId(), keyLimits, accountLimits,
        estimatedTokens, reserve, policy, overageCap, action, keySpend(grant));
  }

  /** The key's budget for this request (its window by the account's current period), null when it has none. */
  private static KeySpend keySpend(KeyGrant grant) {
    KeyBudget budget = grant.budget();
    return budget == null || grant.accountPeriodStart() == null ? null : new KeySpend(budget.spendKeyId(),
        budget.window(grant.accountPeriodStart()), budget.credits(), budget.since(grant.accountPeriodStart()));
  }

  /**
   * The admission of a billable action (the ingest API): the key's and account's request limits
   * apply (one request per event or reservation, no tokens), and the credits are reserved by the
   * script, after the tier's allowance. An action with credits of its own reserves
   * {@code quantity × unitCredits}.
   */
  public AdmissionRequest actionRequest(KeyGrant grant, PlanConfig plan, ActionAdmission action) {
    // With a tier the script prices what the allowance leaves; without one the whole quantity is paid.
    long reserve = action.tier() == null ? Math.multiplyExact(action.quantity(), action.unitCredits()) : 0;
    return admission(grant, plan, false, 0, reserve, action);
  }

  /**
   * One atomic admission. What Redis does not hold is loaded first and the admission tried again:
   * the account's balance from the ledger, then a budgeted key's spend from its stored usage.
   */
  public Future<Decision> admit(AdmissionRequest request) {
    return admissions.admit(request).compose(d -> seeded(request, d)).compose(d -> seeded(request, d));
  }

  private Future<Decision> seeded(AdmissionRequest request, Decision d) {
    if (d.denial() == Denial.UNSEEDED) {
      return seedFromLedger.apply(request.accountId()).compose(v -> admissions.admit(request));
    }
    if (d.denial() == Denial.KEY_BUDGET_UNSEEDED) {
      KeySpend spend = request.keySpend();
      return keySpendSource.spentSince(request.accountId(), spend.spendKeyId(), spend.since())
          .compose(spent -> admissions.seedKeySpend(request.accountId(), spend, spent))
          .compose(v -> admissions.admit(request));
    }
    return Future.succeededFuture(d);
  }

  /** How long a reservation is held before the sweeper refunds it. */
  public java.time.Duration reservationTtl() {
    return admissions.reservationTtl();
  }

  /** The credits a request costs once its usage is known. */
  public long cost(String model, long inputTokens, long outputTokens, long flatCost) {
    return pricing.cost(model, inputTokens, outputTokens, flatCost);
  }

  /** Settles a billable action's reservation (only while held); answers whether it was. */
  public Future<Admissions.Settled> settleAction(Reservation reservation, UsageEvent event) {
    return admissions.settleDetailed(reservation, event);
  }

  /** Cancels a billable action's reservation; false when it was no longer held. */
  public Future<Boolean> cancel(Reservation reservation) {
    return admissions.cancel(reservation);
  }

  /** Settles a reservation with the usage event that records it; answers the balance after. */
  public Future<Long> settle(Reservation reservation, UsageEvent event) {
    return admissions.settle(reservation, event);
  }

  private static long orZero(Long value) {
    return value == null ? 0 : value;
  }
}
