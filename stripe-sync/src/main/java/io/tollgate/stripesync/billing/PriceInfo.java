package io.tollgate.stripesync.billing;

/**
 * A Stripe price as Stripe holds it now, for showing a plan's price (a pricing page).
 *
 * @param unitAmount    in the currency's smallest unit (cents); {@code null} for tiered or custom-amount prices
 * @param type          {@code recurring} or {@code one_time}
 * @param interval      day, week, month or year; {@code null} for a one-time price
 * @param intervalCount how many intervals one billing period spans; {@code null} for a one-time price
 * @param usageType     {@code licensed} (a fee) or {@code metered} (billed from a meter); {@code null} for a one-time price
 */
public record PriceInfo(String id, boolean active, String currency, Long unitAmount, String type, String interval,
                        Long intervalCount, String usageType, String nickname) {
}
