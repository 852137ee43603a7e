package io.tollgate.metering.admission;

import java.util.Optional;

/**
 * The answer of one admission round trip. Remaining/limit/reset describe the tightest request
 * and token buckets (−1 when unlimited), as the {@code x-ratelimit-*} headers report them.
 * {@code duplicateOf} is the event id an idempotent action was first admitted under, when the
 * denial is {@link Denial#DUPLICATE}.
 */
public record Decision(Denial denial, long remainingRequests, long remainingTokens, long resetRequestsMs,
                       long resetTokensMs, long retryAfterMs, long balance, long limitRequests, long limitTokens,
                       Optional<Reservation> reservation, String duplicateOf) {

  public Decision(Denial denial, long remainingRequests, long remainingTokens, long resetRequestsMs,
                  long resetTokensMs, long retryAfterMs, long balance, long limitRequests, long limitTokens,
                  Optional<Reservation> reservation) {
    this(denial, remainingRequests, remainingTokens, resetRequestsMs, resetTokensMs, retryAfterMs, balance, limitRequests,
        limitTokens, reservation, null);
  }

  public boolean allowed() {
    return denial == Denial.NONE;
  }
}
