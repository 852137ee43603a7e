package io.tollgate.config;

import java.net.URI;
import java.time.Duration;
import java.util.Optional;

/**
 * Stripe meter sync ({@code stripe:} in the file). Runs only when {@code STRIPE_API_KEY} is set.
 *
 * @param transport          {@code v2}: the high-throughput meter event stream (sessions, up to 100
 *                           events per call); {@code v1}: {@code POST /v1/billing/meter_events}, one
 *                           event per call, serialised per customer and meter
 * @param meterEventName     the event name of the Stripe meter that receives usage credits
 * @param meterId            the meter's id ({@code mtr_...}); needed for reconciliation only
 * @param syncInterval       how often unsent usage is cut into a batch and sent
 * @param apiBase            Stripe's API base URL (changed for tests and proxies)
 * @param meterEventsBase    the v2 meter event stream's base URL
 * @param reconcileInterval  how often the reconciliation job runs (it also runs on demand)
 * @param driftAlertPercent  reconciliation drift above which the alert metric is raised
 */
public record StripeConfig(String transport, String meterEventName, Optional<String> meterId, Duration syncInterval,
                           URI apiBase, URI meterEventsBase, Duration reconcileInterval, long driftAlertPercent) {

  public static StripeConfig defaults() {
    return new StripeConfig("v2", Defaults.STRIPE_METER_EVENT_NAME, Optional.empty(), Duration.ofMillis(Defaults.STRIPE_SYNC_INTERVAL_MS),
        URI.create(Defaults.STRIPE_API_BASE), URI.create(Defaults.STRIPE_METER_EVENTS_BASE),
        Duration.ofHours(Defaults.STRIPE_RECONCILE_HOURS), Defaults.STRIPE_DRIFT_ALERT_PERCENT);
  }
}
