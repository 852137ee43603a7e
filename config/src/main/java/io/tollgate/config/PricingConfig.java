package io.tollgate.config;

import java.util.Map;
import java.util.Objects;

/**
 * Per-model token prices, with a default for models not listed.
 *
 * @param models       by the model name clients send (e.g. {@code gpt-4o-mini}), matched exactly
 * @param defaultPrice the price of any model not in {@code models}
 */
public record PricingConfig(Map<String, ModelPrice> models, ModelPrice defaultPrice) {

  public PricingConfig {
    models = Map.copyOf(models);
    Objects.requireNonNull(defaultPrice, "defaultPrice");
  }

  /** The model's price, or the default price for an unknown or missing ({@code null}) model. */
  public ModelPrice priceOf(String model) {
    return model == null ? defaultPrice : models.getOrDefault(model, defaultPrice);
  }
}
