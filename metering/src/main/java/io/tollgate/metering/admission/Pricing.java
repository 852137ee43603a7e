package io.tollgate.metering.admission;

import io.tollgate.config.ModelPrice;
import io.tollgate.config.PricingConfig;

/**
 * Integer credits for tokens: prices are credits per million tokens, and a request's cost is
 * rounded up to a whole credit so that no metered request is free. No floating point.
 */
public final class Pricing {

  private final PricingConfig config;

  public Pricing(PricingConfig config) {
    this.config = config;
  }

  /** The credits for this usage of {@code model}, rounded up, plus the flat cost. */
  public long cost(String model, long inputTokens, long outputTokens, long flatCost) {
    ModelPrice price = config.priceOf(model);
    long micro = Math.addExact(Math.multiplyExact(inputTokens, price.input()), Math.multiplyExact(outputTokens, price.output()));
    return Math.addExact((micro + 999_999) / 1_000_000, flatCost);
  }
}
