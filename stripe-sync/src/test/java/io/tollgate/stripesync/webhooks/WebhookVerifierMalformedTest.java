package io.tollgate.stripesync.webhooks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tollgate.config.Secret;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@DisplayName("A Stripe-Signature header that cannot be read is refused as malformed, never thrown past the verifier")
class WebhookVerifierMalformedTest {

  private final WebhookVerifier verifier = new WebhookVerifier(List.of(Secret.of("whsec_a"), Secret.of("whsec_b")),
      Duration.ofMinutes(5), Clock.systemUTC());

  @ParameterizedTest
  @ValueSource(strings = {"t=abc,v1=00ff", "t=99999999999999999999999,v1=00ff", "t=,v1=00", "t=1.5,v1=00", "v1=00ff", "garbage"})
  @DisplayName("each unreadable header is a WebhookRejected naming Stripe-Signature")
  void malformed(String header) {
    assertThatThrownBy(() -> verifier.verify("{\"id\":\"evt_1\"}", header))
        .isInstanceOf(WebhookRejected.class)
        .hasMessageContaining("Stripe-Signature header is malformed")
        .satisfies(e -> assertThat(((WebhookRejected) e).reason())
            .isEqualTo(WebhookRejected.Reason.BAD_SIGNATURE));
  }
}
