package io.tollgate.metering.admission;

/** Per-minute limits; a value ≤ 0 means unlimited. */
public record Limits(long requestsPerMinute, long tokensPerMinute) {

  public static final Limits UNLIMITED = new Limits(0, 0);
}
