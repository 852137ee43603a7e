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

/**
 * Test wiring: the JVM-wide embedded Redis and Postgres, a stub upstream on a random port, and
 * gateways built from YAML exactly as an operator would write it.
 */
final class GatewayHarness implements AutoCloseable {

  final Vertx stubVertx = Vertx.vertx();
  final StubUpstream stub;

  GatewayHarness() {
    stub = new StubUpstream(StubOptions.defaults().withPort(0));
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

  /** Blocks a test thread (never an event loop) on a future, with a bound. */
  static <T> T await(io.vertx.core.Future<T> future) {
    try {
      return future.await(30, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError("timed out after 30 s", e);
    }
  }
}
