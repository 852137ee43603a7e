package io.tollgate.config;

import java.util.List;

/**
 * A plan of the catalog: its limits, what it entitles to, and which Stripe prices sell it.
 * A limit of 0 means unlimited.
 *
 * @param requestsPerMinute token-bucket rate of requests, per key and per account
 * @param tokensPerMinute   token-bucket rate of model tokens, per key and per account
 * @param includedCredits   credits granted at the start of each billing period, in units ({@link Credits})
 * @param alertThresholds   usage alerts, in percent of the included credits (or of the account's
 *                          spend cap), ascending; each fires once per period
 * @param stripePrices      Stripe price ids that sell this plan: a subscription holding one of them
 *                          (its base fee, or its metered overage price) puts the account on this plan
 * @param models            models the plan may call; empty means every model
 * @param features          named features the plan includes; a route that names a feature is open
 *                          only to plans that include it
 * @param overage           what happens when the credits run out: {@code BLOCK} refuses with 402,
 *                          {@code BILL} lets usage go on and bills it through the Stripe meter
 * @param allowances        tier name → actions of that tier included per billing period, spent before
 *                          credits (see {@link ActionCatalog}); a tier not listed has none
 */
public record PlanConfig(String name, long requestsPerMinute, long tokensPerMinute, long includedCredits,
                         List<Integer> alertThresholds, List<String> stripePrices, List<String> models,
                         List<String> features, Overage overage, java.util.Map<String, Long> allowances) {

  /** Fires at half, most, nearly all, and all of the allowance. */
  public static final List<Integer> DEFAULT_ALERT_THRESHOLDS = List.of(50, 80, 95, 100);

  /** What a plan does once its credits are spent. */
  public enum Overage {
    BLOCK, BILL;

    public String wire() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  public PlanConfig {
    alertThresholds = List.copyOf(alertThresholds);
    stripePrices = List.copyOf(stripePrices);
    models = List.copyOf(models);
    features = List.copyOf(features);
    allowances = java.util.Map.copyOf(allowances);
  }

  /** A plan without action allowances. */
  public PlanConfig(String name, long requestsPerMinute, long tokensPerMinute, long includedCredits,
                    List<Integer> alertThresholds, List<String> stripePrices, List<String> models,
                    List<String> features, Overage overage) {
    this(name, requestsPerMinute, tokensPerMinute, includedCredits, alertThresholds, stripePrices, models, features, overage,
        java.util.Map.of());
  }

  /** Actions of {@code tier} included per period (0 when the plan lists none). */
  public long allowance(String tier) {
    return tier == null ? 0 : allowances.getOrDefault(tier, 0L);
  }

  /** A plan sold by no Stripe price, open to every model and no named feature, blocking overage. */
  public PlanConfig(String name, long requestsPerMinute, long tokensPerMinute, long includedCredits,
                    List<Integer> alertThresholds) {
    this(name, requestsPerMinute, tokensPerMinute, includedCredits, alertThresholds, List.of(), List.of(), List.of(), Overage.BLOCK);
  }

  /** A plan with the default alert thresholds. */
  public PlanConfig(String name, long requestsPerMinute, long tokensPerMinute, long includedCredits) {
    this(name, requestsPerMinute, tokensPerMinute, includedCredits, DEFAULT_ALERT_THRESHOLDS);
  }

  /** Whether the plan is limited to some models (then a request whose model cannot be read is refused). */
  public boolean restrictsModels() {
    return !models.isEmpty();
  }

  /** Whether the plan may call this model; a request without a model passes. */
  public boolean allowsModel(String model) {
    return models.isEmpty() || model == null || models.contains(model);
  }

  public boolean hasFeature(String feature) {
    return features.contains(feature);
  }

  /**
   * Whether this plan lets an account of {@code billingMode} run past its credits: only a hybrid
   * account on a plan that bills overage, since hybrid usage reaches Stripe through the meter and
   * the overage is invoiced. Prepaid accounts are never metered to Stripe, so they always stop at
   * zero; a postpaid spend cap always applies.
   */
  public boolean billsOverage(String billingMode) {
    return overage == Overage.BILL && "hybrid".equals(billingMode);
  }
}
