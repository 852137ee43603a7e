package io.tollgate.gateway.metering;

import io.tollgate.config.ModelPrice;
import io.tollgate.config.PricingConfig;

/**
 * Integer credits for tokens: prices are credits per million tokens, and a request's cost is
 * rounded up to a whole credit so that no metered request is free. No floating point.
 */
final class Pricing {

  private final PricingConfig config;

  Pricing(PricingConfig config) {
    this.config = config;
  }

  long cost(String model, long inputTokens, long outputTokens, long flatCost) {
    ModelPrice price = config.priceOf(model);
    long micro = Math.addExact(Math.multiplyExact(inputTokens, price.input()), Math.multiplyExact(outputTokens, price.output()));
    return Math.addExact((micro + 999_999) / 1_000_000, flatCost);
  }
}
