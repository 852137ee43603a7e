package io.tollgate.gateway.console;

import io.tollgate.config.PlanConfig;
import io.tollgate.config.TollgateConfig;
import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.audit.Actor;
import io.tollgate.stripesync.billing.BillingAdmin;
import io.tollgate.stripesync.billing.BillingFailure;
import io.tollgate.stripesync.billing.Checkouts;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Checkout sessions for a plan, through the same domain call as the admin API's {@code /checkout}
 * ({@link Checkouts}): the customer page's "Upgrade" and the account page's Checkout link.
 */
final class CheckoutSessions {

  /** A form's one-time value: the same value (a double click, a resent form) opens the same session. */
  private static final Pattern ONCE = Pattern.compile("[A-Za-z0-9_-]{8,64}");

  private final BillingAdmin billing;
  private final TollgateConfig config;

  CheckoutSessions(BillingAdmin billing, TollgateConfig config) {
    this.billing = billing;
    this.config = config;
  }

  /** The plans sold through Stripe (those with {@code stripePrices}), by name. */
  List<String> plans() {
    return config.plans().entrySet().stream().filter(e -> !e.getValue().stripePrices().isEmpty()).map(Map.Entry::getKey).sorted().toList();
  }

  /** Stripe is configured and some plan is sold through it. */
  boolean available() {
    return billing.stripe().isPresent() && !plans().isEmpty();
  }

  /** Whether the account's stored billing state has a live subscription (then a plan change, not a Checkout). */
  Future<Boolean> subscribed(Account account) {
    return billing.checkouts().hasLiveSubscription(account.id());
  }

  /** The configured return pages, else {@code fallbackSuccess} and {@code fallbackCancel}. */
  String successUrl(String fallback) {
    return config.billing().checkoutSuccessUrl().map(URI::toString).orElse(fallback);
  }

  String cancelUrl(String fallback) {
    return config.billing().checkoutCancelUrl().map(URI::toString).orElse(fallback);
  }

  /** The configured return pages, when both are set (the operator's link has no page of its own to return to). */
  Optional<String[]> configuredReturns() {
    return config.billing().checkoutSuccessUrl().flatMap(s -> config.billing().checkoutCancelUrl().map(c -> new String[] {s.toString(), c.toString()}));
  }

  /** A valid one-time value from a form, else a fresh one (each submission a session of its own). */
  static String once(String given) {
    return given != null && ONCE.matcher(given).matches() ? given : Signer.random(12);
  }

  /** Opens a session for {@code plan} (one of {@link #plans()}). */
  Future<Checkouts.Opened> open(Vertx vertx, Account account, String plan, String success, String cancel, String once, Actor actor) {
    PlanConfig p = config.plans().get(plan);
    return billing.checkouts().open(vertx, account, Checkouts.Order.plan(plan, p, success, cancel, null, null, "console-" + plan + "-" + once), actor);
  }

  /** What to tell the person who asked, for a Checkout that could not be opened; {@code null} for an unexpected failure. */
  static String refusal(Throwable err, boolean operator) {
    if (err instanceof Checkouts.SubscriptionExists e) {
      return operator
          ? "Account " + e.accountId() + " already has a live subscription (" + e.subscriptionId() + ", " + e.status()
              + "): change its plan through the plan change (admin API POST /admin/v1/accounts/" + e.accountId()
              + "/plan-change) or cancel it first; a second Checkout would bill twice."
          : "You already have a subscription: change your plan with Manage billing.";
    }
    if (err instanceof Checkouts.StripeNotConfigured) {
      return operator ? "Stripe is not configured: set STRIPE_API_KEY to open Checkout sessions." : "Billing is not set up for this account yet.";
    }
    if (err instanceof BillingFailure f) {
      return operator ? "Stripe refused the Checkout session: " + f.getMessage() : "Billing could not be opened just now; try again in a moment.";
    }
    return null;
  }
}
