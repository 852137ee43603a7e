package io.tollgate.gateway.console;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * HMAC-SHA256 signatures with a key derived from the admin token for one purpose, so that a
 * session cookie can never pass as a customer link (or the reverse), and changing the admin token
 * ends every session and link at once. Verification is constant-time.
 */
final class Signer {

  private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
  private final byte[] key;

  Signer(String secret, String purpose) {
    this.key = hmac(secret.getBytes(StandardCharsets.UTF_8), "tollgate-console/" + purpose);
  }

  String sign(String payload) {
    return B64.encodeToString(hmac(key, payload));
  }

  boolean verify(String payload, String signature) {
    return MessageDigest.isEqual(sign(payload).getBytes(StandardCharsets.US_ASCII),
        signature.getBytes(StandardCharsets.US_ASCII));
  }

  static String random(int bytes) {
    byte[] b = new byte[bytes];
    RANDOM.nextBytes(b);
    return B64.encodeToString(b);
  }

  private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();

  private static byte[] hmac(byte[] key, String payload) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(payload.getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available", e);
    }
  }
}
