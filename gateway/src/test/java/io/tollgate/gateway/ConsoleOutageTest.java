package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.embedded.EmbeddedRedis;
import io.tollgate.metering.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Issue 17, "Redis or Postgres down shows a banner, not a stack trace". */
@DisplayName("Console while Redis or Postgres is down")
class ConsoleOutageTest {

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;

  private static String routes() {
    return "routes: []\n";
  }

  private static void assertBanner(HttpTestClient.Reply page, String service) {
    assertThat(page.headers().get("content-type")).startsWith("text/html");
    assertThat(page.text()).contains("id=\"banner\"").contains(service + " unreachable")
        .doesNotContain("Exception").doesNotContain("\tat ").doesNotContain("at io.");
  }

  @Test
  @DisplayName("Redis down: console pages render with a banner naming Redis")
  void redisDown() throws Exception {
    Path dir = Files.createTempDirectory(Files.createDirectories(Path.of("target", "console-outage-redis").toAbsolutePath()), "run-");
    EmbeddedRedis redis = EmbeddedRedis.start(dir, 0);
    try (Tollgate gateway = GatewayHarness.start(routes(), Map.of("REDIS_URL", redis.url()))) {
      long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "redis down").put("initialCredits", 5));
      ConsoleClient c = new ConsoleClient(vertx, gateway.adminPort());
      c.signIn(GatewayHarness.ADMIN_TOKEN);
      assertThat(c.get("/console/accounts/" + account).text()).doesNotContain("id=\"banner\"");

      redis.close();
      GatewayHarness.awaitNotReady(gateway, vertx);
      HttpTestClient.Reply page = c.get("/console/accounts/" + account);
      assertThat(page.status()).isIn(200, 503);
      assertBanner(page, "Redis");
      assertBanner(c.get("/console/overview"), "Redis");
    } finally {
      redis.close();
    }
  }

  @Test
  @DisplayName("Postgres down: the account page is a 503 page with a banner naming PostgreSQL, and comes back with it")
  void postgresDown() {
    try (Tollgate gateway = GatewayHarness.start(routes(), Map.of())) {
      long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "postgres down").put("initialCredits", 5));
      ConsoleClient c = new ConsoleClient(vertx, gateway.adminPort());
      c.signIn(GatewayHarness.ADMIN_TOKEN);
      TestServices.get().stopPostgres();
      try {
        GatewayHarness.awaitNotReady(gateway, vertx);
        HttpTestClient.Reply page = c.get("/console/accounts/" + account);
        assertThat(page.status()).isEqualTo(503);
        assertBanner(page, "PostgreSQL");
        assertThat(page.text()).contains("could not be loaded");
        HttpTestClient.Reply list = c.get("/console/accounts");
        assertThat(list.status()).isEqualTo(503);
        assertBanner(list, "PostgreSQL");
      } finally {
        TestServices.get().startPostgres();
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      int status = 0;
      while (System.nanoTime() < deadline && (status = c.get("/console/accounts/" + account).status()) != 200) {
        await(vertx.timer(100));
      }
      assertThat(status).isEqualTo(200);
    }
  }
}
