package io.tollgate.config;

import java.net.URI;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Turns the parsed YAML tree plus the environment into a {@link TollgateConfig}. Every reader
 * records its problems and carries on with a default, so one pass finds them all.
 */
final class ConfigReader {

  private static final List<String> REDIS_SCHEMES = List.of("redis", "rediss");
  private static final List<String> POSTGRES_SCHEMES = List.of("postgresql", "postgres");
  /** Feature, model and pack names. */
  static final java.util.regex.Pattern NAME = java.util.regex.Pattern.compile("[A-Za-z0-9_.:/-]{1,64}");
  private static final java.util.regex.Pattern STRIPE_PRICE = java.util.regex.Pattern.compile("price_[A-Za-z0-9_]{1,200}");

  private final Environment env;

  private ConfigReader(Environment env) {
    this.env = env;
  }

  static TollgateConfig read(Map<?, ?> root, String source, Map<String, String> environment, Problems problems,
                             Optional<Path> file) {
    ConfigReader reader = new ConfigReader(new Environment(environment, problems));
    YamlSection top = new YamlSection(root, "", source, problems);
    // Read in file order of the documented example, so "known:" lists in messages read like the docs.
    ServerConfig server = reader.server(top.section("server"));
    RedisConfig redis = reader.redis(top.section("redis"));
    PostgresConfig postgres = reader.postgres(top.section("postgres"));
    Path dataDir = reader.dataDir(top);
    UpstreamClientConfig upstreamClient = upstreamClient(top.section("upstreamClient"));
    List<RouteConfig> routes = RouteReader.read(top, reader.env);
    PricingConfig pricing = pricing(top.section("pricing"));
    ActionCatalog actions = actions(top);
    Map<String, PlanConfig> plans = plans(top, actions);
    MeteringConfig metering = metering(top.section("metering"));
    AlertsConfig alerts = alerts(top.section("alerts"), reader.env);
    StripeConfig stripe = stripe(top.section("stripe"));
    BillingConfig billing = billing(top.section("billing"));
    crossCheck(top, routes, plans, billing);
    top.finish();
    Secrets secrets = new Secrets(reader.env.secret("TOLLGATE_ADMIN_TOKEN"), reader.env.secret("STRIPE_API_KEY"),
        reader.env.secret("STRIPE_WEBHOOK_SECRET"), reader.env.secret("TOLLGATE_ALERT_WEBHOOK_SECRET"));
    AdminTokenPolicy.check(secrets.adminToken(), server.adminHost(), reader.env);
    problems.throwIfAny();
    return new TollgateConfig(server, redis, postgres, dataDir, upstreamClient, routes, pricing, plans, metering,
        alerts, stripe, billing, actions, secrets, file);
  }

  private ServerConfig server(YamlSection s) {
    String fileHost = s.string("host").orElse(Defaults.HOST);
    if (fileHost.isBlank()) {
      s.problem("host", "must not be empty (0.0.0.0 listens on every interface)");
    }
    String host = env.get("TOLLGATE_HOST").orElse(fileHost);
    String fileAdminHost = s.string("adminHost").orElse(Defaults.ADMIN_HOST);
    if (fileAdminHost.isBlank()) {
      s.problem("adminHost", "must not be empty (127.0.0.1 keeps the admin API on this machine)");
    }
    String adminHost = env.get("TOLLGATE_ADMIN_HOST").orElse(fileAdminHost);
    int filePort = s.port("port", Defaults.PROXY_PORT);
    int fileAdminPort = s.port("adminPort", Defaults.ADMIN_PORT);
    Optional<Integer> envPort = env.port("TOLLGATE_PROXY_PORT");
    Optional<Integer> envAdminPort = env.port("TOLLGATE_ADMIN_PORT");
    int port = envPort.orElse(filePort);
    int adminPort = envAdminPort.orElse(fileAdminPort);
    int eventLoops = env.integer("TOLLGATE_EVENT_LOOPS", 1, 256)
        .orElse(s.integer("eventLoops", Defaults.EVENT_LOOPS, 1, 256)).intValue();
    long maxBodyBytes = env.integer("TOLLGATE_MAX_BODY_BYTES", 1, Long.MAX_VALUE)
        .orElse(s.integer("maxBodyBytes", Defaults.MAX_BODY_BYTES, 1, Long.MAX_VALUE));
    // 0 is allowed: stop at once, cutting in-flight requests (useful in tests and throwaway runs).
    long grace = s.integer("shutdownGraceSeconds", Defaults.SHUTDOWN_GRACE_SECONDS, 0, 3_600);
    int maxConnections = env.integer("TOLLGATE_MAX_CONNECTIONS", 1, 1_000_000)
        .orElse(s.integer("maxConnections", Defaults.MAX_CLIENT_CONNECTIONS, 1, 1_000_000)).intValue();
    int adminMaxConnections = (int) s.integer("adminMaxConnections", Defaults.ADMIN_MAX_CLIENT_CONNECTIONS, 1, 100_000);
    long headerTimeoutMs = s.integer("requestHeaderTimeoutMs", Defaults.HEADER_TIMEOUT_MS, 100, 600_000);
    s.finish();
    if (port != 0 && port == adminPort) {
      // Blame the setting that made them equal, which may be the environment's.
      if (envAdminPort.isPresent()) {
        env.problem("TOLLGATE_ADMIN_PORT", "must differ from the proxy port (both are " + port + ")");
      } else if (envPort.isPresent()) {
        env.problem("TOLLGATE_PROXY_PORT", "must differ from the admin port (both are " + port + ")");
      } else {
        s.problem("adminPort", "must differ from server.port (both are " + port + ")");
      }
    }
    return new ServerConfig(host, adminHost, port, adminPort, eventLoops, maxBodyBytes, Duration.ofSeconds(grace), maxConnections,
        adminMaxConnections, Duration.ofMillis(headerTimeoutMs));
  }

  private RedisConfig redis(YamlSection s) {
    RedisMode mode = redisMode(s);
    // Each seed of a cluster list is checked on its own, so a problem names the bad seed, masked.
    ServerUrl serverUrl = serverUrl(s, "REDIS_URL", REDIS_SCHEMES, RedisConfig::split);
    Optional<String> fileUrl = serverUrl.file();
    Optional<String> envUrl = serverUrl.env();
    Optional<String> url = serverUrl.chosen();
    String several = "lists %d URLs: several seed nodes need redis.mode: cluster (or REDIS_MODE=cluster)";
    if (mode == RedisMode.STANDALONE && envUrl.isPresent() && RedisConfig.split(envUrl.get()).size() > 1) {
      env.problem("REDIS_URL", several.formatted(RedisConfig.split(envUrl.get()).size()));
    } else if (mode == RedisMode.STANDALONE && envUrl.isEmpty() && fileUrl.isPresent() && RedisConfig.split(fileUrl.get()).size() > 1) {
      s.problem("url", several.formatted(RedisConfig.split(fileUrl.get()).size()));
    }
    if (mode == RedisMode.CLUSTER && url.isEmpty()) {
      String missing = "cluster needs its seed nodes in redis.url or REDIS_URL (comma-separated redis:// URLs); "
          + "the embedded Redis is standalone only";
      if (env.get("REDIS_MODE").isPresent()) {
        env.problem("REDIS_MODE", missing);
      } else {
        s.problem("mode", missing);
      }
    }
    int poolSize = (int) s.integer("poolSize", Defaults.POOL_SIZE, 1, 1024);
    int batchSize = (int) s.integer("batchSize", Defaults.REDIS_BATCH_SIZE, 1, 1000);
    int settleWaitReplicas = (int) s.integer("settleWaitReplicas", 0, 0, 16);
    long settleWaitMs = s.integer("settleWaitMs", Defaults.REDIS_SETTLE_WAIT_MS, 1, 60_000);
    s.finish();
    return new RedisConfig(url, poolSize, mode, batchSize, settleWaitReplicas, settleWaitMs);
  }

  private RedisMode redisMode(YamlSection s) {
    String allowed = "expected one of standalone | cluster, got ";
    RedisMode fileMode = s.string("mode").map(text -> parseMode(text).orElseGet(() -> {
      s.problem("mode", allowed + YamlSection.describe(text));
      return RedisMode.STANDALONE;
    })).orElse(RedisMode.STANDALONE);
    return env.get("REDIS_MODE").map(text -> parseMode(text).orElseGet(() -> {
      env.problem("REDIS_MODE", allowed + YamlSection.describe(text));
      return fileMode;
    })).orElse(fileMode);
  }

  private static Optional<RedisMode> parseMode(String text) {
    return java.util.Arrays.stream(RedisMode.values()).filter(m -> m.yamlName().equals(text)).findFirst();
  }

  private PostgresConfig postgres(YamlSection s) {
    // One URL, checked whole: only Redis reads a comma-separated list (of cluster seeds).
    Optional<String> url = serverUrl(s, "DATABASE_URL", POSTGRES_SCHEMES, List::of).chosen();
    int poolSize = (int) s.integer("poolSize", Defaults.POOL_SIZE, 1, 1024);
    s.finish();
    return new PostgresConfig(url, poolSize);
  }

  /** A backing server's URL as the file and the environment give it; the environment's wins. */
  private record ServerUrl(Optional<String> file, Optional<String> env) {

    Optional<String> chosen() {
      return env.or(() -> file);
    }
  }

  /**
   * Reads and checks a backing server's URL: the file's {@code url} and {@code envName}, each of
   * the URLs {@code split} finds in them on its own (Postgres takes one URL, a Redis cluster
   * several seeds). The file's may not carry a password: secrets come only from the environment.
   */
  private ServerUrl serverUrl(YamlSection s, String envName, List<String> schemes, Function<String, List<String>> split) {
    String expected = "expected a " + String.join(":// or ", schemes) + ":// URL with a host, got ";
    Optional<String> fileUrl = s.string("url");
    fileUrl.ifPresent(urls -> {
      for (String url : split.apply(urls)) {
        if (Urls.parseWithScheme(url, schemes) == null) {
          s.problem("url", expected + YamlSection.describe(Urls.mask(url)));
        } else if (Urls.hasPassword(url)) {
          s.problem("url", "has a password (" + YamlSection.describe(Urls.mask(url))
              + "): secrets come only from the environment: set " + envName);
        }
      }
    });
    Optional<String> envUrl = env.get(envName);
    envUrl.ifPresent(urls -> {
      for (String url : split.apply(urls)) {
        if (Urls.parseWithScheme(url, schemes) == null) {
          env.problem(envName, expected + YamlSection.describe(Urls.mask(url)));
        }
      }
    });
    return new ServerUrl(fileUrl, envUrl);
  }

  private Path dataDir(YamlSection top) {
    String fileDir = top.string("dataDir").orElse(Defaults.DATA_DIR);
    Optional<String> envDir = env.get("TOLLGATE_DATA_DIR");
    String dir = envDir.orElse(fileDir);
    try {
      if (dir.isBlank()) {
        top.problem("dataDir", "must not be empty");
      } else {
        return Path.of(dir);
      }
    } catch (InvalidPathException e) {
      String reason = "not a usable path: " + e.getReason();
      if (envDir.isPresent()) {
        env.problem("TOLLGATE_DATA_DIR", reason);
      } else {
        top.problem("dataDir", reason);
      }
    }
    return Path.of(Defaults.DATA_DIR);
  }

  private static UpstreamClientConfig upstreamClient(YamlSection s) {
    UpstreamClientConfig config = new UpstreamClientConfig(
        Duration.ofMillis(s.integer("connectTimeoutMs", Defaults.CONNECT_TIMEOUT_MS, 1, 600_000)),
        Duration.ofMillis(s.integer("idleTimeoutMs", Defaults.IDLE_TIMEOUT_MS, 1, 3_600_000)),
        Duration.ofMillis(s.integer("responseTimeoutMs", Defaults.RESPONSE_TIMEOUT_MS, 1, 3_600_000)),
        (int) s.integer("maxConnectionsPerUpstream", Defaults.MAX_CONNECTIONS, 1, 100_000),
        s.bool("http2", Defaults.HTTP2),
        TlsReader.read(s.section("tls")));
    s.finish();
    return config;
  }

  private static PricingConfig pricing(YamlSection s) {
    Map<String, ModelPrice> models = new LinkedHashMap<>();
    s.namedEntries("models").forEach((name, value) -> models.put(name, price(s.child(s.key("models") + "." + name, value))));
    ModelPrice fallback = s.has("default") ? price(s.section("default")) : Defaults.defaultPrice();
    s.finish();
    return new PricingConfig(models, fallback);
  }

  /** Both sides are required: a price silently defaulting to 0 would give tokens away. */
  private static ModelPrice price(YamlSection p) {
    long input = p.credits("input", 0, 0);
    long output = p.credits("output", 0, 0);
    if (!p.has("input") && !p.misshapen()) {
      p.problem("input", "is required (credits per 1M input tokens)");
    }
    if (!p.has("output") && !p.misshapen()) {
      p.problem("output", "is required (credits per 1M output tokens)");
    }
    p.finish();
    return new ModelPrice(input, output);
  }

  private static Map<String, PlanConfig> plans(YamlSection top, ActionCatalog actions) {
    if (!top.has("plans")) {
      return Map.of(Defaults.FREE_PLAN_NAME, Defaults.FREE_PLAN);
    }
    Map<String, PlanConfig> plans = new LinkedHashMap<>();
    top.namedEntries("plans").forEach((name, value) -> plans.put(name, plan(name, top.child("plans." + name, value), actions)));
    if (!plans.containsKey(Defaults.FREE_PLAN_NAME)) {
      top.problem("plans", "must define a \"free\" plan (new accounts and downgraded accounts use it)");
    }
    return plans;
  }

  /** Every limit is required: a forgotten one must not quietly become another plan's, or unlimited. */
  private static PlanConfig plan(String name, YamlSection p, ActionCatalog actions) {
    long rpm = required(p, "requestsPerMinute", "requests per minute, 0 = unlimited");
    long tpm = required(p, "tokensPerMinute", "tokens per minute, 0 = unlimited");
    if (!p.has("includedCredits") && !p.misshapen()) {
      p.problem("includedCredits", "is required (credits granted each period)");
    }
    long included = p.credits("includedCredits", 0, 0);
    List<Integer> thresholds = alertThresholds(p);
    List<String> prices = names(p, "stripePrices", STRIPE_PRICE, "Stripe price ids (price_...)");
    List<String> models = names(p, "models", NAME, "model names");
    List<String> features = names(p, "features", NAME, "feature names (letters, digits, '_', '-', '.')");
    String overage = p.string("overage").orElse("block");
    if (!overage.equals("block") && !overage.equals("bill")) {
      p.problem("overage", "expected block | bill, got " + YamlSection.describe(overage));
    }
    Map<String, Long> allowances = new LinkedHashMap<>();
    p.namedEntries("allowances").forEach((tier, count) -> {
      if (!actions.tiers().containsKey(tier)) {
        p.problem("allowances." + tier, "is not a tier (known: " + String.join(", ", actions.tiers().keySet()) + ")");
      } else if (count instanceof Integer || count instanceof Long) {
        long n = ((Number) count).longValue();
        if (n < 0 || n > MAX_ALLOWANCE) {
          p.problem("allowances." + tier, "expected actions per period 0-" + MAX_ALLOWANCE + ", got " + n);
        } else {
          allowances.put(tier, n);
        }
      } else {
        p.problem("allowances." + tier, "expected a whole number of actions per period, got " + YamlSection.describe(count));
      }
    });
    p.finish();
    return new PlanConfig(name, rpm, tpm, included, thresholds, prices, models, features,
        overage.equals("bill") ? PlanConfig.Overage.BILL : PlanConfig.Overage.BLOCK, allowances);
  }

  /** Bounds a tier's allowance so that allowance × price stays exact in the Lua scripts (below 2^53). */
  static final long MAX_ALLOWANCE = 1_000_000_000L;
  /**
   * Bounds a unit price, for the same reason (a quantity is at most 1,000,000): 1,000,000 credits,
   * in units ({@link Credits}).
   */
  static final long MAX_UNIT_CREDITS = Credits.ofWhole(1_000_000);

  /**
   * {@code tiers:} (name → credits per unit) and {@code actions:} (name → a tier's name, or
   * {@code {tier: name}}, or {@code {credits: n}}).
   */
  private static ActionCatalog actions(YamlSection top) {
    Map<String, Long> tiers = new LinkedHashMap<>();
    top.namedEntries("tiers").forEach((name, value) -> {
      if (!ActionCatalog.TIER_NAME.matcher(name).matches()) {
        top.problem("tiers." + name, "expected a tier name (1-32 letters, digits, '_', '-')");
      }
      creditAmount(top, "tiers." + name, value).ifPresent(credits -> tiers.put(name, credits));
    });
    Map<String, ActionCatalog.Action> actions = new LinkedHashMap<>();
    top.namedEntries("actions").forEach((name, value) -> {
      String path = "actions." + name;
      if (!ActionCatalog.ACTION_NAME.matcher(name).matches()) {
        top.problem(path, "expected an action name (1-64 letters, digits, '_', '-', '.')");
      }
      if (value instanceof String tier) {
        if (!tiers.containsKey(tier)) {
          top.problem(path, "names tier " + YamlSection.describe(tier) + ", which tiers does not define (known: "
              + String.join(", ", tiers.keySet()) + ")");
        } else {
          actions.put(name, new ActionCatalog.Action(name, tier, 0));
        }
        return;
      }
      YamlSection a = top.child(path, value);
      Optional<String> tier = a.string("tier");
      boolean hasCredits = a.has("credits");
      Optional<Long> credits = hasCredits ? creditAmount(top, path + ".credits", valueOf(value, "credits")) : Optional.empty();
      a.finish();
      if (a.misshapen()) {
        return;
      }
      if (tier.isPresent() == hasCredits) {
        a.problem("expected either a tier or credits of its own (tier: small, or credits: 3)");
      } else if (tier.isPresent() && !tiers.containsKey(tier.get())) {
        a.problem("tier", "names tier " + YamlSection.describe(tier.get()) + ", which tiers does not define (known: "
            + String.join(", ", tiers.keySet()) + ")");
      } else if (tier.isPresent()) {
        actions.put(name, new ActionCatalog.Action(name, tier.get(), 0));
      } else {
        credits.ifPresent(c -> actions.put(name, new ActionCatalog.Action(name, null, c)));
      }
    });
    return new ActionCatalog(tiers, actions);
  }

  private static Object valueOf(Object mapping, String key) {
    return mapping instanceof Map<?, ?> m ? m.get(key) : null;
  }

  /**
   * A price in credits (an exact decimal, at most three places: {@code 2.5}) as ledger units, at
   * most {@link #MAX_UNIT_CREDITS}: the one place where a configured action price is turned into
   * units ({@link Credits}).
   */
  private static Optional<Long> creditAmount(YamlSection at, String path, Object value) {
    return YamlSection.creditUnits(value, 0, MAX_UNIT_CREDITS, message -> at.problem(path, message));
  }

  /** A list of distinct names, each matching {@code pattern}. */
  private static List<String> names(YamlSection p, String key, java.util.regex.Pattern pattern, String expected) {
    java.util.LinkedHashSet<String> out = new java.util.LinkedHashSet<>();
    List<?> raw = p.list(key);
    for (int i = 0; i < raw.size(); i++) {
      Object v = raw.get(i);
      if (v instanceof String s && pattern.matcher(s).matches()) {
        if (!out.add(s)) {
          p.problem(key, "lists " + YamlSection.describe(s) + " twice");
        }
      } else {
        p.problem(key, "expected " + expected + ", got " + YamlSection.describe(v) + " at position " + i);
      }
    }
    return List.copyOf(out);
  }

  /** Rules that span sections: a price sells one plan or pack, a route's feature is some plan's. */
  private static void crossCheck(YamlSection top, List<RouteConfig> routes, Map<String, PlanConfig> plans, BillingConfig billing) {
    Map<String, String> sellers = new LinkedHashMap<>();
    plans.values().forEach(plan -> plan.stripePrices().forEach(price -> {
      String other = sellers.putIfAbsent(price, "plans." + plan.name());
      if (other != null) {
        top.problem("plans." + plan.name() + ".stripePrices", price + " already sells " + other + " (a price sells one plan)");
      }
    }));
    billing.creditPacks().values().forEach(pack -> {
      String other = sellers.putIfAbsent(pack.stripePrice(), "billing.creditPacks." + pack.name());
      if (other != null) {
        top.problem("billing.creditPacks." + pack.name() + ".stripePrice", pack.stripePrice() + " already sells " + other);
      }
    });
    for (int i = 0; i < routes.size(); i++) {
      RouteConfig route = routes.get(i);
      int index = i;
      route.feature().ifPresent(f -> {
        if (plans.values().stream().noneMatch(p -> p.hasFeature(f))) {
          top.problem("routes[" + index + "].feature", "no plan includes feature " + YamlSection.describe(f)
              + " (add it to a plan's features, or the route is closed to everyone)");
        }
      });
    }
  }

  private static BillingConfig billing(YamlSection s) {
    Duration tolerance = Duration.ofSeconds(s.integer("webhookToleranceSeconds", Defaults.WEBHOOK_TOLERANCE_SECONDS, 1, 86_400));
    int maxAttempts = (int) s.integer("webhookMaxAttempts", Defaults.WEBHOOK_MAX_ATTEMPTS, 1, 100);
    Duration retryBase = Duration.ofMillis(s.integer("webhookRetryBaseMs", Defaults.WEBHOOK_RETRY_BASE_MS, 1, 3_600_000));
    Duration grace = Duration.ofDays(s.integer("gracePeriodDays", Defaults.GRACE_PERIOD_DAYS, 0, 90));
    Duration cooldown = Duration.ofMinutes(s.integer("autoTopUpCooldownMinutes", Defaults.AUTO_TOP_UP_COOLDOWN_MINUTES, 1, 10_080));
    Optional<URI> success = returnUrl(s, "checkoutSuccessUrl");
    Optional<URI> cancel = returnUrl(s, "checkoutCancelUrl");
    Optional<URI> portal = returnUrl(s, "portalReturnUrl");
    // Stripe accepts trial_period_days up to 730.
    int trialDays = (int) s.integer("trialDays", Defaults.TRIAL_DAYS, 1, 730);
    Map<String, BillingConfig.CreditPack> packs = new LinkedHashMap<>();
    s.namedEntries("creditPacks").forEach((name, value) -> {
      YamlSection p = s.child(s.key("creditPacks") + "." + name, value);
      if (!NAME.matcher(name).matches()) {
        s.problem("creditPacks." + name, "expected a pack name (letters, digits, '_', '-', '.')");
      }
      long credits = p.credits("credits", 0, 1);
      String price = p.string("stripePrice").orElse("");
      long amount = p.integer("amount", 0, 1, Long.MAX_VALUE);
      String currency = p.string("currency").orElse("usd");
      for (String key : List.of("credits", "stripePrice", "amount")) {
        if (!p.has(key) && !p.misshapen()) {
          p.problem(key, "is required (" + switch (key) {
            case "credits" -> "credits the pack grants";
            case "stripePrice" -> "the one-off Stripe price, price_...";
            default -> "its price in the currency's smallest unit, charged by auto top-up";
          } + ")");
        }
      }
      if (p.has("stripePrice") && !STRIPE_PRICE.matcher(price).matches()) {
        p.problem("stripePrice", "expected a Stripe price id (price_...), got " + YamlSection.describe(price));
      }
      if (!currency.matches("[a-z]{3}")) {
        p.problem("currency", "expected a three-letter ISO currency code in lower case (usd), got " + YamlSection.describe(currency));
      }
      p.finish();
      packs.put(name, new BillingConfig.CreditPack(name, credits, price, amount, currency));
    });
    s.finish();
    return new BillingConfig(tolerance, maxAttempts, retryBase, grace, cooldown, success, cancel, portal, packs, trialDays);
  }

  private static Optional<URI> returnUrl(YamlSection s, String key) {
    Optional<String> raw = s.string(key);
    if (raw.isEmpty()) {
      return Optional.empty();
    }
    URI uri = Urls.parseWithScheme(raw.get(), List.of("http", "https"));
    if (uri == null) {
      s.problem(key, "expected an absolute http(s) URL, got " + YamlSection.describe(Urls.mask(raw.get())));
      return Optional.empty();
    }
    return Optional.of(uri);
  }

  /** Percentages 1-1000 (above 100: overage alerts for postpaid accounts), ascending and distinct. */
  private static List<Integer> alertThresholds(YamlSection p) {
    if (!p.has("alertThresholds")) {
      return PlanConfig.DEFAULT_ALERT_THRESHOLDS;
    }
    java.util.TreeSet<Integer> out = new java.util.TreeSet<>();
    List<?> raw = p.list("alertThresholds");
    for (int i = 0; i < raw.size(); i++) {
      Object v = raw.get(i);
      if (v instanceof Integer n && n >= 1 && n <= 1_000) {
        out.add(n);
      } else {
        p.problem("alertThresholds", "expected percentages 1-1000, got " + YamlSection.describe(v) + " at position " + i);
      }
    }
    return List.copyOf(out);
  }

  private static StripeConfig stripe(YamlSection s) {
    String transport = s.string("transport").orElse("v2");
    if (!transport.equals("v2") && !transport.equals("v1")) {
      s.problem("transport", "expected v2 | v1, got " + YamlSection.describe(transport));
    }
    String eventName = s.string("meterEventName").orElse(Defaults.STRIPE_METER_EVENT_NAME);
    if (eventName.isBlank() || eventName.length() > 100) {
      s.problem("meterEventName", "must be 1-100 characters (the event name of a Stripe meter)");
    }
    Optional<String> meterId = s.string("meterId");
    URI apiBase = stripeUrl(s, "apiBase", Defaults.STRIPE_API_BASE);
    URI meterEventsBase = stripeUrl(s, "meterEventsBase", Defaults.STRIPE_METER_EVENTS_BASE);
    StripeConfig config = new StripeConfig(transport, eventName, meterId,
        Duration.ofMillis(s.integer("syncIntervalMs", Defaults.STRIPE_SYNC_INTERVAL_MS, 100, 3_600_000)),
        apiBase, meterEventsBase,
        Duration.ofHours(s.integer("reconcileIntervalHours", Defaults.STRIPE_RECONCILE_HOURS, 1, 720)),
        s.integer("driftAlertPercent", Defaults.STRIPE_DRIFT_ALERT_PERCENT, 0, 100));
    s.finish();
    return config;
  }

  private static URI stripeUrl(YamlSection s, String key, String fallback) {
    Optional<String> raw = s.string(key);
    if (raw.isEmpty()) {
      return URI.create(fallback);
    }
    URI uri = Urls.parseWithScheme(raw.get(), List.of("http", "https"));
    if (uri == null || uri.getRawUserInfo() != null) {
      s.problem(key, "expected an http(s) URL without credentials, got " + YamlSection.describe(Urls.mask(raw.get())));
      return URI.create(fallback);
    }
    String text = raw.get();
    return URI.create(text.endsWith("/") ? text.substring(0, text.length() - 1) : text);
  }

  private static AlertsConfig alerts(YamlSection s, Environment env) {
    AlertsConfig config = new AlertsConfig(
        (int) s.integer("maxAttempts", Defaults.ALERT_MAX_ATTEMPTS, 1, 100),
        Duration.ofMillis(s.integer("retryBaseMs", Defaults.ALERT_RETRY_BASE_MS, 1, 3_600_000)),
        Duration.ofMillis(s.integer("timeoutMs", Defaults.ALERT_TIMEOUT_MS, 1, 600_000)),
        email(s.section("email"), env));
    s.finish();
    return config;
  }

  private static final java.util.regex.Pattern EMAIL = java.util.regex.Pattern.compile("[^@\\s<>,;]+@[^@\\s<>,;]+");

  /** {@code alerts.email}: SMTP settings; the password only from {@code TOLLGATE_SMTP_PASSWORD}. */
  private static MailConfig email(YamlSection s, Environment env) {
    Optional<Secret> password = env.secret("TOLLGATE_SMTP_PASSWORD");
    Optional<String> host = s.string("host");
    int port = s.port("port", Defaults.SMTP_PORT);
    Optional<String> from = s.string("from");
    Optional<String> username = s.string("username");
    String startTls = s.string("startTls").orElse("optional");
    boolean ssl = s.bool("ssl", false);
    if (!java.util.Set.of("disabled", "optional", "required").contains(startTls)) {
      s.problem("startTls", "must be disabled, optional or required, got " + YamlSection.describe(startTls));
    }
    if (host.isPresent() && host.get().isBlank()) {
      s.problem("host", "must not be empty (leave alerts.email out to send no mail)");
    }
    if (host.isPresent() && from.isEmpty()) {
      s.problem("from", "is required with alerts.email.host (the sender address, e.g. billing@example.com)");
    }
    if (from.isPresent() && !EMAIL.matcher(from.get()).matches()) {
      s.problem("from", "must be an email address such as billing@example.com, got " + YamlSection.describe(from.get()));
    }
    if (host.isEmpty() && (from.isPresent() || username.isPresent())) {
      s.problem("host", "is required when alerts.email sets from or username (the SMTP server)");
    }
    if (password.isPresent() && username.isEmpty() && host.isPresent()) {
      s.problem("username", "is required when TOLLGATE_SMTP_PASSWORD is set (SMTP AUTH needs both)");
    }
    s.finish();
    return host.isEmpty() ? MailConfig.off()
        : new MailConfig(host.get(), port, from.orElse(null), username.orElse(null), password, startTls, ssl);
  }

  private static long required(YamlSection p, String key, String meaning) {
    if (!p.has(key) && !p.misshapen()) {
      p.problem(key, "is required (" + meaning + ")");
    }
    return p.integer(key, 0, 0, Long.MAX_VALUE);
  }

  private static MeteringConfig metering(YamlSection s) {
    MeteringConfig config = new MeteringConfig(
        (int) s.integer("shards", Defaults.SHARDS, 1, 1024),
        Duration.ofSeconds(s.integer("reservationTtlSeconds", Defaults.RESERVATION_TTL_SECONDS, 10, 86_400)),
        Duration.ofSeconds(s.integer("keyCacheTtlSeconds", Defaults.KEY_CACHE_TTL_SECONDS, 1, 3_600)),
        Duration.ofSeconds(s.integer("negativeCacheTtlSeconds", Defaults.NEGATIVE_CACHE_TTL_SECONDS, 1, 3_600)),
        (int) s.integer("failedAuthPerMinute", Defaults.FAILED_AUTH_PER_MINUTE, 1, 1_000_000),
        s.integer("defaultMaxTokens", Defaults.DEFAULT_MAX_TOKENS, 1, 10_000_000),
        Duration.ofHours(s.integer("keyRotationOverlapHours", Defaults.KEY_ROTATION_OVERLAP_HOURS, 0, 8_760)),
        Duration.ofSeconds(s.integer("lastUsedFlushSeconds", Defaults.LAST_USED_FLUSH_SECONDS, 1, 3_600)),
        Duration.ofMillis(s.integer("flushIntervalMs", Defaults.FLUSH_INTERVAL_MS, 10, 60_000)),
        (int) s.integer("flushBatchSize", Defaults.FLUSH_BATCH_SIZE, 1, 10_000),
        Duration.ofSeconds(s.integer("claimIdleSeconds", Defaults.CLAIM_IDLE_SECONDS, 1, 86_400)),
        RouteReader.enumValue(s, "clientAbort", ClientAbortPolicy.values(), ClientAbortPolicy::yamlName)
            .orElse(Defaults.CLIENT_ABORT),
        Duration.ofSeconds(s.integer("abortDrainTimeoutSeconds", Defaults.ABORT_DRAIN_TIMEOUT_SECONDS, 1, 600)),
        s.integer("abortDrainMaxBytes", Defaults.ABORT_DRAIN_MAX_BYTES, 1_024, 1_073_741_824));
    s.finish();
    return config;
  }
}
