package io.tollgate.gateway;

import io.tollgate.config.ConfigLoader;
import io.tollgate.config.TollgateConfig;
import io.tollgate.loadtests.stub.StubOptions;
import io.tollgate.loadtests.stub.StubUpstream;
import io.tollgate.metering.testing.TestServices;
import io.vertx.core.Vertx;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Test wiring: the JVM-wide embedded Redis and Postgres, a stub upstream on a random port, and
 * gateways built from YAML exactly as an operator would write it.
 *
 * <p>A test class holds one in a static {@code @RegisterExtension} field: the stub starts when the
 * class is initialised, before its {@code @BeforeAll} methods, and closes after its
 * {@code @AfterAll} methods, so a class's own setup can use the stub and its teardown runs while
 * the stub is still up, without each class repeating the start and stop.
 */
final class GatewayHarness implements AutoCloseable, AfterAllCallback {

  static final String ADMIN_TOKEN = "test-admin-token-0123456789abcdef";

  final Vertx stubVertx = Vertx.vertx();
  final StubUpstream stub;

  GatewayHarness() {
    stub = new StubUpstream(StubOptions.defaults().withPort(io.tollgate.embedded.FreePorts.pick()));
    await(stubVertx.deployVerticle(stub));
  }

  String stubBase() {
    return "http://127.0.0.1:" + stub.actualPort();
  }

  /** Environment for a gateway on the shared test Redis and Postgres, on random ports. */
  static Map<String, String> env(Map<String, String> extra) {
    TestServices services = TestServices.get();
    Map<String, String> env = new HashMap<>();
    env.put("REDIS_URL", services.redisUrl());
    env.put("DATABASE_URL", services.postgresUrl());
    env.put("TOLLGATE_PROXY_PORT", "0");
    env.put("TOLLGATE_ADMIN_PORT", "0");
    env.put("TOLLGATE_ADMIN_TOKEN", ADMIN_TOKEN);
    env.putAll(extra);
    return env;
  }

  static TollgateConfig config(String yaml, Map<String, String> extraEnv) {
    return ConfigLoader.fromYaml(yaml, "test.yaml", env(extraEnv));
  }

  static Tollgate start(String yaml, Map<String, String> extraEnv) {
    return Tollgate.start(config(yaml, extraEnv));
  }

  @Override
  public void close() {
    await(stubVertx.close());
  }

  @Override
  public void afterAll(ExtensionContext context) {
    close();
  }

  /** A pool on the JVM's test Postgres, for tests that look at rows themselves. */
  static io.vertx.sqlclient.Pool postgres(Vertx vertx) {
    return io.vertx.pgclient.PgBuilder.pool().connectingTo(io.tollgate.metering.store.PostgresUrls.toConnectOptions(
        io.tollgate.metering.testing.TestServices.get().postgresUrl())).using(vertx).build();
  }

  /** The first column of the first row of a query: a count or a sum. */
  static long count(io.vertx.sqlclient.Pool pg, String sql, Object... args) {
    return await(pg.preparedQuery(sql).execute(io.vertx.sqlclient.Tuple.from(args))).iterator().next().getLong(0);
  }

  /** An admin API call with the test token; {@code body} may be null. */
  static HttpTestClient.Reply adminCall(Tollgate gateway, Vertx vertx, io.vertx.core.http.HttpMethod method, String uri,
                                        io.vertx.core.json.JsonObject body) {
    return await(admin(vertx).send(method, gateway.adminPort(), uri, adminHeaders(), body == null ? null : body.toBuffer()));
  }

  /** Creates an account (via the admin API) with the given credits and no rate limits, and returns a new key for it. */
  static String newKey(Tollgate gateway, Vertx vertx, long credits) {
    return newKey(gateway, vertx, credits, new io.vertx.core.json.JsonObject());
  }

  /** As {@link #newKey(Tollgate, Vertx, long)}, with extra key attributes (scopes, limits, expiresAt). */
  static String newKey(Tollgate gateway, Vertx vertx, long credits, io.vertx.core.json.JsonObject keyAttributes) {
    long account = createAccount(gateway, vertx, new io.vertx.core.json.JsonObject().put("name", "test account")
        .put("plan", "free").put("initialCredits", credits)
        .put("limits", new io.vertx.core.json.JsonObject().put("requestsPerMinute", 0).put("tokensPerMinute", 0)));
    return createKey(gateway, vertx, account, keyAttributes).getString("key");
  }

  static long createAccount(Tollgate gateway, Vertx vertx, io.vertx.core.json.JsonObject account) {
    HttpTestClient.Reply reply = await(admin(vertx).send(io.vertx.core.http.HttpMethod.POST, gateway.adminPort(),
        "/admin/v1/accounts", adminHeaders(), account.toBuffer()));
    if (reply.status() != 201) {
      throw new AssertionError("account creation failed: " + reply.status() + " " + reply.text());
    }
    return reply.json().getLong("id");
  }

  static io.vertx.core.json.JsonObject createKey(Tollgate gateway, Vertx vertx, long account, io.vertx.core.json.JsonObject attributes) {
    HttpTestClient.Reply reply = await(admin(vertx).send(io.vertx.core.http.HttpMethod.POST, gateway.adminPort(),
        "/admin/v1/accounts/" + account + "/keys", adminHeaders(), attributes.toBuffer()));
    if (reply.status() != 201) {
      throw new AssertionError("key creation failed: " + reply.status() + " " + reply.text());
    }
    return reply.json();
  }

  static io.vertx.core.MultiMap adminHeaders() {
    return io.vertx.core.MultiMap.caseInsensitiveMultiMap().add("authorization", "Bearer " + ADMIN_TOKEN)
        .add("content-type", "application/json");
  }

  static HttpTestClient admin(Vertx vertx) {
    return new HttpTestClient(vertx);
  }

  static io.vertx.core.MultiMap bearer(String key) {
    return io.vertx.core.MultiMap.caseInsensitiveMultiMap().add("authorization", "Bearer " + key)
        .add("content-type", "application/json");
  }

  /** Blocks a test thread (never an event loop) on a future, with a bound. */
  /**
   * Polls {@code /health/ready} until it answers 503 (the instance has seen a backing service go)
   * and returns that answer; fails after 20 s.
   */
  static HttpTestClient.Reply awaitNotReady(Tollgate gateway, Vertx vertx) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    HttpTestClient.Reply ready = await(new HttpTestClient(vertx).get(gateway.adminPort(), "/health/ready"));
    while (ready.status() != 503 && System.nanoTime() < deadline) {
      await(vertx.timer(100));
      ready = await(new HttpTestClient(vertx).get(gateway.adminPort(), "/health/ready"));
    }
    if (ready.status() != 503) {
      throw new AssertionError("the instance stayed ready: /health/ready answered " + ready.status() + " for 20 s");
    }
    return ready;
  }

  static <T> T await(io.vertx.core.Future<T> future) {
    try {
      return future.await(30, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      // A hang is a bug somewhere; leave the evidence of where every Vert.x thread was.
      StringBuilder dump = new StringBuilder("timed out after 30 s; Vert.x threads:\n");
      Thread.getAllStackTraces().forEach((thread, stack) -> {
        if (thread.getName().startsWith("vert.x")) {
          dump.append(thread.getName()).append(' ').append(thread.getState()).append('\n');
          for (int i = 0; i < Math.min(stack.length, 12); i++) {
            dump.append("    at ").append(stack[i]).append('\n');
          }
        }
      });
      throw new AssertionError(dump.toString(), e);
    }
  }
}
