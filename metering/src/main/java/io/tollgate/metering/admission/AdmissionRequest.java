package io.tollgate.metering.admission;

import java.util.UUID;

/**
 * What one request asks for: its key and account limits, its token estimate (input estimate plus
 * {@code max_tokens}) and the credits to hold until it settles.
 */
public record AdmissionRequest(UUID eventId, long accountId, long keyId, Limits keyLimits, Limits accountLimits,
                               long estimatedTokens, long reserveCredits, CreditPolicy credits) {
}
