package io.tollgate.metering.admission;

import java.util.UUID;

/**
 * Credits and tokens held for an admitted request until it settles. Its {@link #member()} in the
 * shard's reservations set carries what the sweeper needs to refund it if nobody settles. A
 * billable action's reservation ({@code action} set) also carries its allowance units, key,
 * quantity and action, so that any instance can commit or cancel it from the member alone; a key
 * with a budget ({@code keySpend} set) adds its spend counter, so the hold goes back to it.
 *
 * <p>Member layouts, fields separated by {@code :} (none of them can contain one: ids, numbers,
 * tier and action names from the configuration, and windows {@code life} / {@code p<epoch s>}):
 * <pre>
 *   proxied                eventId:account:credits:policy
 *   proxied, key budget    eventId:account:credits:policy:spendKey:window
 *   action                 eventId:account:credits:policy:tier:fromAllowance:generation:key:quantity:action
 *   action, key budget     ...:action:spendKey:window
 * </pre>
 */
public record Reservation(UUID eventId, long accountId, long keyId, long credits, long estimatedTokens,
                          CreditPolicy creditPolicy, Limits keyLimits, Limits accountLimits, ActionHold action,
                          KeySpend keySpend) {

  /** A proxied request's reservation, its key with a budget ({@code keySpend}) or not (null). */
  public Reservation(UUID eventId, long accountId, long keyId, long credits, long estimatedTokens,
                     CreditPolicy creditPolicy, Limits keyLimits, Limits accountLimits, KeySpend keySpend) {
    this(eventId, accountId, keyId, credits, estimatedTokens, creditPolicy, keyLimits, accountLimits, null, keySpend);
  }

  /** A proxied request's reservation, its key without a budget. */
  public Reservation(UUID eventId, long accountId, long keyId, long credits, long estimatedTokens,
                     CreditPolicy creditPolicy, Limits keyLimits, Limits accountLimits) {
    this(eventId, accountId, keyId, credits, estimatedTokens, creditPolicy, keyLimits, accountLimits, null, null);
  }

  /** As admit.lua writes it (for an action, the script writes the part from the credits on). */
  public String member() {
    String base = eventId + ":" + accountId + ":" + credits + ":" + creditPolicy.code();
    if (action != null) {
      base = base + ":" + (action.tier() == null ? "" : action.tier()) + ":" + action.fromAllowance() + ":" + action.generation()
          + ":" + keyId + ":" + action.quantity() + ":" + action.action();
    }
    return keySpend == null ? base : base + budgetSuffix(keySpend);
  }

  /** What a key with a budget appends to its reservations' members. */
  static String budgetSuffix(KeySpend spend) {
    return ":" + spend.spendKeyId() + ":" + spend.window();
  }

  /**
   * The sweeper's view of a member: account, credits and how the balance was involved; for a
   * billable action also its tier ("" none), allowance units and their generation; for a key with
   * a budget its spend counter (else null).
   */
  record Parsed(long accountId, long credits, CreditPolicy creditPolicy, String tier, long fromAllowance, long generation,
                Long spendKeyId, String window) {
  }

  static Parsed parse(String member) {
    String[] parts = member.split(":", -1);
    boolean action = parts.length >= 10;
    boolean budget = parts.length == 6 || parts.length == 12;
    return new Parsed(Long.parseLong(parts[1]), Long.parseLong(parts[2]), CreditPolicy.ofCode(parts[3]),
        action ? parts[4] : "", action ? Long.parseLong(parts[5]) : 0, action ? Long.parseLong(parts[6]) : 0,
        budget ? Long.valueOf(parts[parts.length - 2]) : null, budget ? parts[parts.length - 1] : null);
  }

  /**
   * A billable action's reservation read back from its member (the id the ingest API hands out),
   * or empty when the text is not one. Whether it is still held is for the scripts to say. The
   * key budget's counter comes back with it; its budget amount and window start (only needed to
   * admit) do not.
   */
  public static java.util.Optional<Reservation> ofActionMember(String member) {
    String[] parts = member.split(":", -1);
    if (parts.length != 10 && parts.length != 12) {
      return java.util.Optional.empty();
    }
    try {
      ActionHold hold = new ActionHold(parts[9], parts[4].isEmpty() ? null : parts[4], Long.parseLong(parts[8]),
          Long.parseLong(parts[5]), Long.parseLong(parts[6]));
      KeySpend spend = parts.length == 12 ? new KeySpend(Long.parseLong(parts[10]), parts[11], 0, java.time.Instant.EPOCH) : null;
      return java.util.Optional.of(new Reservation(UUID.fromString(parts[0]), Long.parseLong(parts[1]), Long.parseLong(parts[7]),
          Long.parseLong(parts[2]), 0, CreditPolicy.ofCode(parts[3]), Limits.UNLIMITED, Limits.UNLIMITED, hold, spend));
    } catch (IllegalArgumentException e) {
      return java.util.Optional.empty();
    }
  }
}
