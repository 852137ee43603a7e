package io.tollgate.config;

import java.time.Duration;

/**
 * Delivery of notifications to accounts' webhook URLs and by email ({@code alerts:} in the file).
 * Webhook deliveries are signed with {@code TOLLGATE_ALERT_WEBHOOK_SECRET}; without it, and without
 * {@code alerts.email}, notifications are only recorded.
 *
 * @param maxAttempts attempts per notification before it is marked failed
 * @param retryBase   wait before the second attempt; doubled for each one after
 * @param timeout     one POST (or one SMTP exchange), connect to response
 * @param email       notifications by email ({@code alerts.email}); off unless its host is set
 */
public record AlertsConfig(int maxAttempts, Duration retryBase, Duration timeout, MailConfig email) {

  /** Without email. */
  public AlertsConfig(int maxAttempts, Duration retryBase, Duration timeout) {
    this(maxAttempts, retryBase, timeout, MailConfig.off());
  }

  public static AlertsConfig defaults() {
    return new AlertsConfig(Defaults.ALERT_MAX_ATTEMPTS, Duration.ofMillis(Defaults.ALERT_RETRY_BASE_MS),
        Duration.ofMillis(Defaults.ALERT_TIMEOUT_MS));
  }
}
