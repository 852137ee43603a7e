package io.tollgate.config;

import static io.tollgate.config.Fixtures.problemsOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * One small invalid configuration per rule, each with the exact message an operator will read:
 * the messages are part of the contract (docs/configuration.md shows them).
 */
@DisplayName("Each validation rule refuses its fixture with an exact message")
class ValidationRulesTest {

  @Nested
  @DisplayName("YAML shape")
  class Shape {

    @Test
    @DisplayName("a syntax error is reported with its line and column")
    void syntaxError() {
      assertThat(problemsOf("server: { port: 80\n")).containsExactly(
          "tollgate.yaml: invalid YAML at line 2, column 1: expected ',' or '}', but got <stream end>");
    }

    @Test
    @DisplayName("a tab used for indentation is a syntax error at its position")
    void tabIndentation() {
      assertThat(problemsOf("server:\n\tport: 80\n")).singleElement().asString()
          .startsWith("tollgate.yaml: invalid YAML at line 2, column 1: found character '\\t(TAB)' that cannot start any token");
    }

    @Test
    @DisplayName("a duplicate key is refused instead of the last one silently winning")
    void duplicateKey() {
      assertThat(problemsOf("server:\n  port: 9000\n  port: 9001\n")).containsExactly(
          "tollgate.yaml: invalid YAML at line 3, column 3: found duplicate key port");
    }

    @Test
    @DisplayName("a file that is not a mapping at the top level is refused")
    void fileNotAMapping() {
      assertThat(problemsOf("- a\n- b\n")).containsExactly(
          "tollgate.yaml: expected a YAML mapping (key: value) at the top level, got a list");
    }

    @Test
    @DisplayName("an unknown key lists the known keys of its section")
    void unknownKey() {
      assertThat(problemsOf("server: { prot: 80 }")).containsExactly(
          "tollgate.yaml: server.prot: unknown key (known: host, adminHost, port, adminPort, eventLoops, maxBodyBytes, shutdownGraceSeconds, maxConnections, adminMaxConnections, requestHeaderTimeoutMs)");
    }

    @Test
    @DisplayName("an unknown top-level key lists every top-level section")
    void unknownTopLevelKey() {
      assertThat(problemsOf("rotues: []")).containsExactly("tollgate.yaml: rotues: unknown key (known: server, redis, "
          + "postgres, dataDir, upstreamClient, routes, pricing, tiers, actions, plans, metering, alerts, stripe, billing)");
    }

    @Test
    @DisplayName("an unknown key inside a route names the route's index")
    void unknownRouteKey() {
      assertThat(problemsOf("routes: [ { prefix: /v1/, upstream: 'http://x/', usgae: openai } ]")).containsExactly(
          "tollgate.yaml: routes[0].usgae: unknown key (known: prefix, upstream, upstreamKeyEnv, upstreamAuth, usage, flatCost, metered, feature, tls)");
    }

    @Test
    @DisplayName("an unknown key inside a plan is refused")
    void unknownPlanKey() {
      assertThat(problemsOf("plans: { free: { requestsPerMinute: 1, tokensPerMinute: 1, includedCredits: 1, burst: 5 } }"))
          .containsExactly("tollgate.yaml: plans.free.burst: unknown key (known: requestsPerMinute, tokensPerMinute, includedCredits, alertThresholds, stripePrices, models, features, overage, allowances)");
    }

    @Test
    @DisplayName("a section that is not a mapping is refused")
    void sectionNotAMapping() {
      assertThat(problemsOf("server: 8080")).containsExactly("tollgate.yaml: server: expected a mapping, got 8080");
    }

    @Test
    @DisplayName("routes that are not a list are refused")
    void routesNotAList() {
      assertThat(problemsOf("routes: { prefix: /v1/ }")).containsExactly("tollgate.yaml: routes: expected a list, got a mapping");
    }

    @Test
    @DisplayName("a route that is not a mapping is refused once, not once per missing key")
    void routeNotAMapping() {
      assertThat(problemsOf("routes: [ /v1/ ]")).containsExactly("tollgate.yaml: routes[0]: expected a mapping, got \"/v1/\"");
    }
  }

  @Nested
  @DisplayName("types and ranges")
  class Types {

    @Test
    @DisplayName("a word where a count is expected is refused")
    void wordForInteger() {
      assertThat(problemsOf("plans: { free: { requestsPerMinute: lots, tokensPerMinute: 1, includedCredits: 1 } }"))
          .containsExactly("tollgate.yaml: plans.free.requestsPerMinute: expected a non-negative integer, got \"lots\"");
    }

    @Test
    @DisplayName("a quoted number is a string, not an integer")
    void quotedNumber() {
      assertThat(problemsOf("server: { eventLoops: '2' }")).containsExactly(
          "tollgate.yaml: server.eventLoops: expected an integer 1-256, got \"2\"");
    }

    @Test
    @DisplayName("a fraction where an integer is expected is refused")
    void fraction() {
      assertThat(problemsOf("server: { eventLoops: 1.5 }")).containsExactly(
          "tollgate.yaml: server.eventLoops: expected an integer 1-256, got 1.5");
    }

    @Test
    @DisplayName("credits take up to three decimals, exactly: 2.5 is 2,500 units, 0.001 is 1")
    void decimalCredits() {
      TollgateConfig c = ConfigLoader.fromYaml("""
          routes: [ { prefix: /v1/, upstream: 'http://x/', flatCost: 2.5 } ]
          pricing: { default: { input: 0.001, output: 1_000.125 } }
          plans: { free: { requestsPerMinute: 1, tokensPerMinute: 1, includedCredits: 10.25 } }
          billing: { creditPacks: { tiny: { credits: 0.5, stripePrice: price_tiny, amount: 50 } } }
          """, "tollgate.yaml", Map.of());
      assertThat(c.routes().get(0).flatCost()).isEqualTo(2_500);
      assertThat(c.pricing().defaultPrice()).isEqualTo(new ModelPrice(1, 1_000_125));
      assertThat(c.plan("free").includedCredits()).isEqualTo(10_250);
      assertThat(c.billing().creditPacks().get("tiny").credits()).isEqualTo(500);
    }

    @Test
    @DisplayName("credits with a fourth decimal are refused, naming the key and the value, never rounded")
    void fourDecimals() {
      assertThat(problemsOf("""
          routes: [ { prefix: /v1/, upstream: 'http://x/', flatCost: 0.0005 } ]
          pricing: { default: { input: 2.5001, output: 1 } }
          plans: { free: { requestsPerMinute: 1, tokensPerMinute: 1, includedCredits: 0.1234 } }
          billing: { creditPacks: { tiny: { credits: 1.0001, stripePrice: price_tiny, amount: 50 } } }
          """)).containsExactlyInAnyOrder(
          "tollgate.yaml: routes[0].flatCost: expected credits >= 0 with at most 3 decimals, got 0.0005 has more than 3 decimals"
              + " (credits are exact to 0.001, the smallest unit)",
          "tollgate.yaml: pricing.default.input: expected credits >= 0 with at most 3 decimals, got 2.5001 has more than 3 decimals"
              + " (credits are exact to 0.001, the smallest unit)",
          "tollgate.yaml: plans.free.includedCredits: expected credits >= 0 with at most 3 decimals, got 0.1234 has more than 3"
              + " decimals (credits are exact to 0.001, the smallest unit)",
          "tollgate.yaml: billing.creditPacks.tiny.credits: expected credits > 0 with at most 3 decimals, got 1.0001 has more than 3"
              + " decimals (credits are exact to 0.001, the smallest unit)");
    }

    @Test
    @DisplayName("credits that are no number are refused naming the value; a credit pack must grant more than 0")
    void creditsNotANumberOrZero() {
      assertThat(problemsOf("routes: [ { prefix: /v1/, upstream: 'http://x/', flatCost: free } ]")).containsExactly(
          "tollgate.yaml: routes[0].flatCost: expected credits >= 0 with at most 3 decimals, got \"free\"");
      assertThat(problemsOf("billing: { creditPacks: { tiny: { credits: 0, stripePrice: price_tiny, amount: 50 } } }"))
          .containsExactly("tollgate.yaml: billing.creditPacks.tiny.credits: expected credits > 0 with at most 3 decimals, got 0");
    }

    @Test
    @DisplayName("credits beyond what a Redis script holds exactly (2^53 units) are refused")
    void creditsOutOfRange() {
      assertThat(problemsOf("plans: { free: { requestsPerMinute: 1, tokensPerMinute: 1, includedCredits: 9007199254741 } }"))
          .containsExactly("tollgate.yaml: plans.free.includedCredits: expected credits >= 0 with at most 3 decimals, got"
              + " 9007199254741 is beyond ±9007199254740.992 credits, the largest amount kept exactly");
    }

    @Test
    @DisplayName("an integer too large for 64 bits is refused, not wrapped around")
    void hugeInteger() {
      assertThat(problemsOf("server: { maxBodyBytes: 99999999999999999999 }")).containsExactly(
          "tollgate.yaml: server.maxBodyBytes: expected a positive integer, got 99999999999999999999");
    }

    @Test
    @DisplayName("a list where a string is expected is refused")
    void listForString() {
      assertThat(problemsOf("server: { host: [a, b] }")).containsExactly("tollgate.yaml: server.host: expected a string, got a list");
    }

    @Test
    @DisplayName("anything but true or false for a flag is refused")
    void notABoolean() {
      assertThat(problemsOf("upstreamClient: { http2: 'yes please' }")).containsExactly(
          "tollgate.yaml: upstreamClient.http2: expected true or false, got \"yes please\"");
    }

    @Test
    @DisplayName("an empty host is refused")
    void emptyHost() {
      assertThat(problemsOf("server: { host: '' }")).containsExactly(
          "tollgate.yaml: server.host: must not be empty (0.0.0.0 listens on every interface)");
    }

    @Test
    @DisplayName("a port above 65535 is refused")
    void portTooHigh() {
      assertThat(problemsOf("server: { port: 70000 }")).containsExactly(
          "tollgate.yaml: server.port: expected an integer 1-65535 (or 0 for any free port), got 70000");
    }

    @Test
    @DisplayName("a negative admin port is refused")
    void negativeAdminPort() {
      assertThat(problemsOf("server: { adminPort: -1 }")).containsExactly(
          "tollgate.yaml: server.adminPort: expected an integer 1-65535 (or 0 for any free port), got -1");
    }

    @Test
    @DisplayName("the proxy and admin ports must differ")
    void samePorts() {
      assertThat(problemsOf("server: { port: 9000, adminPort: 9000 }")).containsExactly(
          "tollgate.yaml: server.adminPort: must differ from server.port (both are 9000)");
    }

    @Test
    @DisplayName("event loops must be between 1 and 256")
    void eventLoops() {
      assertThat(problemsOf("server: { eventLoops: 0 }")).containsExactly(
          "tollgate.yaml: server.eventLoops: expected an integer 1-256, got 0");
      assertThat(problemsOf("server: { eventLoops: 257 }")).containsExactly(
          "tollgate.yaml: server.eventLoops: expected an integer 1-256, got 257");
    }

    @Test
    @DisplayName("the body size limit must be positive")
    void maxBodyBytes() {
      assertThat(problemsOf("server: { maxBodyBytes: 0 }")).containsExactly(
          "tollgate.yaml: server.maxBodyBytes: expected a positive integer, got 0");
    }

    @Test
    @DisplayName("the shutdown grace is at most an hour")
    void shutdownGrace() {
      assertThat(problemsOf("server: { shutdownGraceSeconds: 3601 }")).containsExactly(
          "tollgate.yaml: server.shutdownGraceSeconds: expected an integer 0-3600, got 3601");
    }

    @Test
    @DisplayName("upstream timeouts must be positive")
    void timeouts() {
      assertThat(problemsOf("upstreamClient: { connectTimeoutMs: 0, idleTimeoutMs: -5, responseTimeoutMs: 0 }")).containsExactly(
          "tollgate.yaml: upstreamClient.connectTimeoutMs: expected an integer 1-600000, got 0",
          "tollgate.yaml: upstreamClient.idleTimeoutMs: expected an integer 1-3600000, got -5",
          "tollgate.yaml: upstreamClient.responseTimeoutMs: expected an integer 1-3600000, got 0");
    }

    @Test
    @DisplayName("the upstream connection pool must be positive")
    void maxConnections() {
      assertThat(problemsOf("upstreamClient: { maxConnectionsPerUpstream: 0 }")).containsExactly(
          "tollgate.yaml: upstreamClient.maxConnectionsPerUpstream: expected an integer 1-100000, got 0");
    }

    @Test
    @DisplayName("Redis and Postgres pools must be positive")
    void poolSizes() {
      assertThat(problemsOf("redis: { poolSize: 0 }\npostgres: { poolSize: 2000 }")).containsExactly(
          "tollgate.yaml: redis.poolSize: expected an integer 1-1024, got 0",
          "tollgate.yaml: postgres.poolSize: expected an integer 1-1024, got 2000");
    }

    @Test
    @DisplayName("the Redis batch size is 1 (no batching) to 1,000 and defaults to 64")
    void redisBatchSize() {
      assertThat(problemsOf("redis: { batchSize: 0 }")).containsExactly(
          "tollgate.yaml: redis.batchSize: expected an integer 1-1000, got 0");
      assertThat(Fixtures.load("redis: { batchSize: 1 }").redis().batchSize()).isEqualTo(1);
    }

    @Test
    @DisplayName("a settle's WAIT is off by default; replicas 0-16 and a timeout of 1-60,000 ms are accepted")
    void settleWait() {
      assertThat(Fixtures.load("redis: {}").redis().settleWaitReplicas()).isZero();
      assertThat(Fixtures.load("redis: { settleWaitReplicas: 1, settleWaitMs: 20 }").redis())
          .extracting(RedisConfig::settleWaitReplicas, RedisConfig::settleWaitMs).containsExactly(1, 20L);
      assertThat(problemsOf("redis: { settleWaitReplicas: 17, settleWaitMs: 0 }")).containsExactly(
          "tollgate.yaml: redis.settleWaitReplicas: expected an integer 0-16, got 17",
          "tollgate.yaml: redis.settleWaitMs: expected an integer 1-60000, got 0");
    }

    @Test
    @DisplayName("an empty data directory is refused")
    void emptyDataDir() {
      assertThat(problemsOf("dataDir: ''")).containsExactly("tollgate.yaml: dataDir: must not be empty");
    }

    @Test
    @DisplayName("metering settings are range-checked like the rest")
    void meteringRange() {
      assertThat(problemsOf("metering: { shards: 0 }")).containsExactly(
          "tollgate.yaml: metering.shards: expected an integer 1-1024, got 0");
    }

    @Test
    @DisplayName("the client-abort policy is drain or estimate, and the drain's bounds are range-checked")
    void clientAbortPolicy() {
      assertThat(problemsOf("metering: { clientAbort: refund }")).containsExactly(
          "tollgate.yaml: metering.clientAbort: expected one of drain | estimate, got \"refund\"");
      assertThat(problemsOf("metering: { abortDrainTimeoutSeconds: 0 }")).containsExactly(
          "tollgate.yaml: metering.abortDrainTimeoutSeconds: expected an integer 1-600, got 0");
      assertThat(problemsOf("metering: { abortDrainMaxBytes: 10 }")).containsExactly(
          "tollgate.yaml: metering.abortDrainMaxBytes: expected an integer 1024-1073741824, got 10");
    }
  }

  @Nested
  @DisplayName("Redis and Postgres URLs")
  class ServerUrls {

    @Test
    @DisplayName("a Redis URL must use redis:// or rediss://")
    void redisScheme() {
      assertThat(problemsOf("redis: { url: 'localhost:6379' }")).containsExactly(
          "tollgate.yaml: redis.url: expected a redis:// or rediss:// URL with a host, got \"localhost:6379\"");
    }

    @Test
    @DisplayName("a Redis URL must name a host")
    void redisHost() {
      assertThat(problemsOf("redis: { url: 'redis:///0' }")).containsExactly(
          "tollgate.yaml: redis.url: expected a redis:// or rediss:// URL with a host, got \"redis:///0\"");
    }

    @Test
    @DisplayName("a Postgres URL must use postgresql:// or postgres://")
    void postgresScheme() {
      assertThat(problemsOf("postgres: { url: 'mysql://db/x' }")).containsExactly(
          "tollgate.yaml: postgres.url: expected a postgresql:// or postgres:// URL with a host, got \"mysql://db/x\"");
    }

    @Test
    @DisplayName("a Postgres URL is one URL: commas do not split it into seeds as they do for a Redis cluster")
    void postgresUrlNotSplit() {
      assertThat(problemsOf("postgres: { url: 'mysql://a,b/tg' }")).containsExactly(
          "tollgate.yaml: postgres.url: expected a postgresql:// or postgres:// URL with a host, got \"mysql://a,b/tg\"");
      assertThat(problemsOf("", Map.of("DATABASE_URL", "mysql://a,b/tg"))).containsExactly(
          "environment: DATABASE_URL: expected a postgresql:// or postgres:// URL with a host, got \"mysql://a,b/tg\"");
    }

    @Test
    @DisplayName("a JDBC URL is not a Postgres URL")
    void jdbcUrl() {
      assertThat(problemsOf("postgres: { url: 'jdbc:postgresql://db:5432/x' }")).containsExactly(
          "tollgate.yaml: postgres.url: expected a postgresql:// or postgres:// URL with a host, got \"jdbc:postgresql://db:5432/x\"");
    }
  }

  @Nested
  @DisplayName("routes")
  class Routes {

    @Test
    @DisplayName("an upstream must be an absolute http(s) URL")
    void upstreamScheme() {
      assertThat(problemsOf("""
          routes:
            - { prefix: /a/, upstream: 'http://a/' }
            - { prefix: /b/, upstream: 'ftp://x' }
          """)).containsExactly("tollgate.yaml: routes[1].upstream: not an absolute http(s) URL: \"ftp://x\"");
    }

    @Test
    @DisplayName("a relative upstream is refused")
    void relativeUpstream() {
      assertThat(problemsOf("routes: [ { prefix: /v1/, upstream: /v1/ } ]")).containsExactly(
          "tollgate.yaml: routes[0].upstream: not an absolute http(s) URL: \"/v1/\"");
    }

    @Test
    @DisplayName("an upstream with a query is refused: the request's own query is appended at runtime")
    void upstreamQuery() {
      assertThat(problemsOf("routes: [ { prefix: /v1/, upstream: 'http://x/v1/?a=1' } ]")).containsExactly(
          "tollgate.yaml: routes[0].upstream: must not have a query or fragment, got \"http://x/v1/?a=1\"");
    }

    @Test
    @DisplayName("a route needs an upstream")
    void upstreamMissing() {
      assertThat(problemsOf("routes: [ { prefix: /v1/ } ]")).containsExactly(
          "tollgate.yaml: routes[0].upstream: is required (an absolute http(s) URL)");
    }

    @Test
    @DisplayName("a route needs a prefix")
    void prefixMissing() {
      assertThat(problemsOf("routes: [ { upstream: 'http://x/' } ]")).containsExactly(
          "tollgate.yaml: routes[0].prefix: is required (a path such as /v1/)");
    }

    @Test
    @DisplayName("a prefix must start and end with a slash")
    void prefixShape() {
      assertThat(problemsOf("routes: [ { prefix: /v1, upstream: 'http://x/' } ]")).containsExactly(
          "tollgate.yaml: routes[0].prefix: must start and end with \"/\", got \"/v1\"");
    }

    @Test
    @DisplayName("two routes cannot share a prefix; the message names the first")
    void duplicatePrefix() {
      assertThat(problemsOf("routes: [ { prefix: /a/, upstream: 'http://x/' }, { prefix: /a/, upstream: 'http://y/' } ]"))
          .containsExactly("tollgate.yaml: routes[1].prefix: \"/a/\" is already the prefix of routes[0]");
    }

    @Test
    @DisplayName("the variable named by upstreamKeyEnv must be set")
    void upstreamKeyEnvUnset() {
      assertThat(problemsOf("routes: [ { prefix: /v1/, upstream: 'https://api.openai.com/v1/', upstreamKeyEnv: OPENAI_API_KEY } ]"))
          .containsExactly("tollgate.yaml: routes[0].upstreamKeyEnv: environment variable OPENAI_API_KEY is not set");
    }

    @Test
    @DisplayName("an empty value of the upstream key's variable counts as unset")
    void upstreamKeyEnvEmpty() {
      assertThat(problemsOf("routes: [ { prefix: /v1/, upstream: 'http://x/', upstreamKeyEnv: OPENAI_API_KEY } ]",
          Map.of("OPENAI_API_KEY", "")))
          .containsExactly("tollgate.yaml: routes[0].upstreamKeyEnv: environment variable OPENAI_API_KEY is not set");
    }

    @Test
    @DisplayName("upstreamKeyEnv must be a variable name; a pasted credential is refused without being echoed")
    void upstreamKeyEnvNotAName() {
      assertThat(problemsOf("routes: [ { prefix: /v1/, upstream: 'http://x/', upstreamKeyEnv: sk-proj-abc123 } ]"))
          .containsExactly("tollgate.yaml: routes[0].upstreamKeyEnv: expected the name of an environment variable "
              + "(A-Z, 0-9, _), not the credential itself");
    }

    @Test
    @DisplayName("an upstream auth other than none needs upstreamKeyEnv")
    void authWithoutKey() {
      assertThat(problemsOf("routes: [ { prefix: /v1/, upstream: 'http://x/', upstreamAuth: x-api-key } ]")).containsExactly(
          "tollgate.yaml: routes[0].upstreamAuth: x-api-key needs upstreamKeyEnv to name the variable holding the credential");
    }

    @Test
    @DisplayName("an unknown upstream auth lists the valid ones")
    void badAuth() {
      assertThat(problemsOf("routes: [ { prefix: /v1/, upstream: 'http://x/', upstreamAuth: basic } ]")).containsExactly(
          "tollgate.yaml: routes[0].upstreamAuth: expected one of bearer | x-api-key | none, got \"basic\"");
    }

    @Test
    @DisplayName("an unknown usage format lists the valid ones")
    void badUsage() {
      assertThat(problemsOf("routes: [ { prefix: /v1/, upstream: 'http://x/', usage: gemini } ]")).containsExactly(
          "tollgate.yaml: routes[0].usage: expected one of openai | anthropic | none, got \"gemini\"");
    }

    @Test
    @DisplayName("a negative flat cost is refused")
    void negativeFlatCost() {
      assertThat(problemsOf("routes: [ { prefix: /v1/, upstream: 'http://x/', flatCost: -1 } ]")).containsExactly(
          "tollgate.yaml: routes[0].flatCost: expected credits >= 0 with at most 3 decimals, got -1");
    }
  }

  @Nested
  @DisplayName("pricing and plans")
  class PricingAndPlans {

    @Test
    @DisplayName("a model price needs both its input and its output side")
    void priceRequiresBothSides() {
      assertThat(problemsOf("pricing: { models: { m: { input: 1 } } }")).containsExactly(
          "tollgate.yaml: pricing.models.m.output: is required (credits per 1M output tokens)");
    }

    @Test
    @DisplayName("a negative price is refused")
    void negativePrice() {
      assertThat(problemsOf("pricing: { default: { input: -1, output: 5 } }")).containsExactly(
          "tollgate.yaml: pricing.default.input: expected credits >= 0 with at most 3 decimals, got -1");
    }

    @Test
    @DisplayName("a model whose price is not a mapping is refused")
    void priceNotAMapping() {
      assertThat(problemsOf("pricing: { models: { gpt-4o: 150 } }")).containsExactly(
          "tollgate.yaml: pricing.models.gpt-4o: expected a mapping, got 150");
    }

    @Test
    @DisplayName("a plan that is not a mapping is refused once")
    void planNotAMapping() {
      assertThat(problemsOf("plans: { free: unlimited }")).containsExactly(
          "tollgate.yaml: plans.free: expected a mapping, got \"unlimited\"");
    }

    @Test
    @DisplayName("every plan limit is required")
    void planKeyMissing() {
      assertThat(problemsOf("plans: { free: { requestsPerMinute: 60, tokensPerMinute: 40000 } }")).containsExactly(
          "tollgate.yaml: plans.free.includedCredits: is required (credits granted each period)");
    }

    @Test
    @DisplayName("plans must include a free plan")
    void freePlanRequired() {
      assertThat(problemsOf("plans: { pro: { requestsPerMinute: 600, tokensPerMinute: 1, includedCredits: 1 } }")).containsExactly(
          "tollgate.yaml: plans: must define a \"free\" plan (new accounts and downgraded accounts use it)");
    }
  }

  @Test
  @DisplayName("several problems are reported together, in file order, in one exception")
  void allProblemsAtOnce() {
    String yaml = """
        server: { port: x, prot: 1 }
        redis: { url: 'mysql://db' }
        routes:
          - { prefix: v1, upstream: nope }
        plans: { free: { requestsPerMinute: lots, tokensPerMinute: 1, includedCredits: 1 } }
        """;
    assertThatThrownBy(() -> Fixtures.load(yaml, Map.of("TOLLGATE_EVENT_LOOPS", "many")))
        .isInstanceOf(ConfigException.class)
        .hasMessage("""
            Invalid configuration (7 problems):
              - tollgate.yaml: server.port: expected an integer 1-65535 (or 0 for any free port), got "x"
              - environment: TOLLGATE_EVENT_LOOPS: expected an integer 1-256, got "many"
              - tollgate.yaml: server.prot: unknown key (known: host, adminHost, port, adminPort, eventLoops, maxBodyBytes, shutdownGraceSeconds, maxConnections, adminMaxConnections, requestHeaderTimeoutMs)
              - tollgate.yaml: redis.url: expected a redis:// or rediss:// URL with a host, got "mysql://db"
              - tollgate.yaml: routes[0].prefix: must start and end with "/", got "v1"
              - tollgate.yaml: routes[0].upstream: not an absolute http(s) URL: "nope"
              - tollgate.yaml: plans.free.requestsPerMinute: expected a non-negative integer, got "lots\"""");
  }

  @Test
  @DisplayName("a single problem is counted in the singular")
  void singleProblem() {
    assertThatThrownBy(() -> Fixtures.load("server: { eventLoops: 0 }"))
        .hasMessage("Invalid configuration (1 problem):\n  - tollgate.yaml: server.eventLoops: expected an integer 1-256, got 0");
  }
}
