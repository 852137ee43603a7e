package io.tollgate.config;

/** A plan's limits: requests and tokens per minute, and credits included each period. */
public record PlanConfig(String name, long requestsPerMinute, long tokensPerMinute, long includedCredits) {
}
