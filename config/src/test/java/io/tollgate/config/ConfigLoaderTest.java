package io.tollgate.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@DisplayName("Configuration loading")
class ConfigLoaderTest {

  private static List<String> problemsOf(String yaml, Map<String, String> env) {
    try {
      ConfigLoader.fromYaml(yaml, "tollgate.yaml", env);
    } catch (ConfigException e) {
      return e.problems();
    }
    throw new AssertionError("expected the configuration to be refused");
  }

  private static List<String> problemsOf(String yaml) {
    return problemsOf(yaml, Map.of());
  }

  @Test
  @DisplayName("with no file the defaults give embedded Redis and Postgres, ports 8080/8081 and a free plan")
  void defaults() {
    TollgateConfig c = ConfigLoader.load(Optional.empty(), Map.of());
    assertThat(c.redis().embedded()).isTrue();
    assertThat(c.postgres().embedded()).isTrue();
    assertThat(c.server().port()).isEqualTo(8080);
    assertThat(c.server().adminPort()).isEqualTo(8081);
    assertThat(c.server().eventLoops()).isEqualTo(1);
    assertThat(c.server().maxBodyBytes()).isEqualTo(10L * 1024 * 1024);
    assertThat(c.upstreamClient().responseTimeout()).isEqualTo(Duration.ofSeconds(120));
    assertThat(c.routes()).isEmpty();
    assertThat(c.plans()).containsKey("free");
    assertThat(c.dataDir()).isEqualTo(Path.of(".tollgate"));
  }

  @Test
  @DisplayName("the example tollgate.yaml in the repository loads with an empty environment")
  void exampleFileLoads() {
    TollgateConfig c = ConfigLoader.load(Optional.of(Path.of("..", "tollgate.yaml")), Map.of());
    assertThat(c.routes()).extracting(RouteConfig::prefix).containsExactly("/v1/");
    assertThat(c.routes().get(0).usage()).isEqualTo(UsageFormat.OPENAI);
    assertThat(c.pricing().priceOf("gpt-4o-mini")).isEqualTo(new ModelPrice(150, 600));
    assertThat(c.pricing().priceOf("unknown-model")).isEqualTo(new ModelPrice(1000, 1000));
  }

  @Test
  @DisplayName("a route is parsed with its upstream normalised and its credential from the environment")
  void route() {
    TollgateConfig c = ConfigLoader.fromYaml("""
        routes:
          - prefix: /anthropic/
            upstream: https://api.anthropic.com/v1
            upstreamKeyEnv: ANTHROPIC_API_KEY
            upstreamAuth: x-api-key
            usage: anthropic
            flatCost: 3
        """, "tollgate.yaml", Map.of("ANTHROPIC_API_KEY", "sk-ant-secret"));
    RouteConfig r = c.routes().get(0);
    assertThat(r.upstream().toString()).isEqualTo("https://api.anthropic.com/v1/");
    assertThat(r.upstreamKey()).contains(Secret.of("sk-ant-secret"));
    assertThat(r.upstreamAuth()).isEqualTo(UpstreamAuth.X_API_KEY);
    assertThat(r.usage()).isEqualTo(UsageFormat.ANTHROPIC);
    assertThat(r.flatCost()).isEqualTo(3);
    assertThat(r.toString()).doesNotContain("sk-ant-secret");
  }

  @Nested
  @DisplayName("environment overrides")
  class Environment {

    @Test
    @DisplayName("env values win over the file")
    void envWins() {
      TollgateConfig c = ConfigLoader.fromYaml("server: { port: 9000 }\nredis: { url: redis://file:6379 }\n", "tollgate.yaml",
          Map.of("TOLLGATE_PROXY_PORT", "9001", "TOLLGATE_ADMIN_PORT", "9002", "REDIS_URL", "redis://env:6380",
              "DATABASE_URL", "postgresql://u@db:5432/tg", "TOLLGATE_EVENT_LOOPS", "2", "TOLLGATE_DATA_DIR", "/var/lib/tg",
              "TOLLGATE_MAX_BODY_BYTES", "1000", "TOLLGATE_HOST", "127.0.0.1"));
      assertThat(c.server().port()).isEqualTo(9001);
      assertThat(c.server().adminPort()).isEqualTo(9002);
      assertThat(c.server().eventLoops()).isEqualTo(2);
      assertThat(c.server().maxBodyBytes()).isEqualTo(1000);
      assertThat(c.server().host()).isEqualTo("127.0.0.1");
      assertThat(c.redis().url()).contains("redis://env:6380");
      assertThat(c.postgres().url()).contains("postgresql://u@db:5432/tg");
      assertThat(c.dataDir()).isEqualTo(Path.of("/var/lib/tg"));
    }

    @Test
    @DisplayName("a bad env value names the variable")
    void badEnvValue() {
      assertThat(problemsOf("", Map.of("TOLLGATE_PROXY_PORT", "abc")))
          .containsExactly("environment: TOLLGATE_PROXY_PORT: expected an integer 0-65535, got \"abc\"");
    }

    @Test
    @DisplayName("a bad REDIS_URL names the variable and masks its password")
    void badRedisUrl() {
      assertThat(problemsOf("", Map.of("REDIS_URL", "http://:hunter2@host:6379")))
          .containsExactly("environment: REDIS_URL: not a valid URL (expected redis or rediss://host[:port]...): \"http://:****@host:6379\"");
    }

    @Test
    @DisplayName("secrets come from the environment and an empty value counts as unset")
    void secrets() {
      TollgateConfig c = ConfigLoader.fromYaml("", "tollgate.yaml",
          Map.of("TOLLGATE_ADMIN_TOKEN", "admintoken", "STRIPE_API_KEY", "sk_test_x", "STRIPE_WEBHOOK_SECRET", ""));
      assertThat(c.secrets().adminToken()).contains(Secret.of("admintoken"));
      assertThat(c.secrets().stripeApiKey()).contains(Secret.of("sk_test_x"));
      assertThat(c.secrets().stripeWebhookSecret()).isEmpty();
      assertThat(c.toString()).doesNotContain("admintoken").doesNotContain("sk_test_x");
    }
  }

  @Nested
  @DisplayName("each validation rule, with its exact message")
  class Rules {

    @Test
    void unknownKey() {
      assertThat(problemsOf("server: { prot: 80 }")).containsExactly(
          "tollgate.yaml: server.prot: unknown key (known: host, port, adminPort, eventLoops, maxBodyBytes, shutdownGraceSeconds)");
    }

    @Test
    void unknownTopLevelKey() {
      assertThat(problemsOf("rotues: []")).singleElement().asString()
          .startsWith("tollgate.yaml: rotues: unknown key (known: server, redis, postgres, dataDir");
    }

    @Test
    void wrongType() {
      assertThat(problemsOf("plans: { free: { requestsPerMinute: lots } }")).containsExactly(
          "tollgate.yaml: plans.free.requestsPerMinute: expected an integer ≥ 0, got \"lots\"");
    }

    @Test
    void portRange() {
      assertThat(problemsOf("server: { port: 70000 }")).containsExactly(
          "tollgate.yaml: server.port: expected an integer 0-65535, got 70000");
    }

    @Test
    void samePorts() {
      assertThat(problemsOf("server: { port: 9000, adminPort: 9000 }")).containsExactly(
          "tollgate.yaml: server.adminPort: must differ from server.port (both are 9000)");
    }

    @Test
    void eventLoops() {
      assertThat(problemsOf("server: { eventLoops: 0 }")).containsExactly(
          "tollgate.yaml: server.eventLoops: expected an integer 1-256, got 0");
    }

    @Test
    void notAMapping() {
      assertThat(problemsOf("server: 8080")).containsExactly("tollgate.yaml: server: expected a mapping, got 8080");
    }

    @Test
    void fileNotAMapping() {
      assertThat(problemsOf("- a\n- b\n")).containsExactly("tollgate.yaml: the file must be a YAML mapping (key: value), got a list");
    }

    @Test
    void yamlSyntax() {
      assertThat(problemsOf("server: { port: 80\n")).singleElement().asString()
          .startsWith("tollgate.yaml: invalid YAML at line ");
    }

    @Test
    void duplicateKey() {
      assertThat(problemsOf("server: { port: 1 }\nserver: { port: 2 }\n")).singleElement().asString()
          .contains("invalid YAML").contains("duplicate key server");
    }

    @Test
    void upstreamNotHttp() {
      assertThat(problemsOf("routes: [ { prefix: /v1/, upstream: 'ftp://x/' } ]")).containsExactly(
          "tollgate.yaml: routes[0].upstream: not an absolute http(s) URL: \"ftp://x/\"");
    }

    @Test
    void upstreamMissing() {
      assertThat(problemsOf("routes: [ { prefix: /v1/ } ]")).containsExactly(
          "tollgate.yaml: routes[0].upstream: is required (an absolute http(s) URL)");
    }

    @Test
    void prefixShape() {
      assertThat(problemsOf("routes: [ { prefix: v1, upstream: 'http://x/' } ]")).containsExactly(
          "tollgate.yaml: routes[0].prefix: must start and end with \"/\", got \"v1\"");
    }

    @Test
    void duplicatePrefix() {
      assertThat(problemsOf("routes: [ { prefix: /a/, upstream: 'http://x/' }, { prefix: /a/, upstream: 'http://y/' } ]"))
          .containsExactly("tollgate.yaml: routes[1].prefix: \"/a/\" is already used by another route");
    }

    @Test
    void upstreamKeyEnvUnset() {
      assertThat(problemsOf("routes: [ { prefix: /v1/, upstream: 'https://api.openai.com/v1/', upstreamKeyEnv: OPENAI_API_KEY } ]"))
          .containsExactly("tollgate.yaml: routes[0].upstreamKeyEnv: environment variable OPENAI_API_KEY is not set");
    }

    @Test
    void badEnum() {
      assertThat(problemsOf("routes: [ { prefix: /v1/, upstream: 'http://x/', usage: gemini } ]")).containsExactly(
          "tollgate.yaml: routes[0].usage: expected one of anthropic | none | openai, got \"gemini\"");
    }

    @Test
    void authWithoutKey() {
      assertThat(problemsOf("routes: [ { prefix: /v1/, upstream: 'http://x/', upstreamAuth: bearer } ]")).containsExactly(
          "tollgate.yaml: routes[0].upstreamAuth: needs upstreamKeyEnv to name the variable holding the credential");
    }

    @Test
    void secretInFile() {
      assertThat(problemsOf("adminToken: hunter2")).containsExactly(
          "tollgate.yaml: adminToken: secrets come only from the environment: remove it from the file and set TOLLGATE_ADMIN_TOKEN");
    }

    @Test
    void secretInRoute() {
      assertThat(problemsOf("routes: [ { prefix: /v1/, upstream: 'http://x/', apiKey: sk-123 } ]")).containsExactly(
          "tollgate.yaml: routes[0].apiKey: secrets come only from the environment: remove it from the file and set an environment variable named by upstreamKeyEnv");
    }

    @Test
    void badRedisUrlInFile() {
      assertThat(problemsOf("redis: { url: 'localhost:6379' }")).containsExactly(
          "tollgate.yaml: redis.url: not a valid URL (expected redis or rediss://host[:port]...): \"localhost:6379\"");
    }

    @Test
    void badPostgresUrlInFile() {
      assertThat(problemsOf("postgres: { url: 'mysql://db/x' }")).containsExactly(
          "tollgate.yaml: postgres.url: not a valid URL (expected postgres or postgresql://host[:port]...): \"mysql://db/x\"");
    }

    @Test
    void priceRequiresBothSides() {
      assertThat(problemsOf("pricing: { models: { m: { input: 1 } } }")).containsExactly(
          "tollgate.yaml: pricing.models.m.output: is required (credits per 1M output tokens)");
    }

    @Test
    void negativeFlatCost() {
      assertThat(problemsOf("routes: [ { prefix: /v1/, upstream: 'http://x/', flatCost: -1 } ]")).containsExactly(
          "tollgate.yaml: routes[0].flatCost: expected an integer ≥ 0, got -1");
    }
  }

  @Test
  @DisplayName("several problems are reported together, in one exception")
  void allProblemsAtOnce() {
    assertThatThrownBy(() -> ConfigLoader.fromYaml("""
        server: { port: x, prot: 1 }
        routes: [ { prefix: v1, upstream: nope } ]
        """, "tollgate.yaml", Map.of("TOLLGATE_EVENT_LOOPS", "many")))
        .isInstanceOf(ConfigException.class)
        .satisfies(e -> assertThat(((ConfigException) e).problems()).hasSize(5))
        .hasMessageStartingWith("Invalid configuration (5 problems):")
        .hasMessageContaining("server.port").hasMessageContaining("server.prot")
        .hasMessageContaining("routes[0].prefix").hasMessageContaining("routes[0].upstream")
        .hasMessageContaining("TOLLGATE_EVENT_LOOPS");
  }

  @Test
  @DisplayName("masked everywhere: a URL password never shows in toString or problems")
  void masking() {
    TollgateConfig c = ConfigLoader.fromYaml("", "tollgate.yaml",
        Map.of("REDIS_URL", "redis://:hunter2@cache:6379", "DATABASE_URL", "postgresql://tg:hunter3@db/tg"));
    assertThat(c.toString()).doesNotContain("hunter2").doesNotContain("hunter3").contains("****");
    assertThat(Urls.mask("postgresql://tg:pw@db/tg")).isEqualTo("postgresql://tg:****@db/tg");
    assertThat(Urls.mask("redis://cache:6379")).isEqualTo("redis://cache:6379");
  }

  @Nested
  @DisplayName("finding the file")
  class Files_ {

    @Test
    @DisplayName("--config FILE, --config=FILE and TOLLGATE_CONFIG are honoured; a missing file is a clear error")
    void fileResolution(@TempDir Path dir) throws Exception {
      Path file = dir.resolve("custom.yaml");
      Files.writeString(file, "server: { port: 9999 }\n");
      assertThat(ConfigLoader.load(new String[] {"--config", file.toString()}, Map.of()).server().port()).isEqualTo(9999);
      assertThat(ConfigLoader.load(new String[] {"--config=" + file}, Map.of()).server().port()).isEqualTo(9999);
      assertThat(ConfigLoader.load(new String[0], Map.of("TOLLGATE_CONFIG", file.toString())).server().port()).isEqualTo(9999);
      assertThat(ConfigLoader.load(new String[0], Map.of("TOLLGATE_CONFIG", file.toString())).source()).contains(file);
      assertThatThrownBy(() -> ConfigLoader.load(new String[] {"--config", dir.resolve("nope.yaml").toString()}, Map.of()))
          .hasMessageContaining("nope.yaml: configuration file not found");
      assertThatThrownBy(() -> ConfigLoader.load(new String[] {"--verbose"}, Map.of()))
          .hasMessageContaining("unknown argument \"--verbose\"");
    }
  }
}
