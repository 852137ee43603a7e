package io.tollgate.metering.actions;

import io.tollgate.config.ActionCatalog;
import io.tollgate.config.PlanConfig;
import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.accounts.AccountStore;
import io.tollgate.metering.admission.ActionAdmission;
import io.tollgate.metering.admission.ActionHold;
import io.tollgate.metering.admission.AdmissionService;
import io.tollgate.metering.admission.Decision;
import io.tollgate.metering.admission.Denial;
import io.tollgate.metering.admission.Reservation;
import io.tollgate.metering.keys.KeyGrant;
import io.tollgate.metering.ledger.Balances;
import io.tollgate.metering.usage.TierAllowance;
import io.tollgate.metering.usage.UsageEvent;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Billable actions an application reports itself, without HTTP: events charged once per id,
 * reservations held before the work and committed or cancelled after, and the balance an app
 * shows. Every charge goes through the same admit and settle scripts as a proxied request (one
 * round trip each), so the balance, the allowance counters and the usage stream never disagree,
 * and the usage event reaches Postgres, rollups, alerts, auto top-up and the Stripe meter like any other.
 */
public final class ActionIngest {

  /** The route recorded on usage events reported one by one, and on committed reservations. */
  public static final String EVENTS_ROUTE = "/tollgate/v1/events";
  public static final String RESERVATIONS_ROUTE = "/tollgate/v1/reservations";
  /** How far in the future a client's timestamp may be (clock skew). */
  public static final Duration MAX_CLOCK_SKEW = Duration.ofMinutes(5);
  /** How old a client's timestamp may be: the idempotency window, so a late retry is still recognised. */
  public static final Duration MAX_EVENT_AGE = Duration.ofDays(35);

  private final ActionCatalog catalog;
  private final AdmissionService admission;
  private final Balances balances;
  private final AccountStore accounts;
  private final Pool pool;
  private final Clock clock;

  public ActionIngest(ActionCatalog catalog, AdmissionService admission, Balances balances, AccountStore accounts, Pool pool,
                      Clock clock) {
    this.catalog = catalog;
    this.admission = admission;
    this.balances = balances;
    this.accounts = accounts;
    this.pool = pool;
    this.clock = clock;
  }

  /** One reported event, its shape already checked by the edge. */
  public record Event(String id, String action, long quantity, Instant timestamp, String properties) {
  }

  /** What happened to one event (or reservation request). */
  public sealed interface Outcome permits Accepted, Duplicate, Refused {
  }

  /**
   * Charged: {@code allowanceUnits} of the quantity came from the tier's allowance, the rest cost
   * {@code credits} (ledger units: millicredits).
   */
  public record Accepted(String eventId, String action, String tier, long quantity, long allowanceUnits, long credits)
      implements Outcome {
  }

  /** The id was charged before (within the retention window): nothing is charged again. */
  public record Duplicate(String eventId) implements Outcome {
  }

  /**
   * Refused, nothing charged. {@code reason}: {@code unknown_action}, {@code action_not_allowed},
   * {@code insufficient_credits}, {@code rate_limited}, {@code bad_timestamp}, {@code unavailable}.
   */
  public record Refused(String reason, String message, long retryAfterMs) implements Outcome {
  }

  /** A reservation held: its opaque id, what it holds and until when. */
  public record Held(Reservation reservation, String id, Instant expiresAt) {
  }

  /** {@link #reserve}'s answer: held, or refused. */
  public record ReserveOutcome(Optional<Held> held, Optional<Refused> refused) {
  }

  /** {@link #commit}'s answer: charged, or the reservation is no longer held (empty). */
  public record CommitOutcome(Optional<Accepted> accepted) {
  }

  /**
   * What an app needs to draw its balance: credits, each tier's allowance this period by tier
   * (reservations held count as used), the period's end.
   */
  public record BalanceView(Account account, long credits, List<TierAllowance> allowances) {
  }

  /** Reports one event: charged once per id, allowance first, then credits. */
  public Future<Outcome> report(KeyGrant grant, PlanConfig plan, Event event) {
    Instant now = clock.instant();
    if (event.timestamp() != null && (event.timestamp().isAfter(now.plus(MAX_CLOCK_SKEW))
        || event.timestamp().isBefore(now.minus(MAX_EVENT_AGE)))) {
      return Future.succeededFuture(new Refused("bad_timestamp", "timestamp " + event.timestamp()
          + " is more than " + MAX_CLOCK_SKEW.toMinutes() + " minutes ahead or " + MAX_EVENT_AGE.toDays() + " days behind the gateway's clock", 0));
    }
    Optional<Refused> refused = checkAction(grant, event.action());
    if (refused.isPresent()) {
      return Future.succeededFuture(refused.get());
    }
    ActionCatalog.Price price = catalog.price(event.action()).orElseThrow();
    ActionAdmission a = new ActionAdmission(price.action(), price.tier(), event.quantity(), plan.allowance(price.tier()),
        price.unitCredits(), event.id());
    return admit(grant, plan, a).compose(decision -> {
      if (decision.denial() == Denial.DUPLICATE) {
        return Future.succeededFuture(new Duplicate(decision.duplicateOf()));
      }
      if (!decision.allowed()) {
        return Future.succeededFuture(refusal(decision, a));
      }
      Reservation r = decision.reservation().orElseThrow();
      String retry = "nothing was charged; its hold is released within " + admission.reservationTtl().toSeconds()
          + " s, after which the same id can be sent again";
      return settle(r, EVENTS_ROUTE, event.quantity(), event.id(), event.timestamp(), event.properties())
          .map(settled -> settled.<Outcome>map(x -> x).orElseGet(() -> new Refused("unavailable",
              "the event's hold expired before it could be charged: " + retry, 0)))
          // Admitted but not settled (Redis lost mid-event): the id's marker lives as long as the hold.
          .recover(err -> Future.succeededFuture(new Refused("unavailable", "the event could not be settled: " + retry,
              admission.reservationTtl().toMillis())));
    });
  }

  /** Holds credits (after the allowance) for {@code quantity} units of an action, before the app does the work. */
  public Future<ReserveOutcome> reserve(KeyGrant grant, PlanConfig plan, String action, long quantity) {
    Optional<Refused> refused = checkAction(grant, action);
    if (refused.isPresent()) {
      return Future.succeededFuture(new ReserveOutcome(Optional.empty(), refused));
    }
    ActionCatalog.Price price = catalog.price(action).orElseThrow();
    ActionAdmission a = new ActionAdmission(price.action(), price.tier(), quantity, plan.allowance(price.tier()), price.unitCredits(), null);
    Instant admitted = clock.instant();
    return admit(grant, plan, a).map(decision -> {
      if (!decision.allowed()) {
        return new ReserveOutcome(Optional.empty(), Optional.of(refusal(decision, a)));
      }
      Reservation r = decision.reservation().orElseThrow();
      return new ReserveOutcome(Optional.of(new Held(r, ReservationIds.of(r), admitted.plus(admission.reservationTtl()))),
          Optional.empty());
    });
  }

  /**
   * Reads a reservation id handed out by {@link #reserve}, for the key's account; empty when it is
   * not one (or another account's: the same answer, so ids of other accounts cannot be probed).
   */
  public Optional<Reservation> reservation(KeyGrant grant, String id) {
    return ReservationIds.parse(id).filter(r -> r.accountId() == grant.accountId());
  }

  /**
   * Charges a held reservation for {@code quantity} units (at most those held; null: all of them)
   * and gives back the rest. Empty when it is no longer held (committed, cancelled, or expired
   * and refunded by the sweeper): nothing is charged then.
   */
  public Future<CommitOutcome> commit(Reservation r, Long quantity) {
    long q = quantity == null ? r.action().quantity() : quantity;
    if (q < 0 || q > r.action().quantity()) {
      return Future.failedFuture(new IllegalArgumentException("quantity must be 0-" + r.action().quantity()
          + " (what the reservation holds)"));
    }
    return settle(r, RESERVATIONS_ROUTE, q, null, null, null).map(CommitOutcome::new);
  }

  /** Releases a held reservation; false when it was no longer held. */
  public Future<Boolean> cancel(Reservation r) {
    return admission.cancel(r);
  }

  /** The key's account's credits, allowances left per tier this period, and the period. */
  public Future<BalanceView> balance(KeyGrant grant, PlanConfig plan) {
    return accounts.get(pool, grant.accountId()).compose(found -> {
      Account account = found.orElseThrow(() -> new IllegalStateException("the key's account no longer exists"));
      List<String> tiers = catalog.tiers().keySet().stream().sorted().toList();
      return balances.spendable(account).compose(credits -> balances.allowancesUsed(account, tiers)
          .map(used -> new BalanceView(account, credits, TierAllowance.of(tiers, plan::allowance, used))));
    });
  }

  private Optional<Refused> checkAction(KeyGrant grant, String action) {
    if (catalog.price(action).isEmpty()) {
      return Optional.of(new Refused("unknown_action", "action " + action + " is not configured (known: "
          + String.join(", ", catalog.actions().keySet().stream().sorted().toList()) + ")", 0));
    }
    if (!grant.allowsAction(action)) {
      return Optional.of(new Refused("action_not_allowed", "this API key may not report action " + action, 0));
    }
    return Optional.empty();
  }

  private Future<Decision> admit(KeyGrant grant, PlanConfig plan, ActionAdmission a) {
    return admission.admit(admission.actionRequest(grant, plan, a));
  }

  private static Refused refusal(Decision d, ActionAdmission a) {
    if (d.denial().isRateLimit() || d.denial() == Denial.TOO_LARGE) {
      return new Refused("rate_limited", "rate limit reached (" + d.denial().code() + ")", d.retryAfterMs());
    }
    if (d.denial() == Denial.CREDITS) {
      return new Refused("insufficient_credits", "not enough credits for " + a.quantity() + " × " + a.action()
          + " beyond the allowance; the spendable balance is " + io.tollgate.config.Credits.format(Math.max(0, d.balance()))
          + " credits", 0);
    }
    if (d.denial() == Denial.KEY_BUDGET) {
      // A key's budget covers everything it spends, proxied requests and billable actions alike.
      return new Refused("key_budget_exhausted", "this API key's credit budget cannot cover " + a.quantity() + " × " + a.action()
          + "; the account's other keys are not affected", 0);
    }
    return new Refused("unavailable", "the account's balance could not be loaded", 1_000);
  }

  /**
   * Settles a held reservation for {@code quantity} units: the allowance units it holds cover
   * the first of them, the rest cost the unit price.
   */
  private Future<Optional<Accepted>> settle(Reservation r, String route, long quantity, String ingestId, Instant reportedAt,
                                            String properties) {
    ActionHold hold = r.action();
    // The unit price is the one the reservation was priced at (the configuration may have changed since).
    long paidUnits = hold.quantity() - hold.fromAllowance();
    long unitCredits = paidUnits == 0 ? 0 : r.credits() / paidUnits;
    long fromAllowance = Math.min(quantity, hold.fromAllowance());
    long credits = Math.multiplyExact(quantity - fromAllowance, unitCredits);
    UsageEvent event = new UsageEvent(r.eventId(), r.accountId(), r.keyId(), route, null, 0, 0, credits, 200, -1, false, "ok",
        clock.millis(), 0, new UsageEvent.ActionUsage(hold.action(), hold.tier(), quantity, fromAllowance, ingestId,
        reportedAt == null ? null : reportedAt.toEpochMilli(), properties));
    return admission.settleAction(r, event).map(settled -> settled.held()
        ? Optional.of(new Accepted(r.eventId().toString(), hold.action(), hold.tier(), quantity, fromAllowance, credits))
        : Optional.empty());
  }
}
