package io.tollgate.config;

import static io.tollgate.config.Fixtures.load;
import static io.tollgate.config.Fixtures.problemsOf;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Environment overrides")
class EnvironmentOverridesTest {

  private static final String FILE = """
      server: { host: 127.0.0.1, port: 9000, adminPort: 9001, eventLoops: 2, maxBodyBytes: 100 }
      redis: { url: 'redis://file-redis:6379' }
      postgres: { url: 'postgresql://file-db:5432/tg' }
      dataDir: /from/file
      """;

  @Test
  @DisplayName("every override variable wins over the file")
  void envWinsOverFile() {
    TollgateConfig c = load(FILE, Map.of(
        "TOLLGATE_HOST", "10.0.0.5", "TOLLGATE_PROXY_PORT", "7000", "TOLLGATE_ADMIN_PORT", "7001",
        "TOLLGATE_EVENT_LOOPS", "4", "TOLLGATE_MAX_BODY_BYTES", "2048", "TOLLGATE_DATA_DIR", "/var/lib/tollgate",
        "REDIS_URL", "rediss://:pw@env-redis:6380", "DATABASE_URL", "postgres://tg:pw@env-db/tg"));
    assertThat(c.server().host()).isEqualTo("10.0.0.5");
    assertThat(c.server().port()).isEqualTo(7000);
    assertThat(c.server().adminPort()).isEqualTo(7001);
    assertThat(c.server().eventLoops()).isEqualTo(4);
    assertThat(c.server().maxBodyBytes()).isEqualTo(2048);
    assertThat(c.dataDir()).isEqualTo(Path.of("/var/lib/tollgate"));
    assertThat(c.redis().url()).contains("rediss://:pw@env-redis:6380");
    assertThat(c.postgres().url()).contains("postgres://tg:pw@env-db/tg");
  }

  @Test
  @DisplayName("without overrides the file's values stand")
  void fileValuesWithoutEnv() {
    TollgateConfig c = load(FILE);
    assertThat(c.server().host()).isEqualTo("127.0.0.1");
    assertThat(c.server().port()).isEqualTo(9000);
    assertThat(c.redis().url()).contains("redis://file-redis:6379");
    assertThat(c.redis().embedded()).isFalse();
    assertThat(c.dataDir()).isEqualTo(Path.of("/from/file"));
  }

  @Test
  @DisplayName("an empty or blank variable counts as unset")
  void emptyCountsAsUnset() {
    Map<String, String> env = new HashMap<>();
    for (String name : new String[] {"TOLLGATE_HOST", "TOLLGATE_PROXY_PORT", "TOLLGATE_ADMIN_PORT", "TOLLGATE_EVENT_LOOPS",
        "TOLLGATE_MAX_BODY_BYTES", "TOLLGATE_DATA_DIR", "REDIS_URL", "DATABASE_URL"}) {
      env.put(name, name.endsWith("PORT") ? "  " : "");
    }
    TollgateConfig c = load(FILE, env);
    assertThat(c.server().port()).isEqualTo(9000);
    assertThat(c.server().eventLoops()).isEqualTo(2);
    assertThat(c.postgres().url()).contains("postgresql://file-db:5432/tg");
    assertThat(c.dataDir()).isEqualTo(Path.of("/from/file"));
  }

  @Test
  @DisplayName("REDIS_URL and DATABASE_URL switch off the embedded servers")
  void urlsFromEnvOnly() {
    TollgateConfig c = load("", Map.of("REDIS_URL", "redis://cache:6379", "DATABASE_URL", "postgresql://db/tg"));
    assertThat(c.redis().embedded()).isFalse();
    assertThat(c.postgres().embedded()).isFalse();
  }

  @Test
  @DisplayName("port 0 (any free port) is accepted for both ports, as tests start gateways that way")
  void portZero() {
    TollgateConfig c = load("", Map.of("TOLLGATE_PROXY_PORT", "0", "TOLLGATE_ADMIN_PORT", "0"));
    assertThat(c.server().port()).isZero();
    assertThat(c.server().adminPort()).isZero();
  }

  @Test
  @DisplayName("a bad integer names the variable and echoes the value")
  void badPort() {
    assertThat(problemsOf("", Map.of("TOLLGATE_PROXY_PORT", "abc"))).containsExactly(
        "environment: TOLLGATE_PROXY_PORT: expected an integer 1-65535 (or 0 for any free port), got \"abc\"");
  }

  @Test
  @DisplayName("an out-of-range value is refused like a non-number")
  void outOfRange() {
    assertThat(problemsOf("", Map.of("TOLLGATE_ADMIN_PORT", "65536", "TOLLGATE_EVENT_LOOPS", "0",
        "TOLLGATE_MAX_BODY_BYTES", "-1"))).containsExactlyInAnyOrder(
        "environment: TOLLGATE_ADMIN_PORT: expected an integer 1-65535 (or 0 for any free port), got \"65536\"",
        "environment: TOLLGATE_EVENT_LOOPS: expected an integer 1-256, got \"0\"",
        "environment: TOLLGATE_MAX_BODY_BYTES: expected a positive integer, got \"-1\"");
  }

  @Test
  @DisplayName("a port clash caused by the environment blames the variable, not the file")
  void portClashFromEnv() {
    assertThat(problemsOf("server: { port: 9000, adminPort: 9001 }", Map.of("TOLLGATE_ADMIN_PORT", "9000"))).containsExactly(
        "environment: TOLLGATE_ADMIN_PORT: must differ from the proxy port (both are 9000)");
    assertThat(problemsOf("", Map.of("TOLLGATE_PROXY_PORT", "8081"))).containsExactly(
        "environment: TOLLGATE_PROXY_PORT: must differ from the admin port (both are 8081)");
  }

  @Test
  @DisplayName("a bad REDIS_URL names the variable")
  void badRedisUrl() {
    assertThat(problemsOf("", Map.of("REDIS_URL", "127.0.0.1:6379"))).containsExactly(
        "environment: REDIS_URL: expected a redis:// or rediss:// URL with a host, got \"127.0.0.1:6379\"");
  }

  @Test
  @DisplayName("a bad DATABASE_URL names the variable")
  void badDatabaseUrl() {
    assertThat(problemsOf("", Map.of("DATABASE_URL", "jdbc:postgresql://db/tg"))).containsExactly(
        "environment: DATABASE_URL: expected a postgresql:// or postgres:// URL with a host, got \"jdbc:postgresql://db/tg\"");
  }

  @Test
  @DisplayName("a bad file value is reported even when the environment overrides it")
  void fileCheckedDespiteOverride() {
    assertThat(problemsOf("server: { port: lots }", Map.of("TOLLGATE_PROXY_PORT", "9000"))).containsExactly(
        "tollgate.yaml: server.port: expected an integer 1-65535 (or 0 for any free port), got \"lots\"");
  }
}
