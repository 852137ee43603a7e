package io.tollgate.stripesync;

import java.time.Duration;
import java.util.Optional;

/** Why a call to Stripe failed, as far as retrying is concerned. The message never holds a key. */
public final class SendFailure extends Exception {

  /** What the caller should do about it. */
  public enum Kind {
    /** 429: wait ({@link #retryAfter()} when Stripe said how long) and retry. */
    RATE_LIMITED,
    /** 5xx, timeout, connection error, authentication trouble: retry with backoff; the breaker counts these. */
    TRANSIENT,
    /** The v2 session token expired: refresh it and retry at once. */
    SESSION_EXPIRED,
    /** The request is wrong and will stay wrong (unknown customer, bad timestamp, no such meter): dead-letter it. */
    PERMANENT
  }

  private final Kind kind;
  private final transient Optional<Duration> retryAfter;
  private final Integer status;

  public SendFailure(Kind kind, String message, Integer status, Optional<Duration> retryAfter, Throwable cause) {
    super(message, cause);
    this.kind = kind;
    this.status = status;
    this.retryAfter = retryAfter;
  }

  public Kind kind() {
    return kind;
  }

  public Optional<Duration> retryAfter() {
    return retryAfter;
  }

  /** The HTTP status Stripe answered, if it answered. */
  public Optional<Integer> status() {
    return Optional.ofNullable(status);
  }

  /** A short label for metrics: rate_limited, server_error, timeout_or_connection, session_expired, permanent. */
  public String reason() {
    return switch (kind) {
      case RATE_LIMITED -> "rate_limited";
      case SESSION_EXPIRED -> "session_expired";
      case PERMANENT -> "permanent";
      case TRANSIENT -> status == null ? "timeout_or_connection" : status >= 500 ? "server_error" : "client_error";
    };
  }
}
