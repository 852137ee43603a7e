package io.tollgate.metering.admission;

import java.util.UUID;

/**
 * Credits and tokens held for an admitted request until it settles. Its {@link #member()} in the
 * shard's reservations set carries what the sweeper needs to refund it if nobody settles.
 */
public record Reservation(UUID eventId, long accountId, long keyId, long credits, long estimatedTokens,
                          CreditPolicy creditPolicy, Limits keyLimits, Limits accountLimits) {

  public String member() {
    return eventId + ":" + accountId + ":" + credits + ":" + creditPolicy.code();
  }

  /** The sweeper's view of a member: account, credits and how the balance was involved. */
  record Parsed(long accountId, long credits, CreditPolicy creditPolicy) {
  }

  static Parsed parse(String member) {
    String[] parts = member.split(":");
    return new Parsed(Long.parseLong(parts[1]), Long.parseLong(parts[2]), CreditPolicy.ofCode(parts[3]));
  }
}
