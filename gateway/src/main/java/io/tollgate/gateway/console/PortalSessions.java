package io.tollgate.gateway.console;

import io.tollgate.config.TollgateConfig;
import io.tollgate.metering.accounts.Account;
import io.tollgate.stripesync.billing.BillingAdmin;
import io.tollgate.stripesync.billing.StripeBilling;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.net.URI;
import java.util.UUID;

/** Stripe Customer Portal sessions for an account, as the admin API's {@code /portal} makes them (stripe-java blocks: a worker runs it). */
final class PortalSessions {

  private final BillingAdmin billing;
  private final TollgateConfig config;

  PortalSessions(BillingAdmin billing, TollgateConfig config) {
    this.billing = billing;
    this.config = config;
  }

  /** Stripe is configured and the account has a Stripe customer. */
  boolean available(Account account) {
    return billing.stripe().isPresent() && account.stripeCustomerId() != null;
  }

  /** A portal session's URL; back to {@code billing.portalReturnUrl}, else to {@code fallbackReturn}. */
  Future<String> create(Vertx vertx, Account account, String fallbackReturn) {
    StripeBilling stripe = billing.stripe().orElseThrow();
    String back = config.billing().portalReturnUrl().map(URI::toString).orElse(fallbackReturn);
    return vertx.executeBlocking(() -> stripe.createPortalSession(account.stripeCustomerId(), back,
        "tollgate-portal-" + account.id() + "-" + UUID.randomUUID()), false);
  }
}
