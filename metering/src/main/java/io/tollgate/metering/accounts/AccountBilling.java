package io.tollgate.metering.accounts;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import java.time.Instant;
import java.util.List;

/**
 * An account's Stripe side ({@code account_billing}): what Stripe last said about its subscription
 * and payment method, dunning state and auto top-up settings. The hot path never reads it: plan
 * and status changes are written to the account itself.
 *
 * @param subscriptionEventAt  {@code created} of the newest subscription event applied
 * @param paymentMethodEventAt {@code created} of the newest payment-method event applied
 * @param graceUntil           past due: the plan is kept until then
 */
public record AccountBilling(long accountId, String email, String subscriptionId, String subscriptionStatus,
                             List<String> subscriptionPrices, boolean cancelAtPeriodEnd, Instant currentPeriodEnd, Instant trialEnd,
                             Instant subscriptionEventAt, Instant graceUntil, String defaultPaymentMethod,
                             Instant paymentMethodEventAt, String autoTopUpPack, Long autoTopUpThreshold, boolean autoTopUpPaused) {

  public static final String COLUMNS = "account_id, email, stripe_subscription_id, subscription_status, subscription_prices, "
      + "cancel_at_period_end, current_period_end, trial_end, subscription_event_at, grace_until, default_payment_method, "
      + "payment_method_event_at, auto_top_up_pack, auto_top_up_threshold, auto_top_up_paused";

  public AccountBilling {
    subscriptionPrices = List.copyOf(subscriptionPrices);
  }

  public static AccountBilling empty(long accountId) {
    return new AccountBilling(accountId, null, null, null, List.of(), false, null, null, null, null, null, null, null, null, false);
  }

  static AccountBilling from(Row r) {
    String[] prices = r.getArrayOfStrings("subscription_prices");
    return new AccountBilling(r.getLong("account_id"), r.getString("email"), r.getString("stripe_subscription_id"),
        r.getString("subscription_status"), prices == null ? List.of() : List.of(prices), r.getBoolean("cancel_at_period_end"),
        Account.instant(r, "current_period_end"), Account.instant(r, "trial_end"), Account.instant(r, "subscription_event_at"),
        Account.instant(r, "grace_until"), r.getString("default_payment_method"), Account.instant(r, "payment_method_event_at"),
        r.getString("auto_top_up_pack"), r.getLong("auto_top_up_threshold"), r.getBoolean("auto_top_up_paused"));
  }

  /** Stripe statuses under which a subscription still entitles to its plan (past due: within the grace period). */
  public static boolean live(String stripeStatus) {
    return "active".equals(stripeStatus) || "trialing".equals(stripeStatus) || "past_due".equals(stripeStatus);
  }

  public AccountBilling withSubscription(String id, String status, List<String> prices, boolean cancelAtPeriodEnd,
                                         Instant currentPeriodEnd, Instant trialEnd, Instant eventAt) {
    return new AccountBilling(accountId, email, id, status, prices, cancelAtPeriodEnd, currentPeriodEnd, trialEnd, eventAt, graceUntil,
        defaultPaymentMethod, paymentMethodEventAt, autoTopUpPack, autoTopUpThreshold, autoTopUpPaused);
  }

  public AccountBilling withGraceUntil(Instant until) {
    return new AccountBilling(accountId, email, subscriptionId, subscriptionStatus, subscriptionPrices, cancelAtPeriodEnd,
        currentPeriodEnd, trialEnd, subscriptionEventAt, until, defaultPaymentMethod, paymentMethodEventAt, autoTopUpPack,
        autoTopUpThreshold, autoTopUpPaused);
  }

  public AccountBilling withEmail(String newEmail) {
    return new AccountBilling(accountId, newEmail, subscriptionId, subscriptionStatus, subscriptionPrices, cancelAtPeriodEnd,
        currentPeriodEnd, trialEnd, subscriptionEventAt, graceUntil, defaultPaymentMethod, paymentMethodEventAt, autoTopUpPack,
        autoTopUpThreshold, autoTopUpPaused);
  }

  /** A new default payment method also lifts a pause of auto top-up: the failed card is no longer the one charged. */
  public AccountBilling withPaymentMethod(String paymentMethod, Instant eventAt) {
    boolean changed = paymentMethod != null && !paymentMethod.equals(defaultPaymentMethod);
    return new AccountBilling(accountId, email, subscriptionId, subscriptionStatus, subscriptionPrices, cancelAtPeriodEnd,
        currentPeriodEnd, trialEnd, subscriptionEventAt, graceUntil, paymentMethod, eventAt, autoTopUpPack, autoTopUpThreshold,
        autoTopUpPaused && !changed);
  }

  public AccountBilling withAutoTopUp(String pack, Long threshold, boolean paused) {
    return new AccountBilling(accountId, email, subscriptionId, subscriptionStatus, subscriptionPrices, cancelAtPeriodEnd,
        currentPeriodEnd, trialEnd, subscriptionEventAt, graceUntil, defaultPaymentMethod, paymentMethodEventAt, pack, threshold, paused);
  }

  public JsonObject subscriptionJson() {
    return new JsonObject().put("id", subscriptionId).put("status", subscriptionStatus)
        .put("prices", new JsonArray(subscriptionPrices)).put("cancelAtPeriodEnd", cancelAtPeriodEnd)
        .put("currentPeriodEnd", str(currentPeriodEnd)).put("trialEnd", str(trialEnd)).put("graceUntil", str(graceUntil));
  }

  public JsonObject autoTopUpJson() {
    return autoTopUpPack == null ? null : new JsonObject().put("pack", autoTopUpPack).put("thresholdCredits", io.tollgate.config.Credits.json(autoTopUpThreshold))
        .put("paused", autoTopUpPaused);
  }

  private static String str(Instant t) {
    return t == null ? null : t.toString();
  }
}
