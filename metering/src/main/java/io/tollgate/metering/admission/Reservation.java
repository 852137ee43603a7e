package io.tollgate.metering.admission;

import java.util.UUID;

/**
 * Credits and tokens held for an admitted request until it settles. Its {@link #member()} in the
 * shard's reservations set carries what the sweeper needs to refund it if nobody settles. A
 * billable action's reservation ({@code action} set) also carries its allowance units, key,
 * quantity and action, so that any instance can commit or cancel it from the member alone.
 */
public record Reservation(UUID eventId, long accountId, long keyId, long credits, long estimatedTokens,
                          CreditPolicy creditPolicy, Limits keyLimits, Limits accountLimits, ActionHold action) {

  /** A proxied request's reservation. */
  public Reservation(UUID eventId, long accountId, long keyId, long credits, long estimatedTokens,
                     CreditPolicy creditPolicy, Limits keyLimits, Limits accountLimits) {
    this(eventId, accountId, keyId, credits, estimatedTokens, creditPolicy, keyLimits, accountLimits, null);
  }

  /** As admit.lua writes it (for an action, the script appends from the credits on). */
  public String member() {
    String base = eventId + ":" + accountId + ":" + credits + ":" + creditPolicy.code();
    if (action == null) {
      return base;
    }
    return base + ":" + (action.tier() == null ? "" : action.tier()) + ":" + action.fromAllowance() + ":" + action.generation()
        + ":" + keyId + ":" + action.quantity() + ":" + action.action();
  }

  /**
   * The sweeper's view of a member: account, credits and how the balance was involved; for a
   * billable action also its tier ("" none), allowance units and their generation.
   */
  record Parsed(long accountId, long credits, CreditPolicy creditPolicy, String tier, long fromAllowance, long generation) {
  }

  static Parsed parse(String member) {
    String[] parts = member.split(":");
    boolean action = parts.length >= 10;
    return new Parsed(Long.parseLong(parts[1]), Long.parseLong(parts[2]), CreditPolicy.ofCode(parts[3]),
        action ? parts[4] : "", action ? Long.parseLong(parts[5]) : 0, action ? Long.parseLong(parts[6]) : 0);
  }

  /**
   * A billable action's reservation read back from its member (the id the ingest API hands out),
   * or empty when the text is not one. Whether it is still held is for the scripts to say.
   */
  public static java.util.Optional<Reservation> ofActionMember(String member) {
    String[] parts = member.split(":", -1);
    if (parts.length != 10) {
      return java.util.Optional.empty();
    }
    try {
      ActionHold hold = new ActionHold(parts[9], parts[4].isEmpty() ? null : parts[4], Long.parseLong(parts[8]),
          Long.parseLong(parts[5]), Long.parseLong(parts[6]));
      return java.util.Optional.of(new Reservation(UUID.fromString(parts[0]), Long.parseLong(parts[1]), Long.parseLong(parts[7]),
          Long.parseLong(parts[2]), 0, CreditPolicy.ofCode(parts[3]), Limits.UNLIMITED, Limits.UNLIMITED, hold));
    } catch (IllegalArgumentException e) {
      return java.util.Optional.empty();
    }
  }
}
