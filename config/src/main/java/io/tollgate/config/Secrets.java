package io.tollgate.config;

import java.util.Optional;

/**
 * Secrets Tollgate itself uses, all read from the environment only (never from the file).
 *
 * @param adminToken          {@code TOLLGATE_ADMIN_TOKEN}: bearer token of the admin API
 * @param stripeApiKey        {@code STRIPE_API_KEY}
 * @param stripeWebhookSecret {@code STRIPE_WEBHOOK_SECRET}: verifies {@code Stripe-Signature}; several
 *                            secrets separated by commas during a rotation (a delivery signed with any passes)
 * @param alertWebhookSecret  {@code TOLLGATE_ALERT_WEBHOOK_SECRET}: signs usage alerts posted to accounts' webhooks
 */
public record Secrets(Optional<Secret> adminToken, Optional<Secret> stripeApiKey, Optional<Secret> stripeWebhookSecret,
                      Optional<Secret> alertWebhookSecret) {

  public Secrets(Optional<Secret> adminToken, Optional<Secret> stripeApiKey, Optional<Secret> stripeWebhookSecret) {
    this(adminToken, stripeApiKey, stripeWebhookSecret, Optional.empty());
  }

  /** The webhook signing secrets, in the order given; empty when webhooks are not configured. */
  public java.util.List<Secret> stripeWebhookSecrets() {
    return stripeWebhookSecret.map(s -> java.util.Arrays.stream(s.reveal().split(","))
        .map(String::trim).filter(v -> !v.isEmpty()).map(Secret::of).toList()).orElse(java.util.List.of());
  }
}
