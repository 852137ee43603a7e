package io.tollgate.metering.admission;

import java.util.UUID;

/**
 * Credits and tokens held for an admitted request until it settles. Its {@link #member()} in the
 * shard's reservations set carries what the sweeper needs to refund it if nobody settles.
 */
public record Reservation(UUID eventId, long accountId, long keyId, long credits, long estimatedTokens,
                          CreditPolicy creditPolicy, Limits keyLimits, Limits accountLimits, KeySpend keySpend) {

  public Reservation(UUID eventId, long accountId, long keyId, long credits, long estimatedTokens, CreditPolicy creditPolicy,
                     Limits keyLimits, Limits accountLimits) {
    this(eventId, accountId, keyId, credits, estimatedTokens, creditPolicy, keyLimits, accountLimits, null);
  }

  /** A key with a budget adds its spend counter ({@code :<spend key>:<window>}) for the sweeper to give the hold back. */
  public String member() {
    String base = eventId + ":" + accountId + ":" + credits + ":" + creditPolicy.code();
    return keySpend == null ? base : base + ":" + keySpend.spendKeyId() + ":" + keySpend.window();
  }

  /** The sweeper's view of a member: account, credits, how the balance was involved, and the key budget's counter if any. */
  record Parsed(long accountId, long credits, CreditPolicy creditPolicy, Long spendKeyId, String window) {
  }

  static Parsed parse(String member) {
    String[] parts = member.split(":");
    boolean budget = parts.length >= 6;
    return new Parsed(Long.parseLong(parts[1]), Long.parseLong(parts[2]), CreditPolicy.ofCode(parts[3]),
        budget ? Long.valueOf(parts[4]) : null, budget ? parts[5] : null);
  }
}
