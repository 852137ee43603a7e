package io.tollgate.gateway.ops;

import io.tollgate.config.Secret;
import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.Optional;

/**
 * Bearer-token check for the admin API. The comparison is constant-time so the token cannot be
 * guessed byte by byte from response timings. Without a configured token the admin API is
 * closed (503), never open. Wrong tokens are limited per client IP ({@link AdminAuthLimiter}):
 * past the allowance they get 429 with Retry-After; the right token always passes.
 */
final class AdminAuth implements Handler<RoutingContext> {

  private final Optional<byte[]> token;
  private final AdminAuthLimiter limiter = new AdminAuthLimiter(Clock.systemUTC());

  AdminAuth(Optional<Secret> token) {
    this.token = token.map(t -> t.reveal().getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public void handle(RoutingContext ctx) {
    if (token.isEmpty()) {
      Problems.send(ctx, 503, "admin-disabled", "Admin API disabled",
          "set TOLLGATE_ADMIN_TOKEN in the environment to enable the admin API");
      return;
    }
    String header = ctx.request().getHeader("authorization");
    if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      ctx.response().putHeader("www-authenticate", "Bearer realm=\"tollgate-admin\"");
      Problems.send(ctx, 401, "unauthorized", "Missing admin token",
          "send the admin token as 'Authorization: Bearer <token>'");
      return;
    }
    byte[] given = header.substring(7).trim().getBytes(StandardCharsets.UTF_8);
    if (!MessageDigest.isEqual(given, token.get())) {
      String ip = ctx.request().remoteAddress() == null ? "unknown" : ctx.request().remoteAddress().hostAddress();
      long retryAfter = limiter.failed(ip);
      if (retryAfter > 0) {
        ctx.response().putHeader("retry-after", Long.toString(retryAfter));
        Problems.send(ctx, 429, "too-many-admin-auth-failures", "Too many wrong admin tokens",
            "more than " + AdminAuthLimiter.PER_MINUTE + " wrong admin tokens from " + ip
                + " in a minute; retry after " + retryAfter + " s");
        return;
      }
      ctx.response().putHeader("www-authenticate", "Bearer realm=\"tollgate-admin\", error=\"invalid_token\"");
      Problems.send(ctx, 401, "unauthorized", "Invalid admin token", "the admin token is not valid");
      return;
    }
    ctx.next();
  }
}
