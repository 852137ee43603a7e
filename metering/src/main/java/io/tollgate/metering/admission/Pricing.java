package io.tollgate.metering.admission;

import io.tollgate.config.ModelPrice;
import io.tollgate.config.PricingConfig;
import io.tollgate.metering.admission.LuaNumbers;
import java.math.BigInteger;

/**
 * The cost of tokens, in units (millicredits, {@link io.tollgate.config.Credits}): prices are units
 * per million tokens (the file writes credits, {@code input: 0.15}), and a request's cost is
 * {@code ceil((inputTokens × input + outputTokens × output) / 1,000,000)} units plus the route's
 * flat cost: rounded up once per request to a whole unit (0.001 credit), so no metered request
 * is free and the rounding never depends on how the tokens were split into calls. No floating
 * point. The arithmetic is exact (a long, or a BigInteger when the intermediate product overflows
 * one), and a cost beyond what a Redis script holds exactly (2^53 units) is {@link #MAX_UNITS}:
 * more than any balance, so such a request is never admitted on credit and never charged a
 * wrapped-around amount.
 */
public final class Pricing {

  static final long MAX_UNITS = LuaNumbers.MAX_EXACT;

  private final PricingConfig config;

  public Pricing(PricingConfig config) {
    this.config = config;
  }

  /** The units for this usage of {@code model}, rounded up to a whole unit, plus the flat cost (units). */
  public long cost(String model, long inputTokens, long outputTokens, long flatCost) {
    ModelPrice price = config.priceOf(model);
    try {
      long perMillion = Math.addExact(Math.multiplyExact(inputTokens, price.input()), Math.multiplyExact(outputTokens, price.output()));
      long credits = Math.addExact(perMillion / 1_000_000 + (perMillion % 1_000_000 == 0 ? 0 : 1), flatCost);
      return Math.min(credits, MAX_UNITS);
    } catch (ArithmeticException overflow) {
      // The product overflowed a long although the cost may not: exact, then capped.
      BigInteger perMillion = BigInteger.valueOf(inputTokens).multiply(BigInteger.valueOf(price.input()))
          .add(BigInteger.valueOf(outputTokens).multiply(BigInteger.valueOf(price.output())));
      BigInteger credits = perMillion.add(BigInteger.valueOf(999_999)).divide(BigInteger.valueOf(1_000_000))
          .add(BigInteger.valueOf(flatCost));
      return credits.compareTo(BigInteger.valueOf(MAX_UNITS)) >= 0 ? MAX_UNITS : credits.longValueExact();
    }
  }
}
