package io.tollgate.config;

import java.util.Optional;

/** Secrets Tollgate itself uses, all from the environment. */
public record Secrets(Optional<Secret> adminToken, Optional<Secret> stripeApiKey, Optional<Secret> stripeWebhookSecret) {
}
