package io.tollgate.stripesync.billing;

import java.time.Instant;

/** A Checkout session the customer can be sent to: its {@code url} works until {@code expiresAt}. */
public record CheckoutLink(String id, String url, Instant expiresAt) {
}
