package io.tollgate.config;

import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Recognises keys that look like secrets, so that a credential pasted into the file is refused
 * with a pointer to the environment variable that must hold it, not merely called "unknown".
 */
final class SecretKeys {

  /** Normalised key (lower case, no '-' or '_') → the variable to set instead. */
  private static final Map<String, String> KNOWN = Map.of(
      "admintoken", "TOLLGATE_ADMIN_TOKEN",
      "stripeapikey", "STRIPE_API_KEY",
      "stripesecretkey", "STRIPE_API_KEY",
      "stripekey", "STRIPE_API_KEY",
      "webhooksecret", "STRIPE_WEBHOOK_SECRET",
      "stripewebhooksecret", "STRIPE_WEBHOOK_SECRET",
      "alertwebhooksecret", "TOLLGATE_ALERT_WEBHOOK_SECRET");

  private static final Pattern LOOKS_SECRET =
      Pattern.compile(".*(token|secret|password|passwd|apikey|credential|credentials)$");
  private static final Pattern ROUTE_CREDENTIAL =
      Pattern.compile("(upstream)?(key|apikey|token|bearertoken|authorization|secret|password)");

  private SecretKeys() {
  }

  /** Where the secret a key like this belongs, or empty if the key does not look like a secret. */
  static Optional<String> whereToSet(String sectionPath, String key) {
    String k = key.toLowerCase(Locale.ROOT).replace("-", "").replace("_", "");
    if (sectionPath.startsWith("routes[") && ROUTE_CREDENTIAL.matcher(k).matches()) {
      return Optional.of("an environment variable and name it in " + sectionPath + ".upstreamKeyEnv");
    }
    if (sectionPath.equals("redis") && LOOKS_SECRET.matcher(k).matches()) {
      return Optional.of("REDIS_URL (redis://:PASSWORD@host:6379)");
    }
    if (sectionPath.equals("postgres") && LOOKS_SECRET.matcher(k).matches()) {
      return Optional.of("DATABASE_URL (postgresql://user:PASSWORD@host:5432/db)");
    }
    if ((sectionPath.equals("stripe") || sectionPath.equals("billing")) && (LOOKS_SECRET.matcher(k).matches() || k.endsWith("key"))) {
      return Optional.of(k.contains("webhook") ? "STRIPE_WEBHOOK_SECRET" : "STRIPE_API_KEY");
    }
    if (sectionPath.equals("alerts.email") && LOOKS_SECRET.matcher(k).matches()) {
      return Optional.of("TOLLGATE_SMTP_PASSWORD");
    }
    if (sectionPath.equals("alerts") && LOOKS_SECRET.matcher(k).matches()) {
      return Optional.of("TOLLGATE_ALERT_WEBHOOK_SECRET");
    }
    if (KNOWN.containsKey(k)) {
      return Optional.of(KNOWN.get(k));
    }
    if (LOOKS_SECRET.matcher(k).matches()) {
      return Optional.of("it in an environment variable (see the secrets table in docs/configuration.md)");
    }
    return Optional.empty();
  }
}
