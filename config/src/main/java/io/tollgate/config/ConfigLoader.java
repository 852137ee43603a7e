package io.tollgate.config;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * Reads {@code tollgate.yaml}, applies environment overrides and validates everything, reporting
 * all problems at once in a {@link ConfigException}. Defaults live in {@link Defaults}.
 */
public final class ConfigLoader {

  private ConfigLoader() {
  }

  /**
   * The file comes from {@code --config FILE} (or {@code --config=FILE}), else {@code TOLLGATE_CONFIG},
   * else {@code ./tollgate.yaml} if present; with none, the defaults apply.
   */
  public static TollgateConfig load(String[] args, Map<String, String> env) {
    Optional<Path> file = Optional.empty();
    List<String> problems = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (arg.equals("--config") && i + 1 < args.length) {
        file = Optional.of(Path.of(args[++i]));
      } else if (arg.startsWith("--config=")) {
        file = Optional.of(Path.of(arg.substring("--config=".length())));
      } else {
        problems.add("command line: unknown argument \"" + arg + "\" (usage: tollgate [--config FILE])");
      }
    }
    if (!problems.isEmpty()) {
      throw new ConfigException(problems);
    }
    if (file.isEmpty() && nonEmpty(env.get("TOLLGATE_CONFIG"))) {
      file = Optional.of(Path.of(env.get("TOLLGATE_CONFIG")));
    }
    if (file.isEmpty() && Files.isRegularFile(Path.of("tollgate.yaml"))) {
      file = Optional.of(Path.of("tollgate.yaml"));
    }
    return load(file, env);
  }

  public static TollgateConfig load(Optional<Path> file, Map<String, String> env) {
    if (file.isEmpty()) {
      return parse("", "(defaults)", env, Optional.empty());
    }
    Path path = file.get();
    if (!Files.isRegularFile(path)) {
      throw new ConfigException(List.of(path + ": configuration file not found (from --config or TOLLGATE_CONFIG)"));
    }
    try {
      return parse(Files.readString(path), path.getFileName().toString(), env, Optional.of(path));
    } catch (IOException e) {
      throw new ConfigException(List.of(path + ": cannot read configuration file: " + e.getMessage()));
    }
  }

  /** Parses YAML text as if read from a file called {@code sourceName}; for tests and tools. */
  public static TollgateConfig fromYaml(String yaml, String sourceName, Map<String, String> env) {
    return parse(yaml, sourceName, env, Optional.empty());
  }

  private static TollgateConfig parse(String yaml, String source, Map<String, String> env, Optional<Path> path) {
    Problems problems = new Problems();
    Map<?, ?> root = readYaml(yaml, source, problems);
    YamlSection top = new YamlSection(root, "", source, problems);

    ServerConfig server = server(top.section("server"), env, problems);
    RedisConfig redis = redis(top.section("redis"), env, problems);
    PostgresConfig postgres = postgres(top.section("postgres"), env, problems);
    Path dataDir = Path.of(envOr(env, "TOLLGATE_DATA_DIR", top.string("dataDir").orElse(Defaults.DATA_DIR)));
    UpstreamClientConfig upstreamClient = upstreamClient(top.section("upstreamClient"));
    List<RouteConfig> routes = routes(top, env, problems, source);
    PricingConfig pricing = pricing(top.section("pricing"));
    Map<String, PlanConfig> plans = plans(top);
    MeteringConfig metering = metering(top.section("metering"));
    top.finish();

    Secrets secrets = new Secrets(secret(env, "TOLLGATE_ADMIN_TOKEN"), secret(env, "STRIPE_API_KEY"),
        secret(env, "STRIPE_WEBHOOK_SECRET"));
    problems.throwIfAny();
    return new TollgateConfig(server, redis, postgres, dataDir, upstreamClient, routes, pricing, plans, metering, secrets, path);
  }

  private static Map<?, ?> readYaml(String yaml, String source, Problems problems) {
    LoaderOptions options = new LoaderOptions();
    options.setAllowDuplicateKeys(false);
    try {
      Object loaded = new Yaml(new SafeConstructor(options)).load(yaml);
      if (loaded == null) {
        return Map.of();
      }
      if (loaded instanceof Map<?, ?> map) {
        return map;
      }
      problems.plain(source + ": the file must be a YAML mapping (key: value), got " + YamlSection.describe(loaded));
    } catch (MarkedYAMLException e) {
      String where = e.getProblemMark() == null ? "" : " at line " + (e.getProblemMark().getLine() + 1)
          + ", column " + (e.getProblemMark().getColumn() + 1);
      problems.plain(source + ": invalid YAML" + where + ": " + e.getProblem()
          + (e.getContext() == null ? "" : " (" + e.getContext() + ")"));
    } catch (YAMLException e) {
      problems.plain(source + ": invalid YAML: " + e.getMessage());
    }
    return Map.of();
  }

  private static ServerConfig server(YamlSection s, Map<String, String> env, Problems problems) {
    String host = envOr(env, "TOLLGATE_HOST", s.string("host").orElse(Defaults.HOST));
    int port = (int) envInt(env, "TOLLGATE_PROXY_PORT", s.integer("port", Defaults.PROXY_PORT, 0, 65535), 0, 65535, problems);
    int adminPort = (int) envInt(env, "TOLLGATE_ADMIN_PORT", s.integer("adminPort", Defaults.ADMIN_PORT, 0, 65535), 0, 65535, problems);
    int eventLoops = (int) envInt(env, "TOLLGATE_EVENT_LOOPS", s.integer("eventLoops", Defaults.EVENT_LOOPS, 1, 256), 1, 256, problems);
    long maxBody = envInt(env, "TOLLGATE_MAX_BODY_BYTES", s.integer("maxBodyBytes", Defaults.MAX_BODY_BYTES, 1, Long.MAX_VALUE), 1, Long.MAX_VALUE, problems);
    long grace = s.integer("shutdownGraceSeconds", Defaults.SHUTDOWN_GRACE_SECONDS, 0, 3600);
    s.finish();
    if (port != 0 && port == adminPort) {
      s.problem("adminPort", "must differ from server.port (both are " + port + ")");
    }
    return new ServerConfig(host, port, adminPort, eventLoops, maxBody, Duration.ofSeconds(grace));
  }

  private static RedisConfig redis(YamlSection s, Map<String, String> env, Problems problems) {
    Optional<String> url = serverUrl(s, env, "REDIS_URL", Set.of("redis", "rediss"), problems);
    return new RedisConfig(url, poolSize(s));
  }

  private static PostgresConfig postgres(YamlSection s, Map<String, String> env, Problems problems) {
    Optional<String> url = serverUrl(s, env, "DATABASE_URL", Set.of("postgresql", "postgres"), problems);
    return new PostgresConfig(url, poolSize(s));
  }

  /** A backing server's URL: the environment variable wins over the file's {@code url}; either is checked. */
  private static Optional<String> serverUrl(YamlSection s, Map<String, String> env, String envName, Set<String> schemes,
                                            Problems problems) {
    Optional<String> url = s.string("url");
    if (nonEmpty(env.get(envName))) {
      url = Optional.of(env.get(envName));
      checkUrl(url.get(), schemes, problems, "environment", envName);
    } else {
      url.ifPresent(u -> checkUrl(u, schemes, problems, s, "url"));
    }
    return url;
  }

  private static int poolSize(YamlSection s) {
    int poolSize = (int) s.integer("poolSize", Defaults.POOL_SIZE, 1, 1024);
    s.finish();
    return poolSize;
  }

  private static UpstreamClientConfig upstreamClient(YamlSection s) {
    UpstreamClientConfig config = new UpstreamClientConfig(
        Duration.ofMillis(s.integer("connectTimeoutMs", Defaults.CONNECT_TIMEOUT_MS, 1, 600_000)),
        Duration.ofMillis(s.integer("idleTimeoutMs", Defaults.IDLE_TIMEOUT_MS, 1, 3_600_000)),
        Duration.ofMillis(s.integer("responseTimeoutMs", Defaults.RESPONSE_TIMEOUT_MS, 1, 3_600_000)),
        (int) s.integer("maxConnectionsPerUpstream", Defaults.MAX_CONNECTIONS, 1, 100_000),
        s.bool("http2", false));
    s.finish();
    return config;
  }

  private static List<RouteConfig> routes(YamlSection top, Map<String, String> env, Problems problems, String source) {
    List<RouteConfig> routes = new ArrayList<>();
    Set<String> prefixes = new HashSet<>();
    List<?> raw = top.list("routes");
    for (int i = 0; i < raw.size(); i++) {
      YamlSection r = top.child("routes[" + i + "]", raw.get(i));
      Optional<String> prefix = r.string("prefix");
      if (prefix.isEmpty()) {
        r.problem("prefix", "is required (e.g. /v1/)");
      } else if (!prefix.get().startsWith("/") || !prefix.get().endsWith("/")) {
        r.problem("prefix", "must start and end with \"/\", got \"" + prefix.get() + "\"");
      } else if (!prefixes.add(prefix.get())) {
        r.problem("prefix", "\"" + prefix.get() + "\" is already used by another route");
      }
      Optional<URI> upstream = Optional.empty();
      Optional<String> upstreamText = r.string("upstream");
      if (upstreamText.isEmpty()) {
        r.problem("upstream", "is required (an absolute http(s) URL)");
      } else {
        upstream = upstreamUri(upstreamText.get(), r);
      }
      Optional<String> keyEnv = r.string("upstreamKeyEnv");
      Optional<Secret> key = Optional.empty();
      if (keyEnv.isPresent()) {
        if (nonEmpty(env.get(keyEnv.get()))) {
          key = Optional.of(Secret.of(env.get(keyEnv.get())));
        } else {
          r.problem("upstreamKeyEnv", "environment variable " + keyEnv.get() + " is not set");
        }
      }
      UpstreamAuth auth = enumValue(r, "upstreamAuth", keyEnv.isPresent() ? UpstreamAuth.BEARER : UpstreamAuth.NONE,
          Map.of("bearer", UpstreamAuth.BEARER, "x-api-key", UpstreamAuth.X_API_KEY, "none", UpstreamAuth.NONE));
      if (auth != UpstreamAuth.NONE && keyEnv.isEmpty() && r.has("upstreamAuth")) {
        r.problem("upstreamAuth", "needs upstreamKeyEnv to name the variable holding the credential");
      }
      UsageFormat usage = enumValue(r, "usage", UsageFormat.NONE,
          Map.of("openai", UsageFormat.OPENAI, "anthropic", UsageFormat.ANTHROPIC, "none", UsageFormat.NONE));
      long flatCost = r.integer("flatCost", 0, 0, Long.MAX_VALUE);
      r.finish();
      if (prefix.isPresent() && upstream.isPresent()) {
        routes.add(new RouteConfig(prefix.get(), upstream.get(), keyEnv, key, auth, usage, flatCost));
      }
    }
    return routes;
  }

  private static Optional<URI> upstreamUri(String text, YamlSection r) {
    try {
      URI uri = new URI(text);
      String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
      if (!(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null) {
        r.problem("upstream", "not an absolute http(s) URL: \"" + Urls.mask(text) + "\"");
        return Optional.empty();
      }
      if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
        r.problem("upstream", "must not have a query or fragment: \"" + Urls.mask(text) + "\"");
        return Optional.empty();
      }
      String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
      if (!path.endsWith("/")) {
        path = path + "/";
      }
      return Optional.of(new URI(scheme, null, uri.getHost(), uri.getPort(), null, null, null).resolve(path));
    } catch (URISyntaxException e) {
      r.problem("upstream", "not an absolute http(s) URL: \"" + Urls.mask(text) + "\"");
      return Optional.empty();
    }
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
        Duration.ofSeconds(s.integer("claimIdleSeconds", Defaults.CLAIM_IDLE_SECONDS, 1, 86_400)));
    s.finish();
    return config;
  }

  private static PricingConfig pricing(YamlSection s) {
    Map<String, ModelPrice> models = new LinkedHashMap<>();
    for (Map.Entry<?, ?> e : s.namedEntries("models").entrySet()) {
      String name = String.valueOf(e.getKey());
      models.put(name, price(s.child(s.key("models") + "." + name, e.getValue())));
    }
    ModelPrice fallback = s.has("default")
        ? price(s.section("default"))
        : new ModelPrice(Defaults.DEFAULT_PRICE, Defaults.DEFAULT_PRICE);
    s.finish();
    return new PricingConfig(models, fallback);
  }

  private static ModelPrice price(YamlSection p) {
    ModelPrice price = new ModelPrice(p.integer("input", 0, 0, Long.MAX_VALUE), p.integer("output", 0, 0, Long.MAX_VALUE));
    if (!p.has("input")) {
      p.problem("input", "is required (credits per 1M input tokens)");
    }
    if (!p.has("output")) {
      p.problem("output", "is required (credits per 1M output tokens)");
    }
    p.finish();
    return price;
  }

  private static Map<String, PlanConfig> plans(YamlSection top) {
    Map<String, PlanConfig> plans = new LinkedHashMap<>();
    for (Map.Entry<?, ?> e : top.namedEntries("plans").entrySet()) {
      String name = String.valueOf(e.getKey());
      YamlSection p = top.child("plans." + name, e.getValue());
      plans.put(name, new PlanConfig(name,
          p.integer("requestsPerMinute", Defaults.FREE_PLAN.requestsPerMinute(), 0, Long.MAX_VALUE),
          p.integer("tokensPerMinute", Defaults.FREE_PLAN.tokensPerMinute(), 0, Long.MAX_VALUE),
          p.integer("includedCredits", Defaults.FREE_PLAN.includedCredits(), 0, Long.MAX_VALUE)));
      p.finish();
    }
    if (plans.isEmpty()) {
      plans.put(Defaults.FREE_PLAN.name(), Defaults.FREE_PLAN);
    }
    return plans;
  }

  private static <E> E enumValue(YamlSection s, String name, E fallback, Map<String, E> values) {
    Optional<String> text = s.string(name);
    if (text.isEmpty()) {
      return fallback;
    }
    E value = values.get(text.get().toLowerCase(Locale.ROOT));
    if (value == null) {
      s.problem(name, "expected one of " + String.join(" | ", new java.util.TreeSet<>(values.keySet()))
          + ", got \"" + text.get() + "\"");
      return fallback;
    }
    return value;
  }

  private static void checkUrl(String url, Set<String> schemes, Problems problems, Object where, String key) {
    String problem = urlProblem(url, schemes);
    if (problem == null) {
      return;
    }
    if (where instanceof YamlSection section) {
      section.problem(key, problem);
    } else {
      problems.plain(where + ": " + key + ": " + problem);
    }
  }

  private static String urlProblem(String url, Set<String> schemes) {
    String expected = "expected " + String.join(" or ", new java.util.TreeSet<>(schemes)) + "://host[:port]...";
    try {
      URI uri = new URI(url);
      if (uri.getScheme() == null || !schemes.contains(uri.getScheme().toLowerCase(Locale.ROOT)) || uri.getHost() == null) {
        return "not a valid URL (" + expected + "): \"" + Urls.mask(url) + "\"";
      }
      return null;
    } catch (URISyntaxException e) {
      return "not a valid URL (" + expected + "): \"" + Urls.mask(url) + "\"";
    }
  }

  private static String envOr(Map<String, String> env, String name, String fallback) {
    return nonEmpty(env.get(name)) ? env.get(name) : fallback;
  }

  private static long envInt(Map<String, String> env, String name, long fallback, long min, long max, Problems problems) {
    String value = env.get(name);
    if (!nonEmpty(value)) {
      return fallback;
    }
    try {
      long n = Long.parseLong(value.trim());
      if (n >= min && n <= max) {
        return n;
      }
    } catch (NumberFormatException ignored) {
      // reported below
    }
    String range = max == Long.MAX_VALUE ? "≥ " + min : min + "-" + max;
    problems.plain("environment: " + name + ": expected an integer " + range + ", got \"" + value + "\"");
    return fallback;
  }

  private static Optional<Secret> secret(Map<String, String> env, String name) {
    return nonEmpty(env.get(name)) ? Optional.of(Secret.of(env.get(name))) : Optional.empty();
  }

  private static boolean nonEmpty(String value) {
    return value != null && !value.isBlank();
  }
}
