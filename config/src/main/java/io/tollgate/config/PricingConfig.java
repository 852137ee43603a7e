package io.tollgate.config;

import java.util.Map;

/** Per-model token prices, with a default for models not listed. */
public record PricingConfig(Map<String, ModelPrice> models, ModelPrice defaultPrice) {

  public PricingConfig {
    models = Map.copyOf(models);
  }

  public ModelPrice priceOf(String model) {
    return model == null ? defaultPrice : models.getOrDefault(model, defaultPrice);
  }
}
