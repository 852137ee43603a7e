package io.tollgate.metering.usage;

import java.security.SecureRandom;
import java.util.UUID;

/**
 * RFC 9562 version 7 UUIDs: 48-bit Unix milliseconds then random bits, so event ids sort by time
 * (good for B-tree inserts) and stay unique across instances without coordination.
 */
public final class UuidV7 {

  private static final SecureRandom RANDOM = new SecureRandom();

  private UuidV7() {
  }

  public static UUID at(long epochMillis) {
    long rand = RANDOM.nextLong();
    long msb = (epochMillis << 16) | 0x7000L | ((rand >>> 52) & 0x0FFFL);
    long lsb = (RANDOM.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
    return new UUID(msb, lsb);
  }

  public static long millisOf(UUID uuid) {
    return uuid.getMostSignificantBits() >>> 16;
  }
}
