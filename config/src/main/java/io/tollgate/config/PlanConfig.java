package io.tollgate.config;

/**
 * A plan's limits. A limit of 0 means unlimited.
 *
 * @param requestsPerMinute token-bucket rate of requests, per key and per account
 * @param tokensPerMinute   token-bucket rate of model tokens, per key and per account
 * @param includedCredits   credits granted at the start of each billing period
 */
public record PlanConfig(String name, long requestsPerMinute, long tokensPerMinute, long includedCredits) {
}
