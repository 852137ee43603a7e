package io.tollgate.gateway.console;

import io.vertx.core.http.Cookie;
import io.vertx.core.http.CookieSameSite;
import io.vertx.ext.web.RoutingContext;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;

/**
 * Console sessions without server state: the cookie holds a random session id and its expiry,
 * signed with a key derived from the admin token. The CSRF token of a session is the signature
 * of its id for another purpose: forms carry it, and a request from another site can neither
 * read it nor (SameSite=Strict) send the cookie. Signing out clears the cookie and lists the
 * session as revoked until it would have expired ({@link #TTL}), so a copy of the cookie stops
 * working too; changing the admin token ends every session.
 */
final class ConsoleSessions {

  static final String COOKIE = "tollgate_console";
  /** The pre-session cookie that the sign-in form's CSRF token is checked against (double submit). */
  static final String SIGN_IN_COOKIE = "tollgate_console_signin";
  static final Duration TTL = Duration.ofHours(8);
  static final String PATH = "/console";

  private final Signer sessions;
  private final Signer csrf;
  private final Clock clock;

  ConsoleSessions(String adminToken, Clock clock) {
    this.sessions = new Signer(adminToken, "session");
    this.csrf = new Signer(adminToken, "csrf");
    this.clock = clock;
  }

  /** A new signed session cookie. */
  Cookie open(RoutingContext ctx) {
    long expires = clock.instant().plus(TTL).getEpochSecond();
    String payload = Signer.random(18) + "." + expires;
    return cookie(ctx, COOKIE, payload + "." + sessions.sign(payload), TTL.toSeconds());
  }

  /** The cookie that ends the session in this browser. */
  Cookie close(RoutingContext ctx) {
    return cookie(ctx, COOKIE, "", 0);
  }

  /** A session as its cookie says: its id and when it expires. */
  record Session(String id, java.time.Instant expiresAt) {
    /** Its name in the revocation list. */
    String tokenId() {
      return "session:" + id;
    }
  }

  /** The request's session, if its cookie is signed and unexpired (whether it was signed out is checked apart). */
  Optional<Session> session(RoutingContext ctx) {
    Cookie c = ctx.request().getCookie(COOKIE);
    if (c == null) {
      return Optional.empty();
    }
    String[] parts = c.getValue().split("\\.");
    if (parts.length != 3 || !sessions.verify(parts[0] + "." + parts[1], parts[2])) {
      return Optional.empty();
    }
    try {
      long expires = Long.parseLong(parts[1]);
      if (expires <= clock.instant().getEpochSecond()) {
        return Optional.empty();
      }
      return Optional.of(new Session(parts[0], java.time.Instant.ofEpochSecond(expires)));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  String csrfToken(String sessionId) {
    return csrf.sign("session." + sessionId);
  }

  boolean csrfValid(String sessionId, String token) {
    return token != null && csrf.verify("session." + sessionId, token);
  }

  /** A fresh value for the sign-in form and its cookie. */
  Cookie signInCookie(RoutingContext ctx, String value) {
    return cookie(ctx, SIGN_IN_COOKIE, value, Duration.ofHours(1).toSeconds());
  }

  /**
   * HttpOnly (no script reads it), SameSite=Strict (no other site sends it), Secure when the
   * console was reached over TLS (directly, or through a proxy that says so).
   */
  static Cookie cookie(RoutingContext ctx, String name, String value, long maxAgeSeconds) {
    boolean tls = ctx.request().isSSL() || "https".equalsIgnoreCase(ctx.request().getHeader("x-forwarded-proto"));
    return Cookie.cookie(name, value).setPath(PATH).setHttpOnly(true).setSameSite(CookieSameSite.STRICT)
        .setSecure(tls).setMaxAge(maxAgeSeconds);
  }
}
