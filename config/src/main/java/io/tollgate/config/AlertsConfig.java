package io.tollgate.config;

import java.time.Duration;

/**
 * Delivery of usage alerts to accounts' webhook URLs ({@code alerts:} in the file). Deliveries
 * are signed with {@code TOLLGATE_ALERT_WEBHOOK_SECRET}; without it, alerts are only recorded.
 *
 * @param maxAttempts attempts per notification before it is marked failed
 * @param retryBase   wait before the second attempt; doubled for each one after
 * @param timeout     one POST, connect to response
 */
public record AlertsConfig(int maxAttempts, Duration retryBase, Duration timeout) {

  public static AlertsConfig defaults() {
    return new AlertsConfig(Defaults.ALERT_MAX_ATTEMPTS, Duration.ofMillis(Defaults.ALERT_RETRY_BASE_MS),
        Duration.ofMillis(Defaults.ALERT_TIMEOUT_MS));
  }
}
