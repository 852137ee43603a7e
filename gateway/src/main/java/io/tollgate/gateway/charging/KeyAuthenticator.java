package io.tollgate.gateway.charging;

import io.tollgate.gateway.errors.GatewayFailure;
import io.tollgate.metering.keys.ApiKeyFormat;
import io.tollgate.metering.keys.KeyVerifier;
import io.tollgate.metering.keys.KeyVerifier.Expired;
import io.tollgate.metering.keys.KeyVerifier.Forbidden;
import io.tollgate.metering.keys.KeyVerifier.Revoked;
import io.tollgate.metering.keys.KeyVerifier.Valid;
import io.tollgate.metering.keys.KeyVerifier.Verdict;
import io.vertx.core.Future;
import io.vertx.core.http.HttpServerRequest;
import java.util.HexFormat;
import java.util.Optional;

/**
 * API-key authentication on the public port, one implementation for every surface that takes an
 * account's key (the proxy's metered routes, the ingest API), so that a key is refused with the
 * same status, code and message, under the same failed-authentication limit, and counted in
 * {@code tollgate_admission_decisions_total} the same way wherever it is presented.
 *
 * <p>A refusal is a failed future holding a {@link GatewayFailure} whose decision has already
 * been counted here, exactly once; the caller only renders it in its own envelope. The key itself
 * never leaves this class: the limiter sees its hash, messages and metric labels neither.
 */
public final class KeyAuthenticator {

  private static final String CHALLENGE = "Bearer realm=\"tollgate\"";

  private final KeyVerifier keys;
  private final FailedAuthLimiter failedAuth;
  private final MeteringMetrics metrics;

  public KeyAuthenticator(KeyVerifier keys, FailedAuthLimiter failedAuth, MeteringMetrics metrics) {
    this.keys = keys;
    this.failedAuth = failedAuth;
    this.metrics = metrics;
  }

  /**
   * The grant of the key {@code request} presents, for a route ({@code routePrefix}, and the plan
   * {@code feature} it requires); or a failed future with the {@link GatewayFailure} to answer:
   * 401, 403, 429 past the failed-authentication limit, 503 when the key store cannot be reached.
   */
  public Future<Valid> authenticate(HttpServerRequest request, String routePrefix, Optional<String> feature) {
    String ip = request.remoteAddress() == null ? "unknown" : request.remoteAddress().hostAddress();
    String key = presentedKey(request);
    ApiKeyFormat.Problem problem = ApiKeyFormat.check(key);
    if (problem != ApiKeyFormat.Problem.NONE) {
      return Future.failedFuture(unauthenticated(ip, null,
          problem == ApiKeyFormat.Problem.MISSING ? "missing_api_key" : "invalid_api_key", problem.message()));
    }
    byte[] hash = ApiKeyFormat.hash(key);
    // Looked up before the failed-authentication limit is consulted: a valid key always passes it.
    return keys.verify(hash, routePrefix, feature).transform(ar -> ar.succeeded()
        ? decide(ip, hash, ar.result())
        // Fails closed: a key that cannot be looked up is not let through.
        : Future.failedFuture(metrics.unavailable("the key store (Postgres) cannot be reached")));
  }

  /** A key's verdict, or the refusal it earns; Java 17 has no pattern switch, the sealed Verdict keeps this list complete. */
  private Future<Valid> decide(String ip, byte[] keyHash, Verdict verdict) {
    if (verdict instanceof Valid valid) {
      return Future.succeededFuture(valid);
    }
    if (verdict instanceof Forbidden f) {
      metrics.decision("forbidden", f.code());
      return Future.failedFuture(forbidden(f));
    }
    if (verdict instanceof Revoked) {
      return Future.failedFuture(unauthenticated(ip, HexFormat.of().formatHex(keyHash), "revoked_api_key",
          "this API key has been revoked"));
    }
    if (verdict instanceof Expired) {
      return Future.failedFuture(unauthenticated(ip, HexFormat.of().formatHex(keyHash), "expired_api_key",
          "this API key has expired"));
    }
    return Future.failedFuture(unauthenticated(ip, null, "invalid_api_key", "unknown API key"));
  }

  /**
   * A 403 for a rule that refuses a live key, not counted: the proxy also refuses with it after
   * authentication (a model the key or plan excludes) and counts that refusal itself.
   */
  public static GatewayFailure forbidden(Forbidden f) {
    return new GatewayFailure(403, "permission_error", f.code(), f.message());
  }

  /**
   * 401, or 429 once this address has failed too often: with unknown or malformed keys
   * ({@code keyHash} null, counted per address), or with this one existing but unusable key
   * (counted per address and key, so that it locks out nobody else behind the address).
   */
  private GatewayFailure unauthenticated(String ip, String keyHash, String code, String message) {
    if (keyHash == null ? failedAuth.blocked(ip) : failedAuth.blocked(ip, keyHash)) {
      metrics.decision("refused", "failed_auth_limit");
      return new GatewayFailure(429, "rate_limit_error", "too_many_failed_authentications",
          keyHash == null ? "too many failed authentications from this address; try again in a minute"
              : "this key was refused too often from this address; try again in a minute").withHeader("retry-after", "60");
    }
    if (keyHash == null) {
      failedAuth.failed(ip);
    } else {
      failedAuth.failed(ip, keyHash);
    }
    metrics.decision("unauthenticated", code);
    return new GatewayFailure(401, "invalid_request_error", code, message).withHeader("www-authenticate", CHALLENGE);
  }

  private static String presentedKey(HttpServerRequest request) {
    String auth = request.getHeader("authorization");
    if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return auth.substring(7).trim();
    }
    String apiKey = request.getHeader("x-api-key");
    return apiKey == null ? null : apiKey.trim();
  }
}
