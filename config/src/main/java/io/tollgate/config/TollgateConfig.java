package io.tollgate.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The whole configuration, immutable, produced only by {@link ConfigLoader} after validation. */
public record TollgateConfig(ServerConfig server, RedisConfig redis, PostgresConfig postgres, Path dataDir,
                             UpstreamClientConfig upstreamClient, List<RouteConfig> routes, PricingConfig pricing,
                             Map<String, PlanConfig> plans, MeteringConfig metering, Secrets secrets, Optional<Path> source) {

  public TollgateConfig {
    routes = List.copyOf(routes);
    plans = Map.copyOf(plans);
  }

  /** The named plan, or the free plan when an account names one that is not configured. */
  public PlanConfig plan(String name) {
    PlanConfig plan = name == null ? null : plans.get(name);
    return plan != null ? plan : plans.getOrDefault("free", new PlanConfig("free", 0, 0, 0));
  }
}
