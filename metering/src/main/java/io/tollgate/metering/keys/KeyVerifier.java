package io.tollgate.metering.keys;

import io.tollgate.config.PlanConfig;
import io.tollgate.metering.accounts.AccountStatus;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Function;

/**
 * Decides whether a presented key may call a route: the key and policy rules of the hot path,
 * without HTTP. Grants come from an in-process cache (no Postgres in the steady state); the
 * edge maps each {@link Verdict} to its own status codes.
 */
public final class KeyVerifier {

  /** What the verifier concluded about a key for one route. */
  public sealed interface Verdict permits Valid, Unknown, Revoked, Expired, Forbidden {
  }

  /** The key may call the route; {@code plan} is the account's plan. */
  public record Valid(KeyGrant grant, PlanConfig plan) implements Verdict {
  }

  /** No key has this hash. */
  public record Unknown() implements Verdict {
  }

  public record Revoked() implements Verdict {
  }

  public record Expired() implements Verdict {
  }

  /** A known, live key that this rule refuses; {@code code} is machine-readable, {@code message} says why. */
  public record Forbidden(String code, String message) implements Verdict {
  }

  private final KeyCache cache;
  private final LastUsedRecorder lastUsed;
  private final Function<String, PlanConfig> plans;
  private final Clock clock;

  public KeyVerifier(ApiKeyStore keys, Pool pool, Duration cacheTtl, Duration negativeCacheTtl,
                     Function<String, PlanConfig> plans, Clock clock) {
    this.cache = new KeyCache(keys, pool, cacheTtl, negativeCacheTtl);
    this.lastUsed = new LastUsedRecorder(keys, pool, clock);
    this.plans = plans;
    this.clock = clock;
  }

  /**
   * Verifies a well-formed key's hash for a route. Fails (rather than answering {@link Unknown})
   * when the key store cannot be reached, so the caller can fail closed.
   */
  public Future<Verdict> verify(byte[] keyHash, String routePrefix, Optional<String> feature) {
    return cache.get(keyHash).map(found -> decide(found, routePrefix, feature));
  }

  private Verdict decide(Optional<KeyGrant> found, String routePrefix, Optional<String> feature) {
    if (found.isEmpty()) {
      return new Unknown();
    }
    KeyGrant grant = found.get();
    if (grant.revoked()) {
      return new Revoked();
    }
    if (grant.expiredAt(clock.instant())) {
      return new Expired();
    }
    if (!AccountStatus.of(grant.accountStatus()).admitsTraffic()) {
      return new Forbidden("account_inactive", "the account of this API key is " + grant.accountStatus());
    }
    if (!grant.allowsRoute(routePrefix)) {
      return new Forbidden("route_not_allowed", "this API key may not call " + routePrefix);
    }
    PlanConfig plan = plans.apply(grant.plan());
    if (feature.isPresent() && !plan.hasFeature(feature.get())) {
      return new Forbidden("feature_not_in_plan",
          "plan " + plan.name() + " does not include " + feature.get() + ", which " + routePrefix + " requires");
    }
    lastUsed.used(grant.keyId());
    return new Valid(grant, plan);
  }

  /** Whether the key or its plan limits the models it may call (a request must then name a readable model). */
  public boolean restrictsModels(Valid valid) {
    return valid.grant().restrictsModels() || valid.plan().restrictsModels();
  }

  /** The key's and the plan's model restrictions, for the model the request names. */
  public Optional<Forbidden> checkModel(Valid valid, String model) {
    if (!valid.grant().allowsModel(model)) {
      return Optional.of(new Forbidden("model_not_allowed", "this API key may not use model " + model));
    }
    if (!valid.plan().allowsModel(model)) {
      return Optional.of(new Forbidden("model_not_in_plan", "plan " + valid.plan().name() + " does not include model " + model));
    }
    return Optional.empty();
  }

  /** Writes the batched last-used times. */
  public Future<Void> flushLastUsed() {
    return lastUsed.flush();
  }

  void invalidate(String hashHex) {
    cache.invalidate(hashHex);
  }

  void invalidateAll() {
    cache.invalidateAll();
  }
}
