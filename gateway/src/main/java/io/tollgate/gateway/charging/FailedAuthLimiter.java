package io.tollgate.gateway.charging;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts failed authentications in fixed one-minute windows, in process, in two kinds of bucket:
 * per client IP for keys that are malformed or unknown (guessing), and per client IP and key for
 * keys that exist but can no longer be used (revoked, expired). Past the limit a bucket gets 429.
 *
 * <p>A key that is valid is never checked against either bucket, so a tenant with a working key
 * is never locked out by what others behind the same address (a NAT, a corporate proxy) do; and
 * one client retrying a stale revoked key only locks out that key from that address. The price:
 * a blocked address's well-formed keys are still looked up (from the key cache, Postgres on a
 * miss) to tell a valid one from a guess. Per instance by design: it needs no Redis round trip.
 */
public final class FailedAuthLimiter {

  private final int perMinute;
  private final Cache<String, AtomicInteger> failures = Caffeine.newBuilder()
      .expireAfterWrite(Duration.ofMinutes(1))
      .maximumSize(100_000)
      .build();

  public FailedAuthLimiter(int perMinute) {
    this.perMinute = perMinute;
  }

  /** Whether this address may not try any more malformed or unknown keys this minute. */
  public boolean blocked(String ip) {
    return over(ip);
  }

  public void failed(String ip) {
    count(ip);
  }

  /** Whether this address may not present this (revoked or expired) key again this minute. */
  public boolean blocked(String ip, String keyHashHex) {
    return over(ip + " " + keyHashHex);
  }

  public void failed(String ip, String keyHashHex) {
    count(ip + " " + keyHashHex);
  }

  private boolean over(String bucket) {
    AtomicInteger count = failures.getIfPresent(bucket);
    return count != null && count.get() >= perMinute;
  }

  private void count(String bucket) {
    failures.get(bucket, k -> new AtomicInteger()).incrementAndGet();
  }
}
