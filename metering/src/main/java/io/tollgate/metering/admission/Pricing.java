package io.tollgate.metering.admission;

import io.tollgate.config.ModelPrice;
import io.tollgate.config.PricingConfig;
import io.tollgate.metering.admission.LuaNumbers;
import java.math.BigInteger;

/**
 * Integer credits for tokens: prices are credits per million tokens, and a request's cost is
 * rounded up to a whole credit so that no metered request is free. No floating point. The
 * arithmetic is exact (a long, or a BigInteger when the micro-credits overflow one), and a cost
 * beyond what a Redis script holds exactly (2^53) is {@link #MAX_CREDITS}: more than any balance,
 * so such a request is never admitted on credit and never charged a wrapped-around amount.
 */
public final class Pricing {

  static final long MAX_CREDITS = LuaNumbers.MAX_EXACT;

  private final PricingConfig config;

  public Pricing(PricingConfig config) {
    this.config = config;
  }

  /** The credits for this usage of {@code model}, rounded up, plus the flat cost. */
  public long cost(String model, long inputTokens, long outputTokens, long flatCost) {
    ModelPrice price = config.priceOf(model);
    try {
      long micro = Math.addExact(Math.multiplyExact(inputTokens, price.input()), Math.multiplyExact(outputTokens, price.output()));
      long credits = Math.addExact(micro / 1_000_000 + (micro % 1_000_000 == 0 ? 0 : 1), flatCost);
      return Math.min(credits, MAX_CREDITS);
    } catch (ArithmeticException overflow) {
      // Micro-credits overflowed a long although the credits may not: exact, then capped.
      BigInteger micro = BigInteger.valueOf(inputTokens).multiply(BigInteger.valueOf(price.input()))
          .add(BigInteger.valueOf(outputTokens).multiply(BigInteger.valueOf(price.output())));
      BigInteger credits = micro.add(BigInteger.valueOf(999_999)).divide(BigInteger.valueOf(1_000_000))
          .add(BigInteger.valueOf(flatCost));
      return credits.compareTo(BigInteger.valueOf(MAX_CREDITS)) >= 0 ? MAX_CREDITS : credits.longValueExact();
    }
  }
}
