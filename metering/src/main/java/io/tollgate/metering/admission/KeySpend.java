package io.tollgate.metering.admission;

import java.time.Instant;

/**
 * The budget a request's key carries: at most {@code budget} credits spent in {@code window}
 * ({@code life}, or {@code p<period start>}), counted under {@code spendKeyId} (the key, or the one
 * it was rotated from); {@code since} is where the window starts, for seeding the count from
 * Postgres when Redis has none.
 */
public record KeySpend(long spendKeyId, String window, long budget, Instant since) {
}
