package io.tollgate.stripesync;

import java.time.Instant;

/**
 * One meter event for Stripe: {@code value} whole credits for a customer (fractions are carried
 * between batches, {@link MeterOutbox}), with Stripe's dedup key.
 *
 * @param identifier deterministic from the outbox batch and the (customer, meter) pair, at most 100
 *                   characters; sending it again is harmless while Stripe remembers it (24 h or more)
 */
public record MeterEvent(String identifier, String eventName, String customerId, long value, Instant timestamp) {
}
