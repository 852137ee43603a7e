package io.tollgate.config;

import java.util.List;

/**
 * A plan's limits. A limit of 0 means unlimited.
 *
 * @param requestsPerMinute token-bucket rate of requests, per key and per account
 * @param tokensPerMinute   token-bucket rate of model tokens, per key and per account
 * @param includedCredits   credits granted at the start of each billing period
 * @param alertThresholds   usage alerts, in percent of the included credits (or of the account's
 *                          spend cap), ascending; each fires once per period
 */
public record PlanConfig(String name, long requestsPerMinute, long tokensPerMinute, long includedCredits,
                         List<Integer> alertThresholds) {

  /** Fires at half, most, nearly all, and all of the allowance. */
  public static final List<Integer> DEFAULT_ALERT_THRESHOLDS = List.of(50, 80, 95, 100);

  public PlanConfig {
    alertThresholds = List.copyOf(alertThresholds);
  }

  /** A plan with the default alert thresholds. */
  public PlanConfig(String name, long requestsPerMinute, long tokensPerMinute, long includedCredits) {
    this(name, requestsPerMinute, tokensPerMinute, includedCredits, DEFAULT_ALERT_THRESHOLDS);
  }
}
