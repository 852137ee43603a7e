package io.tollgate.stripesync.fake;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.stripe.exception.SignatureVerificationException;
import com.stripe.model.Event;
import com.stripe.net.Webhook;
import io.tollgate.config.Secret;
import io.tollgate.stripesync.webhooks.WebhookVerifier;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("StripeSignature signs as Stripe does: stripe-java's own Webhook check accepts it, and refuses what it should")
class StripeSignatureTest {

  private static final String SECRET = "whsec_test_0123456789abcdefghijklmnopqrstuv";
  private static final long TOLERANCE = 300;
  private final String payload = StripeObjects.invoice().customer("cus_1").amountDue(2900).paid().paidEvent().id("evt_sig_1").payload();
  private final long now = Instant.now().getEpochSecond();

  @Test
  @DisplayName("a fresh signature under the right secret is accepted and the event read")
  void accepted() throws Exception {
    String header = StripeSignature.header(payload, SECRET, now);
    assertThat(header).matches("t=" + now + ",v1=[0-9a-f]{64}");
    Event event = Webhook.constructEvent(payload, header, SECRET, TOLERANCE);
    assertThat(event.getId()).isEqualTo("evt_sig_1");
    assertThat(event.getType()).isEqualTo("invoice.paid");
  }

  @Test
  @DisplayName("a changed body, another secret or an old timestamp are refused")
  void refused() {
    String header = StripeSignature.header(payload, SECRET, now);
    assertThatThrownBy(() -> Webhook.constructEvent(payload.replace("2900", "2901"), header, SECRET, TOLERANCE))
        .isInstanceOf(SignatureVerificationException.class);
    assertThatThrownBy(() -> Webhook.constructEvent(payload, StripeSignature.header(payload, "whsec_forged", now), SECRET, TOLERANCE))
        .isInstanceOf(SignatureVerificationException.class);
    assertThatThrownBy(() -> Webhook.constructEvent(payload, StripeSignature.header(payload, SECRET, now - 2 * TOLERANCE), SECRET, TOLERANCE))
        .isInstanceOf(SignatureVerificationException.class).hasMessageContaining("tolerance");
  }

  @Test
  @DisplayName("while a secret is rolled, one header carries a v1 per secret and either secret verifies it")
  void rotation() throws Exception {
    String header = StripeSignature.header(payload, now, "whsec_old", SECRET);
    assertThat(header.split(",v1=")).hasSize(3);
    assertThat(Webhook.constructEvent(payload, header, "whsec_old", TOLERANCE).getId()).isEqualTo("evt_sig_1");
    assertThat(Webhook.constructEvent(payload, header, SECRET, TOLERANCE).getId()).isEqualTo("evt_sig_1");
    assertThatThrownBy(() -> Webhook.constructEvent(payload, header, "whsec_third", TOLERANCE))
        .isInstanceOf(SignatureVerificationException.class);
  }

  @Test
  @DisplayName("Tollgate's WebhookVerifier accepts it too")
  void tollgateVerifier() throws Exception {
    WebhookVerifier verifier = new WebhookVerifier(List.of(Secret.of(SECRET)), Duration.ofSeconds(TOLERANCE), Clock.systemUTC());
    assertThat(verifier.verify(payload, StripeSignature.header(payload, SECRET, now)).id()).isEqualTo("evt_sig_1");
  }
}
