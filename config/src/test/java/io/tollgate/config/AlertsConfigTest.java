package io.tollgate.config;

import static io.tollgate.config.Fixtures.load;
import static io.tollgate.config.Fixtures.problemsOf;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Usage alerts: plan thresholds, delivery settings and the signing secret")
class AlertsConfigTest {

  @Test
  @DisplayName("plans alert at 50/80/95/100 % unless they say otherwise; given thresholds are sorted and deduplicated")
  void thresholds() {
    TollgateConfig c = load("""
        plans:
          free: { requestsPerMinute: 1, tokensPerMinute: 1, includedCredits: 1 }
          pro: { requestsPerMinute: 1, tokensPerMinute: 1, includedCredits: 1, alertThresholds: [90, 25, 90, 150] }
        """);
    assertThat(c.plan("free").alertThresholds()).containsExactly(50, 80, 95, 100);
    assertThat(c.plan("pro").alertThresholds()).containsExactly(25, 90, 150);
  }

  @Test
  @DisplayName("a threshold that is not a percentage 1-1000 is refused, naming its position")
  void badThreshold() {
    assertThat(problemsOf("""
        plans:
          free: { requestsPerMinute: 1, tokensPerMinute: 1, includedCredits: 1, alertThresholds: [50, 0, "80"] }
        """)).containsExactly(
        "tollgate.yaml: plans.free.alertThresholds: expected percentages 1-1000, got 0 at position 1",
        "tollgate.yaml: plans.free.alertThresholds: expected percentages 1-1000, got \"80\" at position 2");
  }

  @Test
  @DisplayName("alerts: delivery settings default to 6 attempts from 5 s, 10 s per POST, and can be set")
  void delivery() {
    assertThat(load("").alerts()).isEqualTo(new AlertsConfig(6, Duration.ofSeconds(5), Duration.ofSeconds(10)));
    assertThat(load("alerts: { maxAttempts: 3, retryBaseMs: 50, timeoutMs: 200 }\n").alerts())
        .isEqualTo(new AlertsConfig(3, Duration.ofMillis(50), Duration.ofMillis(200)));
    assertThat(problemsOf("alerts: { maxAttempts: 0, retries: 3 }\n")).containsExactly(
        "tollgate.yaml: alerts.maxAttempts: expected an integer 1-100, got 0",
        "tollgate.yaml: alerts.retries: unknown key (known: maxAttempts, retryBaseMs, timeoutMs, email)");
  }

  @Test
  @DisplayName("the signing secret comes from TOLLGATE_ALERT_WEBHOOK_SECRET only; in the file it is refused")
  void secret() {
    TollgateConfig c = load("", Map.of("TOLLGATE_ALERT_WEBHOOK_SECRET", "whsec-alert-0123456789"));
    assertThat(c.secrets().alertWebhookSecret().orElseThrow().reveal()).isEqualTo("whsec-alert-0123456789");
    assertThat(c.secrets().toString()).doesNotContain("whsec-alert-0123456789");
    assertThat(problemsOf("alerts: { webhookSecret: abc }\n")).containsExactly(
        "tollgate.yaml: alerts.webhookSecret: secrets come only from the environment: set TOLLGATE_ALERT_WEBHOOK_SECRET");
    assertThat(problemsOf("alertWebhookSecret: abc\n")).containsExactly(
        "tollgate.yaml: alertWebhookSecret: secrets come only from the environment: set TOLLGATE_ALERT_WEBHOOK_SECRET");
  }

  @Test
  @DisplayName("alerts.email: off without a host; with one it needs a sender; the password only from TOLLGATE_SMTP_PASSWORD")
  void email() {
    assertThat(load("").alerts().email().enabled()).isFalse();
    TollgateConfig c = load("alerts: { email: { host: smtp.example.com, from: billing@example.com, username: mailer } }\n",
        Map.of("TOLLGATE_SMTP_PASSWORD", "smtp-secret-0123456789"));
    MailConfig m = c.alerts().email();
    assertThat(m.enabled()).isTrue();
    assertThat(m.port()).isEqualTo(587);
    assertThat(m.startTls()).isEqualTo("optional");
    assertThat(m.password().orElseThrow().reveal()).isEqualTo("smtp-secret-0123456789");
    assertThat(c.toString()).doesNotContain("smtp-secret-0123456789");
    assertThat(problemsOf("alerts: { email: { host: smtp.example.com, startTls: always } }\n")).containsExactly(
        "tollgate.yaml: alerts.email.startTls: must be disabled, optional or required, got \"always\"",
        "tollgate.yaml: alerts.email.from: is required with alerts.email.host (the sender address, e.g. billing@example.com)");
    assertThat(problemsOf("alerts: { email: { host: smtp.example.com, from: nobody } }\n")).containsExactly(
        "tollgate.yaml: alerts.email.from: must be an email address such as billing@example.com, got \"nobody\"");
    assertThat(problemsOf("alerts: { email: { host: smtp.example.com, from: a@b.c, password: hunter2 } }\n")).containsExactly(
        "tollgate.yaml: alerts.email.password: secrets come only from the environment: set TOLLGATE_SMTP_PASSWORD");
    assertThat(problemsOf("alerts: { email: { host: smtp.example.com, from: a@b.c } }\n", Map.of("TOLLGATE_SMTP_PASSWORD", "x")))
        .containsExactly("tollgate.yaml: alerts.email.username: is required when TOLLGATE_SMTP_PASSWORD is set (SMTP AUTH needs both)");
  }
}
