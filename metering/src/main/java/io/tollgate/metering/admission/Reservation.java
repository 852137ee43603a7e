package io.tollgate.metering.admission;

import java.util.UUID;

/**
 * Credits and tokens held for an admitted request until it settles. Its {@link #member()} in the
 * shard's reservations set carries what the sweeper needs to refund it if nobody settles.
 */
public record Reservation(UUID eventId, long accountId, long keyId, long credits, long estimatedTokens,
                          boolean enforceCredits, Limits keyLimits, Limits accountLimits) {

  public String member() {
    return eventId + ":" + accountId + ":" + credits + ":" + (enforceCredits ? 1 : 0);
  }

  /** The sweeper's view of a member: account, credits and whether credits were held. */
  record Parsed(long accountId, long credits, boolean enforce) {
  }

  static Parsed parse(String member) {
    String[] parts = member.split(":");
    return new Parsed(Long.parseLong(parts[1]), Long.parseLong(parts[2]), "1".equals(parts[3]));
  }
}
