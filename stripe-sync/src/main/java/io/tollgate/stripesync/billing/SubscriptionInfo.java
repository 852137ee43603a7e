package io.tollgate.stripesync.billing;

import java.time.Instant;
import java.util.List;

/**
 * A subscription as Stripe holds it now.
 *
 * @param status             incomplete, incomplete_expired, trialing, active, past_due, canceled, unpaid or paused
 * @param currentPeriodStart the earliest start among the items' current periods (recent Stripe API versions keep
 *                           periods on the items; with several billing intervals the items' periods differ)
 * @param currentPeriodEnd   the earliest end among the items' current periods: the next renewal
 * @param trialEnd           {@code null} without a trial
 * @param priceIds           the prices of the subscription's items, in Stripe's order
 */
public record SubscriptionInfo(String id, String customerId, String status, boolean cancelAtPeriodEnd, Instant currentPeriodStart,
                               Instant currentPeriodEnd, Instant trialEnd, List<String> priceIds) {

  public SubscriptionInfo {
    priceIds = List.copyOf(priceIds);
  }
}
