package io.tollgate.config;

/**
 * A model's price per one million tokens, in units ({@link Credits}: millicredits, integers, no
 * floating-point money). The file writes credits ({@code input: 0.15}); a request's cost is rounded
 * up to a whole unit ({@code Pricing}).
 *
 * @param input  units per 1M prompt (input) tokens, ≥ 0
 * @param output units per 1M completion (output) tokens, ≥ 0
 */
public record ModelPrice(long input, long output) {

  public ModelPrice {
    if (input < 0 || output < 0) {
      throw new IllegalArgumentException("prices must be >= 0, got input=" + input + ", output=" + output);
    }
  }
}
