package io.tollgate.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The whole configuration, immutable and already validated; {@link ConfigLoader} is the way to get one.
 *
 * @param dataDir  where embedded Redis and Postgres keep their data
 * @param routes   proxy routes in file order (the gateway picks the longest matching prefix)
 * @param plans    by name; always holds a {@code free} plan when produced by {@link ConfigLoader}
 * @param metering hot-path metering settings (not in the original contract sketch; see docs/configuration.md)
 * @param alerts   delivery of usage alerts to accounts' webhooks
 * @param stripe   Stripe meter sync
 * @param billing  Stripe webhooks, subscriptions, credit packs, dunning and auto top-up
 * @param actions  billable actions and their tiers, reported through the ingest API
 * @param source   the file the configuration was read from; empty for pure defaults and {@link ConfigLoader#fromYaml}
 */
public record TollgateConfig(ServerConfig server, RedisConfig redis, PostgresConfig postgres, Path dataDir,
                             UpstreamClientConfig upstreamClient, List<RouteConfig> routes, PricingConfig pricing,
                             Map<String, PlanConfig> plans, MeteringConfig metering, AlertsConfig alerts, StripeConfig stripe,
                             BillingConfig billing, ActionCatalog actions, Secrets secrets, Optional<Path> source) {

  public TollgateConfig {
    routes = List.copyOf(routes);
    plans = Map.copyOf(plans);
  }

  /** Without {@code tiers} and {@code actions}: the ingest API knows no action. */
  public TollgateConfig(ServerConfig server, RedisConfig redis, PostgresConfig postgres, Path dataDir,
                        UpstreamClientConfig upstreamClient, List<RouteConfig> routes, PricingConfig pricing,
                        Map<String, PlanConfig> plans, MeteringConfig metering, AlertsConfig alerts, StripeConfig stripe,
                        BillingConfig billing, Secrets secrets, Optional<Path> source) {
    this(server, redis, postgres, dataDir, upstreamClient, routes, pricing, plans, metering, alerts, stripe, billing,
        ActionCatalog.none(), secrets, source);
  }

  /** Without a {@code billing} section: webhooks and dunning take their defaults, no credit packs. */
  public TollgateConfig(ServerConfig server, RedisConfig redis, PostgresConfig postgres, Path dataDir,
                        UpstreamClientConfig upstreamClient, List<RouteConfig> routes, PricingConfig pricing,
                        Map<String, PlanConfig> plans, MeteringConfig metering, AlertsConfig alerts, StripeConfig stripe,
                        Secrets secrets, Optional<Path> source) {
    this(server, redis, postgres, dataDir, upstreamClient, routes, pricing, plans, metering, alerts, stripe,
        BillingConfig.defaults(), secrets, source);
  }

  /** Without a {@code stripe} section: meter sync takes its defaults. */
  public TollgateConfig(ServerConfig server, RedisConfig redis, PostgresConfig postgres, Path dataDir,
                        UpstreamClientConfig upstreamClient, List<RouteConfig> routes, PricingConfig pricing,
                        Map<String, PlanConfig> plans, MeteringConfig metering, AlertsConfig alerts, Secrets secrets,
                        Optional<Path> source) {
    this(server, redis, postgres, dataDir, upstreamClient, routes, pricing, plans, metering, alerts, StripeConfig.defaults(),
        secrets, source);
  }

  /** Without an {@code alerts} section: alert delivery takes its defaults. */
  public TollgateConfig(ServerConfig server, RedisConfig redis, PostgresConfig postgres, Path dataDir,
                        UpstreamClientConfig upstreamClient, List<RouteConfig> routes, PricingConfig pricing,
                        Map<String, PlanConfig> plans, MeteringConfig metering, Secrets secrets, Optional<Path> source) {
    this(server, redis, postgres, dataDir, upstreamClient, routes, pricing, plans, metering, AlertsConfig.defaults(), secrets, source);
  }

  /** The contract's shape, without a {@code metering} section: metering takes its defaults. */
  public TollgateConfig(ServerConfig server, RedisConfig redis, PostgresConfig postgres, Path dataDir,
                        UpstreamClientConfig upstreamClient, List<RouteConfig> routes, PricingConfig pricing,
                        Map<String, PlanConfig> plans, Secrets secrets, Optional<Path> source) {
    this(server, redis, postgres, dataDir, upstreamClient, routes, pricing, plans, MeteringConfig.defaults(), secrets, source);
  }

  /**
   * The named plan, or the free plan when the name is not configured: an account whose plan was
   * removed from the file keeps working at free-plan limits rather than failing or going unlimited.
   */
  public PlanConfig plan(String name) {
    PlanConfig plan = name == null ? null : plans.get(name);
    return plan != null ? plan : plans.getOrDefault(Defaults.FREE_PLAN_NAME, Defaults.FREE_PLAN);
  }

  /** The same configuration with other server settings (the ports actually bound), every other section kept. */
  public TollgateConfig withServer(ServerConfig newServer) {
    return new TollgateConfig(newServer, redis, postgres, dataDir, upstreamClient, routes, pricing, plans, metering, alerts, stripe,
        billing, actions, secrets, source);
  }

  /** The plan a Stripe price sells, if any (each price belongs to at most one plan). */
  public Optional<PlanConfig> planForPrice(String priceId) {
    return plans.values().stream().filter(p -> p.stripePrices().contains(priceId)).findFirst();
  }

  /** The plan accounts fall back to: new accounts, downgrades after failed payment or cancellation. */
  public static String freePlanName() {
    return Defaults.FREE_PLAN_NAME;
  }
}
