package io.tollgate.metering.admission;

/**
 * What admission and settlement do with an account's credit balance in Redis. The code is what
 * the Lua scripts receive and what a reservation member carries (so the sweeper refunds the same
 * way); {@code 1} and {@code 0} are the codes members carried before {@link #CHARGE} existed.
 */
public enum CreditPolicy {
  /** Refuse (402) what the balance cannot cover; reserve, then charge the actual cost. */
  ENFORCE("1"),
  /**
   * A hybrid account whose plan bills overage: the balance pays what it can of each actual cost and
   * the rest is the event's overage, which reaches Stripe through the meter and is never taken from
   * the balance (so a later top-up is not spent on usage already billed). Refuses for credits only
   * when the account's spend cap on overage would be passed; without a cap it never refuses.
   */
  CHARGE("2"),
  /** The balance is not involved: a postpaid account without a spend cap. */
  NONE("0");

  private final String code;

  CreditPolicy(String code) {
    this.code = code;
  }

  public String code() {
    return code;
  }

  /** The policy for an account that enforces credits or not, on a plan that bills its overage or not. */
  public static CreditPolicy of(boolean enforcesCredits, boolean billsOverage) {
    return !enforcesCredits ? NONE : billsOverage ? CHARGE : ENFORCE;
  }

  static CreditPolicy ofCode(String code) {
    for (CreditPolicy p : values()) {
      if (p.code.equals(code)) {
        return p;
      }
    }
    throw new IllegalArgumentException("unknown credit policy code " + code);
  }
}
