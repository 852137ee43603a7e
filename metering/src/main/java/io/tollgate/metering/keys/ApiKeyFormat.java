package io.tollgate.metering.keys;

import io.tollgate.metering.Sha256;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.zip.CRC32;

/**
 * Tollgate API keys: {@code tg_live_} or {@code tg_test_}, 32 random bytes in base62 (43 chars),
 * then a 6-char base62 CRC-32 of everything before it. The checksum lets a typo be refused
 * without any lookup; only {@link #hash SHA-256 hashes} are ever stored.
 */
public final class ApiKeyFormat {

  public static final String LIVE = "tg_live_";
  public static final String TEST = "tg_test_";
  static final int BODY_LENGTH = 43;
  static final int CHECKSUM_LENGTH = 6;
  public static final int LENGTH = LIVE.length() + BODY_LENGTH + CHECKSUM_LENGTH;

  private static final String ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  private static final BigInteger BASE = BigInteger.valueOf(62);
  private static final SecureRandom RANDOM = new SecureRandom();

  /** Why a presented key was refused before any lookup; the message never contains the key. */
  public enum Problem {
    NONE(null),
    MISSING("no API key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'"),
    MALFORMED("malformed API key: expected tg_live_… or tg_test_… of " + LENGTH + " characters"),
    CHECKSUM("API key checksum does not match: the key was mistyped or truncated");

    private final String message;

    Problem(String message) {
      this.message = message;
    }

    public String message() {
      return message;
    }
  }

  private ApiKeyFormat() {
  }

  /** A new key with the given prefix ({@link #LIVE} or {@link #TEST}). */
  public static String generate(String prefix) {
    if (!prefix.equals(LIVE) && !prefix.equals(TEST)) {
      throw new IllegalArgumentException("key prefix must be tg_live_ or tg_test_");
    }
    byte[] random = new byte[32];
    RANDOM.nextBytes(random);
    String body = base62(new BigInteger(1, random), BODY_LENGTH);
    return prefix + body + checksum(prefix + body);
  }

  /** Checks shape and checksum only: cheap, no I/O. */
  public static Problem check(String key) {
    if (key == null || key.isEmpty()) {
      return Problem.MISSING;
    }
    if (key.length() != LENGTH || !(key.startsWith(LIVE) || key.startsWith(TEST))) {
      return Problem.MALFORMED;
    }
    for (int i = LIVE.length(); i < LENGTH; i++) {
      if (ALPHABET.indexOf(key.charAt(i)) < 0) {
        return Problem.MALFORMED;
      }
    }
    String payload = key.substring(0, LENGTH - CHECKSUM_LENGTH);
    return checksum(payload).equals(key.substring(LENGTH - CHECKSUM_LENGTH)) ? Problem.NONE : Problem.CHECKSUM;
  }

  public static String prefixOf(String key) {
    return key.substring(0, LIVE.length());
  }

  public static String last4(String key) {
    return key.substring(key.length() - 4);
  }

  /** SHA-256 of the whole key: what Postgres stores and the cache is keyed by. */
  public static byte[] hash(String key) {
    return Sha256.of(key.getBytes(StandardCharsets.US_ASCII));
  }

  private static String checksum(String payload) {
    CRC32 crc = new CRC32();
    crc.update(payload.getBytes(StandardCharsets.US_ASCII));
    return base62(BigInteger.valueOf(crc.getValue()), CHECKSUM_LENGTH);
  }

  private static String base62(BigInteger value, int width) {
    char[] out = new char[width];
    BigInteger v = value;
    for (int i = width - 1; i >= 0; i--) {
      BigInteger[] qr = v.divideAndRemainder(BASE);
      out[i] = ALPHABET.charAt(qr[1].intValue());
      v = qr[0];
    }
    return new String(out);
  }
}
