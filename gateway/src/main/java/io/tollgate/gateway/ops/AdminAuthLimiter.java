package io.tollgate.gateway.ops;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Clock;
import java.time.Duration;

/**
 * Counts wrong admin tokens per client IP in fixed one-minute windows, in process. Past
 * {@link #PER_MINUTE} failures an IP's further wrong tokens are answered 429 with the seconds
 * left in its window. It only ever slows wrong tokens: the right token is checked first and
 * always passes, so a misbehaving script next to the operator cannot lock the operator out.
 */
public final class AdminAuthLimiter {

  /** Wrong admin tokens per client IP per minute answered 401; the ones after that get 429. */
  public static final int PER_MINUTE = 10;
  private static final long WINDOW_MILLIS = 60_000;
  /** Bounds the memory one attacker with many source addresses can take. */
  private static final int MAX_TRACKED = 100_000;

  private record Window(long startedAt, int failures) {
  }

  private final Clock clock;
  private final Cache<String, Window> windows = Caffeine.newBuilder()
      .expireAfterWrite(Duration.ofMillis(WINDOW_MILLIS))
      .maximumSize(MAX_TRACKED)
      .build();

  public AdminAuthLimiter(Clock clock) {
    this.clock = clock;
  }

  /**
   * Records one wrong token from {@code ip}. Returns 0 while the IP is within its allowance,
   * otherwise the whole seconds (at least 1) until its window ends.
   */
  public long failed(String ip) {
    long now = clock.millis();
    Window window = windows.asMap().compute(ip, (k, w) -> w == null || now - w.startedAt() >= WINDOW_MILLIS
        ? new Window(now, 1) : new Window(w.startedAt(), w.failures() + 1));
    if (window.failures() <= PER_MINUTE) {
      return 0;
    }
    long left = window.startedAt() + WINDOW_MILLIS - now;
    return Math.max(1, (left + 999) / 1000);
  }
}
