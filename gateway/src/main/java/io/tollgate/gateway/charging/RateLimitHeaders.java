package io.tollgate.gateway.charging;

import io.tollgate.metering.admission.Decision;
import io.vertx.core.MultiMap;

/**
 * The {@code x-ratelimit-*} headers OpenAI clients read, from the tightest buckets. Resets are
 * durations as OpenAI writes them ({@code 250ms}, {@code 1.5s}, {@code 2m3s}).
 */
final class RateLimitHeaders {

  private RateLimitHeaders() {
  }

  static void apply(MultiMap headers, Decision d) {
    if (d.limitRequests() > 0) {
      headers.set("x-ratelimit-limit-requests", Long.toString(d.limitRequests()));
      headers.set("x-ratelimit-remaining-requests", Long.toString(Math.max(0, d.remainingRequests())));
      headers.set("x-ratelimit-reset-requests", duration(d.resetRequestsMs()));
    }
    if (d.limitTokens() > 0) {
      headers.set("x-ratelimit-limit-tokens", Long.toString(d.limitTokens()));
      headers.set("x-ratelimit-remaining-tokens", Long.toString(Math.max(0, d.remainingTokens())));
      headers.set("x-ratelimit-reset-tokens", duration(d.resetTokensMs()));
    }
  }

  static String duration(long ms) {
    if (ms < 1_000) {
      return Math.max(0, ms) + "ms";
    }
    if (ms < 60_000) {
      long tenths = (ms + 99) / 100;
      return tenths % 10 == 0 ? (tenths / 10) + "s" : (tenths / 10) + "." + (tenths % 10) + "s";
    }
    long seconds = (ms + 999) / 1000;
    return (seconds / 60) + "m" + (seconds % 60) + "s";
  }

  /** Whole seconds for {@code Retry-After}, at least 1. */
  static String retryAfterSeconds(long ms) {
    return Long.toString(Math.max(1, (ms + 999) / 1000));
  }
}
