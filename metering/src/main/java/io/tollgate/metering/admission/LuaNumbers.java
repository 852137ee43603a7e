package io.tollgate.metering.admission;

/**
 * Redis Lua numbers are doubles: integers are exact only up to 2^53. Every count the admission and
 * settle scripts compute with (tokens, credits, limits) is checked here at the Java boundary, so
 * a value that would silently round (or overflow Java's own arithmetic first) never reaches a
 * script. The gateway bounds what clients send well below this (README, "Hostile input").
 */
public final class LuaNumbers {

  /** 2^53, the largest integer up to which every integer is exactly representable as a double. */
  public static final long MAX_EXACT = 1L << 53;

  private LuaNumbers() {
  }

  /** {@code value} itself; throws IllegalArgumentException naming it when it is outside [-2^53, 2^53]. */
  public static long exact(String name, long value) {
    if (value > MAX_EXACT || value < -MAX_EXACT) {
      throw new IllegalArgumentException(name + " is " + value + ", beyond 2^53, the largest integer a Redis script holds exactly");
    }
    return value;
  }

  /** {@code a + b} for non-negative counts, saturating at 2^53 instead of overflowing. */
  public static long saturatingSum(long a, long b) {
    long sum = a + b;
    return sum < 0 || sum > MAX_EXACT ? MAX_EXACT : sum;
  }
}
