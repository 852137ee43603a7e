package io.tollgate.gateway.charging;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts failed authentications per client IP in fixed one-minute windows, in process. Past the
 * limit an IP gets 429 before its key is even looked at, which stops key guessing from costing
 * lookups. Per instance by design: it needs no Redis round trip before authentication.
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

  boolean blocked(String ip) {
    AtomicInteger count = failures.getIfPresent(ip);
    return count != null && count.get() >= perMinute;
  }

  void failed(String ip) {
    failures.get(ip, k -> new AtomicInteger()).incrementAndGet();
  }
}
