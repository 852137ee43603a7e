package io.tollgate.config;

import java.util.Optional;

/**
 * Secrets Tollgate itself uses, all read from the environment only (never from the file).
 *
 * @param adminToken          {@code TOLLGATE_ADMIN_TOKEN}: bearer token of the admin API
 * @param stripeApiKey        {@code STRIPE_API_KEY}
 * @param stripeWebhookSecret {@code STRIPE_WEBHOOK_SECRET}: verifies {@code Stripe-Signature}
 * @param alertWebhookSecret  {@code TOLLGATE_ALERT_WEBHOOK_SECRET}: signs usage alerts posted to accounts' webhooks
 */
public record Secrets(Optional<Secret> adminToken, Optional<Secret> stripeApiKey, Optional<Secret> stripeWebhookSecret,
                      Optional<Secret> alertWebhookSecret) {

  public Secrets(Optional<Secret> adminToken, Optional<Secret> stripeApiKey, Optional<Secret> stripeWebhookSecret) {
    this(adminToken, stripeApiKey, stripeWebhookSecret, Optional.empty());
  }
}
