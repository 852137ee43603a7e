package io.tollgate.metering.accounts;

import java.util.Locale;

/**
 * An account's lifecycle state, as stored in {@code accounts.status}. Which states may spend is
 * decided here and nowhere else.
 */
public enum AccountStatus {
  ACTIVE, TRIALING, PAST_DUE, SUSPENDED, CANCELED;

  /** The stored spelling ({@code past_due}, ...). */
  public String dbValue() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Accounts in these states are served; {@code past_due} keeps serving through its grace period. */
  public boolean admitsTraffic() {
    return this == ACTIVE || this == TRIALING || this == PAST_DUE;
  }

  /** Parses a stored or requested status; {@link IllegalArgumentException} names the accepted values. */
  public static AccountStatus of(String value) {
    for (AccountStatus s : values()) {
      if (s.dbValue().equals(value)) {
        return s;
      }
    }
    throw new IllegalArgumentException("unknown account status " + value + "; expected one of " + spellings());
  }

  /** The accepted spellings, for error messages. */
  public static String spellings() {
    StringBuilder out = new StringBuilder();
    for (AccountStatus s : values()) {
      out.append(out.length() == 0 ? "" : ", ").append(s.dbValue());
    }
    return out.toString();
  }
}
