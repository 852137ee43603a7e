package io.tollgate.metering.admission;

import java.util.UUID;

/**
 * What one request asks for: its key and account limits, its token estimate (input estimate plus
 * {@code max_tokens}) and the credits to hold until it settles. {@code overageCap} bounds the
 * overage of a {@link CreditPolicy#CHARGE} account per billing period (its spend cap); negative
 * means unlimited, and it is ignored under the other policies. {@code action} is set for a billable
 * action reported through the ingest API (then the script computes the credits to reserve when a
 * tier's allowance applies), null for a proxied request. {@code keySpend}: the key's budget, null
 * when it has none.
 */
public record AdmissionRequest(UUID eventId, long accountId, long keyId, Limits keyLimits, Limits accountLimits,
                               long estimatedTokens, long reserveCredits, CreditPolicy credits, long overageCap,
                               ActionAdmission action, KeySpend keySpend) {

  /** A proxied request whose key has a budget ({@code keySpend}) or not (null). */
  public AdmissionRequest(UUID eventId, long accountId, long keyId, Limits keyLimits, Limits accountLimits,
                          long estimatedTokens, long reserveCredits, CreditPolicy credits, long overageCap, KeySpend keySpend) {
    this(eventId, accountId, keyId, keyLimits, accountLimits, estimatedTokens, reserveCredits, credits, overageCap, null, keySpend);
  }

  /** A proxied request whose key has no budget. */
  public AdmissionRequest(UUID eventId, long accountId, long keyId, Limits keyLimits, Limits accountLimits,
                          long estimatedTokens, long reserveCredits, CreditPolicy credits, long overageCap) {
    this(eventId, accountId, keyId, keyLimits, accountLimits, estimatedTokens, reserveCredits, credits, overageCap, null);
  }

  /** A request without an overage cap. */
  public AdmissionRequest(UUID eventId, long accountId, long keyId, Limits keyLimits, Limits accountLimits,
                          long estimatedTokens, long reserveCredits, CreditPolicy credits) {
    this(eventId, accountId, keyId, keyLimits, accountLimits, estimatedTokens, reserveCredits, credits, -1);
  }
}
