package io.tollgate.gateway.charging;

/** What a request whose client hung up is charged (see {@code metering.clientAbort} in docs/configuration.md). */
enum AbortCharge {
  /** Never forwarded in full, or the upstream answered with an error: nothing. */
  NOTHING,
  /** The usage observed: reported by the upstream, else estimated from what it sent. */
  MEASURED,
  /** The reservation: the request's worst case, as admitted. */
  RESERVATION
}
