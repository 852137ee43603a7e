package io.tollgate.stripesync.billing;

import io.tollgate.config.BillingConfig;
import io.tollgate.config.Credits;
import io.tollgate.config.PlanConfig;
import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.accounts.AccountBilling;
import io.tollgate.metering.audit.Actor;
import io.tollgate.metering.audit.AuditTrail;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;

/**
 * Stripe Checkout sessions for an account, as the admin API's {@code /checkout} and the console's
 * "Upgrade" open them: the account's Stripe customer is created (once) on first use, a plan is
 * refused while the account has a live subscription (one per account: a plan change goes through
 * the plan-change flow), and each session is audited as {@code billing.checkout}. stripe-java
 * blocks, so each Stripe call runs on a worker.
 */
public final class Checkouts {

  /**
   * What a session sells and where Stripe sends the customer after it.
   *
   * @param product        the plan's or pack's name, for the audit row
   * @param email          the new Stripe customer's email, when the account has none yet; may be {@code null}
   * @param idempotencyKey the same key (per account) returns the same session
   */
  public record Order(CheckoutRequest.Mode mode, String product, List<CheckoutRequest.LineItem> items, Map<String, String> metadata,
                      String successUrl, String cancelUrl, CheckoutRequest.Trial trial, String email, String idempotencyKey) {
    public Order {
      Objects.requireNonNull(mode, "mode");
      Objects.requireNonNull(product, "product");
      Objects.requireNonNull(successUrl, "successUrl");
      Objects.requireNonNull(cancelUrl, "cancelUrl");
      Objects.requireNonNull(idempotencyKey, "idempotencyKey");
      items = List.copyOf(items);
      metadata = Map.copyOf(metadata);
    }

    /** A subscription to {@code plan}: its first price is the base fee (quantity 1), the others metered items (no quantity). */
    public static Order plan(String name, PlanConfig plan, String successUrl, String cancelUrl, CheckoutRequest.Trial trial,
                             String email, String idempotencyKey) {
      if (plan.stripePrices().isEmpty()) {
        throw new IllegalArgumentException(name + " is not sold through Stripe (it has no stripePrices)");
      }
      List<CheckoutRequest.LineItem> items = new ArrayList<>();
      for (int i = 0; i < plan.stripePrices().size(); i++) {
        items.add(new CheckoutRequest.LineItem(plan.stripePrices().get(i), i == 0 ? 1L : null));
      }
      return new Order(CheckoutRequest.Mode.SUBSCRIPTION, name, items,
          Map.of("tollgate_kind", "subscription", "tollgate_plan", name), successUrl, cancelUrl, trial, email, idempotencyKey);
    }

    /** A one-off payment for a credit pack. */
    public static Order pack(String name, BillingConfig.CreditPack pack, String successUrl, String cancelUrl, String email,
                             String idempotencyKey) {
      return new Order(CheckoutRequest.Mode.PAYMENT, name, List.of(new CheckoutRequest.LineItem(pack.stripePrice(), 1L)),
          Map.of("tollgate_kind", "credit_pack", "tollgate_pack", name, "tollgate_credits", Credits.format(pack.credits())),
          successUrl, cancelUrl, null, email, idempotencyKey);
    }
  }

  /** The session opened, and the Stripe customer it is for. */
  public record Opened(CheckoutLink link, String stripeCustomerId) {
  }

  /** Stripe is not configured (no API key): no session can be opened. */
  public static final class StripeNotConfigured extends RuntimeException {
    StripeNotConfigured() {
      super("Stripe is not configured", null, false, false);
    }
  }

  /** The account already has a live subscription: a second plan Checkout is refused; change its plan instead. */
  public static final class SubscriptionExists extends RuntimeException {
    private final long accountId;
    private final String subscriptionId;
    private final String status;

    SubscriptionExists(long accountId, String subscriptionId, String status) {
      super("account " + accountId + " already has a live subscription, " + subscriptionId + " (" + status + ")", null, false, false);
      this.accountId = accountId;
      this.subscriptionId = subscriptionId;
      this.status = status;
    }

    public long accountId() {
      return accountId;
    }

    public String subscriptionId() {
      return subscriptionId;
    }

    public String status() {
      return status;
    }
  }

  private final BillingAdmin billing;
  private final AuditTrail audit;

  Checkouts(BillingAdmin billing, AuditTrail audit) {
    this.billing = billing;
    this.audit = audit;
  }

  /**
   * Opens a session for {@code order}. Fails with {@link StripeNotConfigured},
   * {@link SubscriptionExists} (a plan while one is live, as the account's state says it or as
   * Stripe lists the customer's: a Checkout completed moments ago whose events have not arrived),
   * or the {@link BillingFailure} of a Stripe call.
   */
  public Future<Opened> open(Vertx vertx, Account account, Order order, Actor actor) {
    return withCustomer(vertx, account, order.email(), actor)
        .compose(a -> order.mode() == CheckoutRequest.Mode.SUBSCRIPTION ? noLiveSubscription(vertx, a).map(a) : Future.succeededFuture(a))
        .compose(a -> {
          Map<String, String> meta = new HashMap<>(order.metadata());
          meta.put("tollgate_account_id", Long.toString(a.id()));
          CheckoutRequest request = new CheckoutRequest(a.stripeCustomerId(), order.mode(), order.items(), order.successUrl(),
              order.cancelUrl(), a.id(), meta, order.trial(), "tollgate-checkout-" + a.id() + "-" + order.idempotencyKey());
          StripeBilling stripe = stripe();
          return call(vertx, () -> stripe.createCheckoutSession(request)).compose(link -> audit.record(actor, "billing.checkout",
                  "account", Long.toString(a.id()), null, new JsonObject().put("sessionId", link.id())
                      .put(order.mode() == CheckoutRequest.Mode.SUBSCRIPTION ? "plan" : "pack", order.product()))
              .map(v -> new Opened(link, a.stripeCustomerId())));
        });
  }

  /** Whether the account has a live subscription as its stored billing state says (no Stripe call). */
  public Future<Boolean> hasLiveSubscription(long accountId) {
    return billing.accountBilling(accountId).map(b -> b.subscriptionId() != null && AccountBilling.live(b.subscriptionStatus()));
  }

  private StripeBilling stripe() {
    return billing.stripe().orElseThrow(StripeNotConfigured::new);
  }

  private static <T> Future<T> call(Vertx vertx, Callable<T> call) {
    return vertx.executeBlocking(call, false);
  }

  /** The account's Stripe customer, created (once, by idempotency key) on first use. */
  private Future<Account> withCustomer(Vertx vertx, Account account, String email, Actor actor) {
    if (account.stripeCustomerId() != null) {
      return Future.succeededFuture(account);
    }
    StripeBilling stripe = stripe();
    return call(vertx, () -> stripe.createCustomer(account.id(), account.name(), email, "tollgate-customer-" + account.id()))
        .compose(customer -> billing.linkCustomer(account.id(), customer, actor));
  }

  private Future<Void> noLiveSubscription(Vertx vertx, Account account) {
    return billing.accountBilling(account.id()).compose(b -> {
      if (b.subscriptionId() != null && AccountBilling.live(b.subscriptionStatus())) {
        throw new SubscriptionExists(account.id(), b.subscriptionId(), b.subscriptionStatus());
      }
      StripeBilling stripe = stripe();
      return call(vertx, () -> stripe.liveSubscriptions(account.stripeCustomerId())).map(live -> {
        if (!live.isEmpty()) {
          throw new SubscriptionExists(account.id(), live.get(0).id(), live.get(0).status());
        }
        return null;
      });
    });
  }
}
