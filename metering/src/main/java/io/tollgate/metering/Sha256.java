package io.tollgate.metering;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * SHA-256 for the hot path's hashes (API keys, ingest event ids). {@code MessageDigest.getInstance}
 * looks the provider up on every call; this clones one prepared digest instead, which is never
 * used itself, so concurrent callers share nothing mutable.
 */
public final class Sha256 {

  private static final MessageDigest PROTOTYPE;

  static {
    try {
      PROTOTYPE = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 unavailable", e);
    }
  }

  private Sha256() {
  }

  public static byte[] of(byte[] input) {
    try {
      return ((MessageDigest) PROTOTYPE.clone()).digest(input);
    } catch (CloneNotSupportedException e) {
      throw new IllegalStateException("SHA-256 cannot be cloned", e);
    }
  }
}
