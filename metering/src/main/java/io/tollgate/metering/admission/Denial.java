package io.tollgate.metering.admission;

/** Why admission said no — or {@link #NONE}. Each has a stable code for errors and metrics. */
public enum Denial {
  NONE("allowed"),
  KEY_REQUESTS("key_requests_per_minute"),
  KEY_TOKENS("key_tokens_per_minute"),
  ACCOUNT_REQUESTS("account_requests_per_minute"),
  ACCOUNT_TOKENS("account_tokens_per_minute"),
  CREDITS("insufficient_credits"),
  TOO_LARGE("request_exceeds_tokens_per_minute"),
  UNSEEDED("balance_not_loaded"),
  /** A billable action's event whose id was admitted before (ingest idempotency). */
  DUPLICATE("duplicate"),
  /** The key's budget cannot cover this request; the account's other keys are not affected. */
  KEY_BUDGET("key_budget_exhausted"),
  KEY_BUDGET_UNSEEDED("key_budget_not_loaded");

  private final String code;

  Denial(String code) {
    this.code = code;
  }

  public String code() {
    return code;
  }

  /** The reason code admit.lua returns: the declaration order above is its numbering (0-10). */
  static Denial of(int reason) {
    return values()[reason];
  }

  /** Rate limits clear with time; credits and oversize requests do not. */
  public boolean isRateLimit() {
    return this == KEY_REQUESTS || this == KEY_TOKENS || this == ACCOUNT_REQUESTS || this == ACCOUNT_TOKENS;
  }
}
