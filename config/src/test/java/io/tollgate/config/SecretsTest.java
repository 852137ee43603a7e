package io.tollgate.config;

import static io.tollgate.config.Fixtures.load;
import static io.tollgate.config.Fixtures.problemsOf;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

@DisplayName("Secrets")
class SecretsTest {

  @Nested
  @DisplayName("come only from the environment")
  class FromEnvironment {

    @Test
    @DisplayName("the admin token and Stripe secrets are read from their variables; empty means unset")
    void fromEnv() {
      TollgateConfig c = load("", Map.of("TOLLGATE_ADMIN_TOKEN", "admintoken-1", "STRIPE_API_KEY", "sk_test_1",
          "STRIPE_WEBHOOK_SECRET", ""));
      assertThat(c.secrets().adminToken()).contains(Secret.of("admintoken-1"));
      assertThat(c.secrets().stripeApiKey()).contains(Secret.of("sk_test_1"));
      assertThat(c.secrets().stripeWebhookSecret()).isEmpty();
    }

    @Test
    @DisplayName("with no variables set there are no secrets, and that is not a problem")
    void noneSet() {
      assertThat(load("").secrets()).isEqualTo(new Secrets(Optional.empty(), Optional.empty(), Optional.empty()));
    }

    @Test
    @DisplayName("a route's credential comes from the variable its upstreamKeyEnv names")
    void routeKey() {
      TollgateConfig c = load("routes: [ { prefix: /v1/, upstream: 'https://api.openai.com/v1/', upstreamKeyEnv: OPENAI_API_KEY } ]",
          Map.of("OPENAI_API_KEY", "sk-proj-route"));
      assertThat(c.routes().get(0).upstreamKey()).contains(Secret.of("sk-proj-route"));
      assertThat(c.routes().get(0).upstreamKeyEnv()).contains("OPENAI_API_KEY");
    }

    @Test
    @DisplayName("adminToken in the file is refused, pointing at TOLLGATE_ADMIN_TOKEN")
    void adminTokenInFile() {
      assertThat(problemsOf("adminToken: hunter2")).containsExactly(
          "tollgate.yaml: adminToken: secrets come only from the environment: set TOLLGATE_ADMIN_TOKEN");
    }

    @Test
    @DisplayName("Stripe keys in the file are refused, pointing at their variables")
    void stripeKeysInFile() {
      assertThat(problemsOf("stripeApiKey: sk_live_1\nwebhookSecret: whsec_1\n")).containsExactly(
          "tollgate.yaml: stripeApiKey: secrets come only from the environment: set STRIPE_API_KEY",
          "tollgate.yaml: webhookSecret: secrets come only from the environment: set STRIPE_WEBHOOK_SECRET");
    }

    @Test
    @DisplayName("an apiKey or upstreamKey in a route is refused, pointing at upstreamKeyEnv")
    void keyInRoute() {
      assertThat(problemsOf("routes: [ { prefix: /v1/, upstream: 'http://x/', apiKey: sk-1, upstreamKey: sk-2 } ]"))
          .containsExactly(
              "tollgate.yaml: routes[0].apiKey: secrets come only from the environment: set an environment variable "
                  + "and name it in routes[0].upstreamKeyEnv",
              "tollgate.yaml: routes[0].upstreamKey: secrets come only from the environment: set an environment variable "
                  + "and name it in routes[0].upstreamKeyEnv");
    }

    @Test
    @DisplayName("a password key under redis or postgres is refused, pointing at the URL variable")
    void passwordKey() {
      assertThat(problemsOf("redis: { password: p1 }\npostgres: { password: p2 }")).containsExactly(
          "tollgate.yaml: redis.password: secrets come only from the environment: set REDIS_URL (redis://:PASSWORD@host:6379)",
          "tollgate.yaml: postgres.password: secrets come only from the environment: set DATABASE_URL "
              + "(postgresql://user:PASSWORD@host:5432/db)");
    }

    @Test
    @DisplayName("any other secret-looking key is refused as a secret, not as a mere typo")
    void otherSecretLookingKey() {
      assertThat(problemsOf("server: { sessionSecret: abc }")).containsExactly(
          "tollgate.yaml: server.sessionSecret: secrets come only from the environment: set it in an environment variable "
              + "(see the secrets table in docs/configuration.md)");
    }

    @Test
    @DisplayName("a Redis URL with a password in the file is refused, masked")
    void passwordInFileUrl() {
      assertThat(problemsOf("redis: { url: 'redis://:hunter2@cache:6379' }")).containsExactly(
          "tollgate.yaml: redis.url: has a password (\"redis://:****@cache:6379\"): secrets come only from the environment: "
              + "set REDIS_URL");
    }

    @Test
    @DisplayName("a Postgres password given as a query parameter in the file is refused, masked")
    void passwordParamInFileUrl() {
      assertThat(problemsOf("postgres: { url: 'postgresql://db/tg?user=tg&password=hunter3' }")).containsExactly(
          "tollgate.yaml: postgres.url: has a password (\"postgresql://db/tg?user=tg&password=****\"): secrets come only "
              + "from the environment: set DATABASE_URL");
    }

    @Test
    @DisplayName("credentials in an upstream URL are refused without echoing the URL")
    void credentialsInUpstream() {
      assertThat(problemsOf("routes: [ { prefix: /v1/, upstream: 'https://sk-abc@api.example.com/v1/' } ]")).containsExactly(
          "tollgate.yaml: routes[0].upstream: must not contain credentials (user info): secrets come only from the "
              + "environment: set an environment variable and name it in routes[0].upstreamKeyEnv");
    }
  }

  @Nested
  @DisplayName("never show")
  class Masking {

    private static final Map<String, String> ENV = Map.of(
        "TOLLGATE_ADMIN_TOKEN", "admin-s3cret", "STRIPE_API_KEY", "sk_live_s3cret", "STRIPE_WEBHOOK_SECRET", "whsec_s3cret",
        "OPENAI_API_KEY", "sk-proj-s3cret", "REDIS_URL", "redis://:redis-s3cret@cache:6379",
        "DATABASE_URL", "postgresql://tg:pg-s3cret@db:5432/tg");

    @Test
    @DisplayName("a loaded configuration's toString contains no secret and no URL password")
    void toStringMasks() {
      TollgateConfig c = load("routes: [ { prefix: /v1/, upstream: 'http://x/', upstreamKeyEnv: OPENAI_API_KEY } ]", ENV);
      assertThat(c.toString()).doesNotContain("s3cret").contains("Secret[****]")
          .contains("redis://:****@cache:6379").contains("postgresql://tg:****@db:5432/tg");
    }

    @Test
    @DisplayName("a refusal's message contains no secret, even when the problems are about those very settings")
    void messagesMask() {
      String yaml = """
          adminToken: admin-s3cret
          redis: { url: 'redis://:file-s3cret@cache:6379', password: redis-s3cret }
          routes:
            - { prefix: /v1/, upstream: 'https://user:up-s3cret@x/', apiKey: sk-s3cret, upstreamKeyEnv: sk-proj-s3cret }
          """;
      Map<String, String> env = Map.of("DATABASE_URL", "mysql://tg:pg-s3cret@db/tg", "REDIS_URL", "http://:env-s3cret@cache");
      ConfigException e = Fixtures.refusal(yaml, env);
      assertThat(e.problems()).hasSize(8);
      assertThat(e.getMessage()).doesNotContain("s3cret");
    }

    @Test
    @DisplayName("Secret prints as Secret[****] and compares by value")
    void secretValue() {
      assertThat(Secret.of("abc")).hasToString("Secret[****]").isEqualTo(Secret.of("abc")).isNotEqualTo(Secret.of("abd"))
          .hasSameHashCodeAs(Secret.of("abc"));
      assertThat(Secret.of("abc").reveal()).isEqualTo("abc");
    }

    @Test
    @DisplayName("Redis and Postgres configs mask their URL password in toString")
    void recordToString() {
      assertThat(new RedisConfig(Optional.of("rediss://default:pw1@cache:6380/0"), 8))
          .hasToString("RedisConfig[mode=standalone, url=rediss://default:****@cache:6380/0, poolSize=8, batchSize=64]");
      assertThat(new PostgresConfig(Optional.empty(), 4)).hasToString("PostgresConfig[url=(embedded), poolSize=4]");
    }

    @Test
    @DisplayName("Urls.mask hides user-info passwords, even with '@' or '/' in them, and password parameters")
    void urlMasking() {
      assertThat(Urls.mask("redis://:pw@host:6379")).isEqualTo("redis://:****@host:6379");
      assertThat(Urls.mask("postgresql://tg:p@ss/w0rd@db/tg")).isEqualTo("postgresql://tg:****@db/tg");
      assertThat(Urls.mask("postgresql://db/tg?sslmode=require&password=pw")).isEqualTo("postgresql://db/tg?sslmode=require&password=****");
      assertThat(Urls.mask("postgresql://tg@db/tg")).isEqualTo("postgresql://tg@db/tg");
      assertThat(Urls.mask("redis://cache:6379")).isEqualTo("redis://cache:6379");
      assertThat(Urls.hasPassword("redis://:pw@host")).isTrue();
      assertThat(Urls.hasPassword("redis://host")).isFalse();
    }
  }
}
