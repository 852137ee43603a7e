package io.tollgate.stripesync.webhooks;

import com.stripe.exception.SignatureVerificationException;
import com.stripe.net.Webhook;
import io.tollgate.config.Secret;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.time.Clock;
import java.time.Duration;
import java.util.List;

/**
 * Checks {@code Stripe-Signature} with stripe-java against the raw body, exactly as received: an
 * HMAC-SHA256 of {@code "<t>.<body>"} under an endpoint's signing secret, and a timestamp within
 * the tolerance, which makes a captured delivery useless once it is older than that. Several
 * secrets are tried in turn, so a secret can be rolled in Stripe's dashboard while deliveries
 * signed with the old one are still arriving.
 */
public final class WebhookVerifier {

  private final List<Secret> secrets;
  private final long toleranceSeconds;
  private final Clock clock;

  public WebhookVerifier(List<Secret> secrets, Duration tolerance, Clock clock) {
    if (secrets.isEmpty()) {
      throw new IllegalArgumentException("at least one webhook signing secret is needed");
    }
    this.secrets = List.copyOf(secrets);
    this.toleranceSeconds = Math.max(1, tolerance.toSeconds());
    this.clock = clock;
  }

  /** The event, if the body is signed by one of the secrets and fresh; otherwise why not. */
  public StripeEvent verify(String payload, String signatureHeader) throws WebhookRejected {
    if (signatureHeader == null || signatureHeader.isBlank()) {
      throw new WebhookRejected(WebhookRejected.Reason.MISSING_SIGNATURE, "the Stripe-Signature header is missing");
    }
    WebhookRejected first = null;
    for (Secret secret : secrets) {
      try {
        Webhook.Signature.verifyHeader(payload, signatureHeader, secret.reveal(), toleranceSeconds, clock);
        return parse(payload);
      } catch (SignatureVerificationException e) {
        WebhookRejected why = explain(e);
        // A signature that matched one secret but is too old says more than the other secrets' mismatches.
        if (first == null || why.reason() == WebhookRejected.Reason.EXPIRED) {
          first = why;
        }
      } catch (RuntimeException e) {
        // stripe-java parses t= with Long.parseLong and lets NumberFormatException out (t=abc);
        // whatever else it throws on a header it cannot read is the same verdict: malformed.
        throw malformed();
      }
    }
    throw first;
  }

  /** stripe-java's messages, reworded for the operator; neither ever holds the header, body or secret. */
  private WebhookRejected explain(SignatureVerificationException e) {
    String m = String.valueOf(e.getMessage());
    if (m.contains("tolerance")) {
      return new WebhookRejected(WebhookRejected.Reason.EXPIRED, "the Stripe-Signature timestamp is more than "
          + toleranceSeconds + " s away from now: a replayed or delayed delivery, or a clock out of sync");
    }
    if (m.contains("extract timestamp") || m.contains("expected scheme")) {
      return malformed();
    }
    return new WebhookRejected(WebhookRejected.Reason.BAD_SIGNATURE,
        "no v1 signature in Stripe-Signature matches the body under the configured signing secret(s)");
  }

  private static WebhookRejected malformed() {
    return new WebhookRejected(WebhookRejected.Reason.BAD_SIGNATURE,
        "the Stripe-Signature header is malformed (expected t=<unix timestamp>,v1=<hex signature>)");
  }

  private static StripeEvent parse(String payload) throws WebhookRejected {
    try {
      return StripeEvent.from(new JsonObject(payload));
    } catch (DecodeException | ClassCastException e) {
      throw new WebhookRejected(WebhookRejected.Reason.MALFORMED_EVENT, "the body is not a JSON object");
    } catch (IllegalArgumentException e) {
      throw new WebhookRejected(WebhookRejected.Reason.MALFORMED_EVENT, "the body is not a Stripe event: " + e.getMessage());
    }
  }
}
