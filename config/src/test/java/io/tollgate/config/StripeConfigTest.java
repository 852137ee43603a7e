package io.tollgate.config;

import static io.tollgate.config.Fixtures.load;
import static io.tollgate.config.Fixtures.problemsOf;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Stripe meter sync settings")
class StripeConfigTest {

  @Test
  @DisplayName("defaults: v2 stream, event tollgate_credits, every minute, Stripe's own hosts")
  void defaults() {
    assertThat(load("").stripe()).isEqualTo(new StripeConfig("v2", "tollgate_credits", Optional.empty(), Duration.ofMinutes(1),
        URI.create("https://api.stripe.com"), URI.create("https://meter-events.stripe.com"), Duration.ofHours(24), 1));
  }

  @Test
  @DisplayName("every key can be set; base URLs lose a trailing slash")
  void set() {
    StripeConfig c = load("""
        stripe: { transport: v1, meterEventName: api_credits, meterId: mtr_123, syncIntervalMs: 500,
                  apiBase: "http://127.0.0.1:1234/", meterEventsBase: "http://127.0.0.1:1234",
                  reconcileIntervalHours: 6, driftAlertPercent: 5 }
        """).stripe();
    assertThat(c).isEqualTo(new StripeConfig("v1", "api_credits", Optional.of("mtr_123"), Duration.ofMillis(500),
        URI.create("http://127.0.0.1:1234"), URI.create("http://127.0.0.1:1234"), Duration.ofHours(6), 5));
  }

  @Test
  @DisplayName("a bad transport or a base URL with credentials is refused; the API key itself is refused in the file")
  void refused() {
    assertThat(problemsOf("stripe: { transport: v3, apiBase: 'https://user:pw@api.stripe.com' }\n")).containsExactly(
        "tollgate.yaml: stripe.transport: expected v2 | v1, got \"v3\"",
        "tollgate.yaml: stripe.apiBase: expected an http(s) URL without credentials, got \"https://user:****@api.stripe.com\"");
    assertThat(problemsOf("stripe: { apiKey: sk_test_123 }\n")).containsExactly(
        "tollgate.yaml: stripe.apiKey: secrets come only from the environment: set STRIPE_API_KEY");
  }
}
