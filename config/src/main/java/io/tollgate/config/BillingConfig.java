package io.tollgate.config;

import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * Subscriptions, webhooks, credit packs and dunning ({@code billing:} in the file). The webhook
 * signing secrets and the Stripe API key come from the environment ({@link Secrets}).
 *
 * @param webhookTolerance     how old a {@code Stripe-Signature} timestamp may be; older deliveries
 *                             are refused as replays
 * @param webhookMaxAttempts   processing attempts of a stored event before it is parked
 * @param webhookRetryBase     first retry delay of a failed event; doubles with each attempt (capped at an hour)
 * @param gracePeriod          how long a past-due account keeps its plan before it is moved to the free plan
 * @param autoTopUpCooldown    least time between two automatic top-ups of one account
 * @param checkoutSuccessUrl   where Checkout sends the customer after paying, unless the request names one
 * @param checkoutCancelUrl    where Checkout sends the customer who gives up, unless the request names one
 * @param portalReturnUrl      where the Customer Portal's "return" link goes, unless the request names one
 * @param creditPacks          credit packs for sale, by name
 * @param trialDays            length of a free trial when a Checkout request asks for one without naming its length
 */
public record BillingConfig(Duration webhookTolerance, int webhookMaxAttempts, Duration webhookRetryBase, Duration gracePeriod,
                            Duration autoTopUpCooldown, Optional<URI> checkoutSuccessUrl, Optional<URI> checkoutCancelUrl,
                            Optional<URI> portalReturnUrl, Map<String, CreditPack> creditPacks, int trialDays) {

  public BillingConfig {
    creditPacks = Map.copyOf(creditPacks);
  }

  /**
   * A pack of credits sold for a one-off payment.
   *
   * @param credits     credits granted once the payment succeeds, in units ({@link Credits})
   * @param stripePrice the one-off Stripe price Checkout sells it with
   * @param amount      its price in the currency's smallest unit, charged off-session by auto top-up
   * @param currency    ISO code, lower case (usd)
   */
  public record CreditPack(String name, long credits, String stripePrice, long amount, String currency) {
  }

  public static BillingConfig defaults() {
    return new BillingConfig(Duration.ofSeconds(Defaults.WEBHOOK_TOLERANCE_SECONDS), Defaults.WEBHOOK_MAX_ATTEMPTS,
        Duration.ofMillis(Defaults.WEBHOOK_RETRY_BASE_MS), Duration.ofDays(Defaults.GRACE_PERIOD_DAYS),
        Duration.ofMinutes(Defaults.AUTO_TOP_UP_COOLDOWN_MINUTES), Optional.empty(), Optional.empty(), Optional.empty(), Map.of(),
        (int) Defaults.TRIAL_DAYS);
  }
}
