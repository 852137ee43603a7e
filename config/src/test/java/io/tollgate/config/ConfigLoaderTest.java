package io.tollgate.config;

import static io.tollgate.config.Fixtures.load;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@DisplayName("Configuration loading")
class ConfigLoaderTest {

  /**
   * The {@code metering.*} defaults exactly as docs/configuration.md (and the README) list them,
   * written out here so that a changed default fails until the documentation changes with it.
   */
  private static final MeteringConfig DOCUMENTED_METERING = new MeteringConfig(
      16,                         // metering.shards
      Duration.ofSeconds(900),    // metering.reservationTtlSeconds
      Duration.ofSeconds(30),     // metering.keyCacheTtlSeconds
      Duration.ofSeconds(5),      // metering.negativeCacheTtlSeconds
      30,                         // metering.failedAuthPerMinute
      4096,                       // metering.defaultMaxTokens
      Duration.ofHours(24),       // metering.keyRotationOverlapHours
      Duration.ofSeconds(10),     // metering.lastUsedFlushSeconds
      Duration.ofMillis(200),     // metering.flushIntervalMs
      500,                        // metering.flushBatchSize
      Duration.ofSeconds(60),     // metering.claimIdleSeconds
      ClientAbortPolicy.DRAIN,    // metering.clientAbort
      Duration.ofSeconds(30),     // metering.abortDrainTimeoutSeconds
      8L * 1024 * 1024);          // metering.abortDrainMaxBytes

  @Nested
  @DisplayName("defaults")
  class DefaultValues {

    @Test
    @DisplayName("with no file the defaults give a usable gateway: embedded Redis and Postgres, no routes, a free plan")
    void pureDefaults() {
      TollgateConfig c = ConfigLoader.load(Optional.empty(), Map.of());
      assertThat(c.server()).isEqualTo(new ServerConfig("0.0.0.0", "127.0.0.1", 8080, 8081, 1, 10_485_760, Duration.ofSeconds(30)));
      assertThat(c.redis()).isEqualTo(new RedisConfig(Optional.empty(), 8));
      assertThat(c.redis().batchSize()).as("redis.batchSize by default").isEqualTo(64);
      assertThat(c.redis().embedded()).isTrue();
      assertThat(c.postgres()).isEqualTo(new PostgresConfig(Optional.empty(), 8));
      assertThat(c.postgres().embedded()).isTrue();
      assertThat(c.dataDir()).isEqualTo(Path.of(".tollgate"));
      assertThat(c.upstreamClient()).isEqualTo(new UpstreamClientConfig(Duration.ofSeconds(5), Duration.ofSeconds(60),
          Duration.ofSeconds(120), 256, false));
      assertThat(c.routes()).isEmpty();
      assertThat(c.pricing().models()).isEmpty();
      assertThat(c.pricing().defaultPrice()).isEqualTo(new ModelPrice(1_000_000, 1_000_000));
      assertThat(c.plans()).containsExactly(Map.entry("free", new PlanConfig("free", 60, 40_000, 100_000_000)));
      assertThat(c.metering()).isEqualTo(DOCUMENTED_METERING);
      assertThat(c.secrets().adminToken()).isEmpty();
      assertThat(c.source()).isEmpty();
    }

    @Test
    @DisplayName("an empty file, or one with only comments, means the same as no file")
    void emptyFile() {
      TollgateConfig defaults = ConfigLoader.load(Optional.empty(), Map.of());
      assertThat(load("")).isEqualTo(defaults);
      assertThat(load("# nothing yet\n")).isEqualTo(defaults);
      assertThat(load("server:\nredis:\n")).isEqualTo(defaults);
    }
  }

  @Nested
  @DisplayName("reading a file")
  class Reading {

    @Test
    @DisplayName("every documented key lands in its record")
    void everyKey() {
      TollgateConfig c = load("""
          server: { host: 127.0.0.1, port: 9000, adminPort: 9001, eventLoops: 2, maxBodyBytes: 1024, shutdownGraceSeconds: 5 }
          redis: { url: 'redis://cache:6379', poolSize: 4 }
          postgres: { url: 'postgresql://db:5432/tg', poolSize: 3 }
          dataDir: /tmp/tg
          upstreamClient: { connectTimeoutMs: 100, idleTimeoutMs: 200, responseTimeoutMs: 300, maxConnectionsPerUpstream: 7, http2: true }
          routes:
            - { prefix: /v1/, upstream: 'http://127.0.0.1:9100/v1/', usage: openai, flatCost: 2 }
          pricing:
            models: { gpt-4o-mini: { input: 150, output: 600 } }
            default: { input: 10, output: 20 }
          plans:
            free: { requestsPerMinute: 1, tokensPerMinute: 2, includedCredits: 3 }
            pro: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 5 }
          metering: { shards: 4, flushBatchSize: 50, clientAbort: estimate, abortDrainTimeoutSeconds: 5, abortDrainMaxBytes: 65536 }
          """);
      assertThat(c.server()).isEqualTo(new ServerConfig("127.0.0.1", "127.0.0.1", 9000, 9001, 2, 1024, Duration.ofSeconds(5)));
      assertThat(c.redis()).isEqualTo(new RedisConfig(Optional.of("redis://cache:6379"), 4));
      assertThat(c.postgres()).isEqualTo(new PostgresConfig(Optional.of("postgresql://db:5432/tg"), 3));
      assertThat(c.dataDir()).isEqualTo(Path.of("/tmp/tg"));
      assertThat(c.upstreamClient()).isEqualTo(new UpstreamClientConfig(Duration.ofMillis(100), Duration.ofMillis(200),
          Duration.ofMillis(300), 7, true));
      assertThat(c.routes()).containsExactly(new RouteConfig("/v1/", URI.create("http://127.0.0.1:9100/v1/"), Optional.empty(),
          Optional.empty(), UpstreamAuth.NONE, UsageFormat.OPENAI, 2_000));
      assertThat(c.pricing().priceOf("gpt-4o-mini")).isEqualTo(new ModelPrice(150_000, 600_000));
      assertThat(c.plans()).containsOnlyKeys("free", "pro");
      assertThat(c.plan("pro")).isEqualTo(new PlanConfig("pro", 0, 0, 5_000));
      assertThat(c.metering().shards()).isEqualTo(4);
      assertThat(c.metering().flushBatchSize()).isEqualTo(50);
      assertThat(c.metering().claimIdle()).as("the documented default").isEqualTo(Duration.ofSeconds(60));
    }

    @Test
    @DisplayName("an upstream is normalised to end with a slash, with a lower-case scheme")
    void upstreamNormalised() {
      TollgateConfig c = load("""
          routes:
            - { prefix: /a/, upstream: 'HTTPS://api.anthropic.com/v1' }
            - { prefix: /b/, upstream: 'http://[::1]:9000' }
          """);
      assertThat(c.routes()).extracting(r -> r.upstream().toString())
          .containsExactly("https://api.anthropic.com/v1/", "http://[::1]:9000/");
    }

    @Test
    @DisplayName("upstreamAuth defaults to bearer with a key and to none without; usage defaults to none")
    void routeDefaults() {
      TollgateConfig c = load("""
          routes:
            - { prefix: /keyed/, upstream: 'http://x/', upstreamKeyEnv: UP_KEY }
            - { prefix: /anthropic/, upstream: 'http://x/', upstreamKeyEnv: UP_KEY, upstreamAuth: x-api-key, usage: anthropic }
            - { prefix: /open/, upstream: 'http://x/' }
          """, Map.of("UP_KEY", "k"));
      assertThat(c.routes()).extracting(RouteConfig::upstreamAuth)
          .containsExactly(UpstreamAuth.BEARER, UpstreamAuth.X_API_KEY, UpstreamAuth.NONE);
      assertThat(c.routes()).extracting(RouteConfig::usage)
          .containsExactly(UsageFormat.NONE, UsageFormat.ANTHROPIC, UsageFormat.NONE);
      assertThat(c.routes()).extracting(RouteConfig::flatCost).containsOnly(0L);
    }

    @Test
    @DisplayName("an unknown or missing model costs the default price")
    void priceOf() {
      PricingConfig pricing = load("pricing: { models: { m: { input: 1, output: 2 } }, default: { input: 3, output: 4 } }").pricing();
      assertThat(pricing.priceOf("m")).isEqualTo(new ModelPrice(1_000, 2_000));
      assertThat(pricing.priceOf("other")).isEqualTo(new ModelPrice(3_000, 4_000));
      assertThat(pricing.priceOf(null)).isEqualTo(new ModelPrice(3_000, 4_000));
    }

    @Test
    @DisplayName("an account on a plan that is no longer configured gets the free plan, not unlimited")
    void unknownPlanFallsBackToFree() {
      TollgateConfig c = load("plans: { free: { requestsPerMinute: 5, tokensPerMinute: 6, includedCredits: 7 } }");
      assertThat(c.plan("gold")).isEqualTo(new PlanConfig("free", 5, 6, 7_000));
      assertThat(c.plan(null)).isEqualTo(c.plan("free"));
    }

    @Test
    @DisplayName("records are immutable: neither the loaded lists nor a caller's collections can change them")
    void immutable() {
      TollgateConfig c = load("routes: [ { prefix: /v1/, upstream: 'http://x/' } ]");
      assertThatThrownBy(() -> c.routes().clear()).isInstanceOf(UnsupportedOperationException.class);
      assertThatThrownBy(() -> c.plans().clear()).isInstanceOf(UnsupportedOperationException.class);
      assertThatThrownBy(() -> c.pricing().models().clear()).isInstanceOf(UnsupportedOperationException.class);

      List<RouteConfig> routes = new ArrayList<>(c.routes());
      Map<String, PlanConfig> plans = new HashMap<>(c.plans());
      TollgateConfig copy = new TollgateConfig(c.server(), c.redis(), c.postgres(), c.dataDir(), c.upstreamClient(), routes,
          c.pricing(), plans, c.secrets(), c.source());
      routes.clear();
      plans.clear();
      assertThat(copy.routes()).hasSize(1);
      assertThat(copy.plans()).containsKey("free");
      assertThat(copy.metering()).isEqualTo(DOCUMENTED_METERING);
    }
  }

  @Nested
  @DisplayName("finding the file")
  class FindingTheFile {

    @TempDir
    Path dir;

    private Path write(String name, String yaml) throws Exception {
      return Files.writeString(dir.resolve(name), yaml);
    }

    @Test
    @DisplayName("--config FILE and --config=FILE are read, and the config remembers its source")
    void configArgument() throws Exception {
      Path file = write("custom.yaml", "server: { port: 9999 }\n");
      TollgateConfig c = ConfigLoader.load(new String[] {"--config", file.toString()}, Map.of());
      assertThat(c.server().port()).isEqualTo(9999);
      assertThat(c.source()).contains(file);
      assertThat(ConfigLoader.load(new String[] {"--config=" + file}, Map.of()).server().port()).isEqualTo(9999);
    }

    @Test
    @DisplayName("TOLLGATE_CONFIG is read when there is no --config, and --config wins over it")
    void configVariable() throws Exception {
      Path fromEnv = write("env.yaml", "server: { port: 7001 }\n");
      Path fromArg = write("arg.yaml", "server: { port: 7002 }\n");
      Map<String, String> env = Map.of("TOLLGATE_CONFIG", fromEnv.toString());
      assertThat(ConfigLoader.load(new String[0], env).server().port()).isEqualTo(7001);
      assertThat(ConfigLoader.load(new String[] {"--config", fromArg.toString()}, env).server().port()).isEqualTo(7002);
    }

    @Test
    @DisplayName("./tollgate.yaml is used when nothing names a file, and defaults when it does not exist")
    void defaultFile() throws Exception {
      Path local = write("tollgate.yaml", "server: { port: 7003 }\n");
      assertThat(ConfigLoader.load(new String[0], Map.of(), local).source()).contains(local);
      assertThat(ConfigLoader.load(new String[0], Map.of("TOLLGATE_CONFIG", ""), local).server().port()).isEqualTo(7003);
      TollgateConfig none = ConfigLoader.load(new String[0], Map.of(), dir.resolve("absent.yaml"));
      assertThat(none.source()).isEmpty();
      assertThat(none.server().port()).isEqualTo(8080);
    }

    @Test
    @DisplayName("problems in a file name the file as it was given")
    void problemsNameTheFile() throws Exception {
      Path file = write("bad.yaml", "server: { prot: 1 }\n");
      assertThatThrownBy(() -> ConfigLoader.load(Optional.of(file), Map.of()))
          .isInstanceOf(ConfigException.class)
          .hasMessageContaining("  - " + file + ": server.prot: unknown key");
    }

    @Test
    @DisplayName("a missing --config file is a clear error, not a silent fallback to defaults")
    void missingConfigFile() {
      Path missing = dir.resolve("nope.yaml");
      assertThatThrownBy(() -> ConfigLoader.load(new String[] {"--config", missing.toString()}, Map.of()))
          .isInstanceOf(ConfigException.class)
          .satisfies(e -> assertThat(((ConfigException) e).problems()).singleElement().asString()
              .startsWith(missing + ": configuration file not found (named by --config); working directory is "));
    }

    @Test
    @DisplayName("a missing TOLLGATE_CONFIG file says the variable named it")
    void missingEnvFile() {
      Path missing = dir.resolve("nope.yaml");
      assertThatThrownBy(() -> ConfigLoader.load(new String[0], Map.of("TOLLGATE_CONFIG", missing.toString())))
          .hasMessageContaining(missing + ": configuration file not found (named by TOLLGATE_CONFIG)");
    }

    @Test
    @DisplayName("a directory given as the file is refused")
    void directory() {
      assertThatThrownBy(() -> ConfigLoader.load(Optional.of(dir), Map.of()))
          .hasMessageEndingWith(dir + ": is a directory, not a configuration file");
    }

    @Test
    @DisplayName("--config without a file, and unknown arguments, are refused with the usage")
    void badArguments() {
      assertThatThrownBy(() -> ConfigLoader.load(new String[] {"--verbose", "--config"}, Map.of()))
          .isInstanceOf(ConfigException.class)
          .satisfies(e -> assertThat(((ConfigException) e).problems()).containsExactly(
              "command line: unknown argument \"--verbose\" (usage: tollgate [--config FILE])",
              "command line: --config needs a file (usage: tollgate [--config FILE])"));
    }
  }
}
