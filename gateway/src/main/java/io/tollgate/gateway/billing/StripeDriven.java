package io.tollgate.gateway.billing;

/** Which accounts' billing periods follow their Stripe subscription's invoices rather than the calendar. */
final class StripeDriven {

  /**
   * Over {@code accounts a LEFT JOIN account_billing b}: a live subscription whose grace period
   * (if any) is not over, or any past-due account (it waits for a payment or for dunning; rolling
   * it over would grant its paid plan's credits unpaid). Once dunning has moved the account to the
   * free plan, the calendar takes over again.
   */
  static final String SQL = "coalesce(a.status = 'past_due' OR (b.subscription_status IN ('active', 'trialing', 'past_due') "
      + "AND (b.grace_until IS NULL OR b.grace_until > now())), false)";

  private StripeDriven() {
  }
}
