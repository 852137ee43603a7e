package io.tollgate.config;

/**
 * A model's price in integer credits per one million tokens (integers: no floating-point money).
 *
 * @param input  credits per 1M prompt (input) tokens, ≥ 0
 * @param output credits per 1M completion (output) tokens, ≥ 0
 */
public record ModelPrice(long input, long output) {

  public ModelPrice {
    if (input < 0 || output < 0) {
      throw new IllegalArgumentException("prices must be >= 0, got input=" + input + ", output=" + output);
    }
  }
}
