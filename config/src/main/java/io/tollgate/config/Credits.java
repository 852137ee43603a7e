package io.tollgate.config;

import java.math.BigDecimal;
import java.math.BigInteger;

/**
 * The one conversion between credits as people write them (decimal numbers: {@code 2.5},
 * {@code 43}, {@code 0.001}) and the integer unit every money path computes with: the
 * <b>millicredit</b>, a thousandth of a credit. Balances, reservations, charges, the ledger, spend
 * caps, thresholds and prices are whole numbers of units in Redis, Postgres and Java alike; no
 * floating point touches money. Input with more precision than a unit is refused, never rounded.
 *
 * <p>It lives in the config module, the bottom of the dependency chain, because the configuration
 * file is the first place credits are parsed; every other module sees it from there.
 */
public final class Credits {

  /** Units in one credit: a unit is 0.001 credit. */
  public static final long UNITS_PER_CREDIT = 1_000;
  /** Decimals a credit amount may have. */
  public static final int SCALE = 3;
  /**
   * The largest magnitude in units: 2^53, what a Redis (Lua) script holds exactly. In credits,
   * 9,007,199,254,740.992.
   */
  public static final long MAX_UNITS = 1L << 53;

  private static final BigDecimal MAX = BigDecimal.valueOf(MAX_UNITS, SCALE);

  private Credits() {
  }

  /**
   * Units for a decimal amount of credits. Throws IllegalArgumentException, its message naming the
   * value, when it has more than {@value #SCALE} decimals or its magnitude exceeds {@link #MAX_UNITS}
   * units.
   */
  public static long units(BigDecimal credits) {
    BigDecimal plain = credits.stripTrailingZeros();
    if (plain.scale() > SCALE) {
      throw new IllegalArgumentException(credits.toPlainString() + " has more than " + SCALE
          + " decimals (credits are exact to 0.001, the smallest unit)");
    }
    if (plain.abs().compareTo(MAX) > 0) {
      throw new IllegalArgumentException(credits.toPlainString() + " is beyond ±" + MAX.toPlainString()
          + " credits, the largest amount kept exactly");
    }
    return plain.movePointRight(SCALE).longValueExact();
  }

  /** {@link #units(BigDecimal)} of decimal text ({@code "2.5"}); a text that is no number is refused naming it. */
  public static long units(String credits) {
    BigDecimal parsed;
    try {
      parsed = new BigDecimal(credits.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(quote(credits) + " is not a decimal number of credits");
    }
    return units(parsed);
  }

  /**
   * {@link #units(BigDecimal)} of an exact number: Integer, Long, BigInteger or BigDecimal. A
   * binary floating-point number (Double, Float) is refused: it cannot say which decimal was meant.
   */
  public static long units(Number credits) {
    if (credits instanceof Integer || credits instanceof Long || credits instanceof Short || credits instanceof Byte) {
      return units(BigDecimal.valueOf(credits.longValue()));
    }
    if (credits instanceof BigInteger big) {
      return units(new BigDecimal(big));
    }
    if (credits instanceof BigDecimal decimal) {
      return units(decimal);
    }
    throw new IllegalArgumentException(credits + " is a floating-point number, not an exact decimal");
  }

  /** Units for a whole number of credits; throws ArithmeticException on overflow of a long. */
  public static long ofWhole(long credits) {
    return Math.multiplyExact(credits, UNITS_PER_CREDIT);
  }

  /** The credits that {@code units} are, exactly, without trailing zeros: 2500 → 2.5, 43000 → 43, 1 → 0.001. */
  public static BigDecimal toCredits(long units) {
    BigDecimal credits = BigDecimal.valueOf(units, SCALE).stripTrailingZeros();
    return credits.scale() < 0 ? credits.setScale(0) : credits;
  }

  /** {@link #toCredits} as plain decimal text, for CSV, messages and Stripe metadata. */
  public static String format(long units) {
    return toCredits(units).toPlainString();
  }

  /**
   * {@link #toCredits} as a JSON number: a Long when whole (so {@code 43} stays {@code 43}), else the
   * exact BigDecimal ({@code 2.5}); null stays null.
   */
  public static Number json(Long units) {
    if (units == null) {
      return null;
    }
    return units % UNITS_PER_CREDIT == 0 ? Long.valueOf(units / UNITS_PER_CREDIT) : toCredits(units);
  }

  private static String quote(String s) {
    return "\"" + (s.length() > 40 ? s.substring(0, 40) + "…" : s) + "\"";
  }
}
