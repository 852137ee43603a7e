package io.tollgate.stripesync.fake;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The {@code Stripe-Signature} header exactly as Stripe writes it: {@code t=<unix seconds>} and one
 * {@code v1=} per signing secret, each the hex HMAC-SHA256 under that secret of
 * {@code "<t>.<payload>"}, the payload being the raw body as sent.
 */
public final class StripeSignature {

  private StripeSignature() {
  }

  /** {@code t=<epochSeconds>,v1=<signature>}. */
  public static String header(String payload, String secret, long epochSeconds) {
    return "t=" + epochSeconds + ",v1=" + sign(payload, secret, epochSeconds);
  }

  /**
   * One {@code v1} per secret, as Stripe sends while an endpoint's secret is being rolled and both
   * the old and the new one are live: {@code t=<ts>,v1=<under first>,v1=<under second>}.
   */
  public static String header(String payload, long epochSeconds, String... secrets) {
    StringBuilder header = new StringBuilder("t=").append(epochSeconds);
    for (String secret : secrets) {
      header.append(",v1=").append(sign(payload, secret, epochSeconds));
    }
    return header.toString();
  }

  /** The bare hex signature of {@code "<epochSeconds>.<payload>"}. */
  public static String sign(String payload, String secret, long epochSeconds) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      return HexFormat.of().formatHex(mac.doFinal((epochSeconds + "." + payload).getBytes(StandardCharsets.UTF_8)));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is missing from this JVM", e);
    }
  }
}
