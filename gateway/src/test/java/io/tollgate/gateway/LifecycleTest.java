package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tollgate.config.ConfigLoader;
import io.tollgate.metering.store.PostgresUrls;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgBuilder;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisAPI;
import io.vertx.sqlclient.Pool;
import java.net.Socket;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Starting and stopping Tollgate")
class LifecycleTest {

  @Test
  @DisplayName("with no Redis or Postgres URL it runs embedded servers whose data survives a restart, and stops them on close")
  void embeddedDefault() throws Exception {
    Path dataDir = java.nio.file.Files.createTempDirectory(java.nio.file.Files.createDirectories(Path.of("target").toAbsolutePath()), "embedded-default-");
    java.nio.file.Files.setPosixFilePermissions(dataDir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    Map<String, String> env = Map.of("TOLLGATE_DATA_DIR", dataDir.toString(),
        "TOLLGATE_PROXY_PORT", "0", "TOLLGATE_ADMIN_PORT", "0");
    Vertx vertx = Vertx.vertx();
    try {
      int redisPort;
      try (Tollgate first = Tollgate.start(ConfigLoader.fromYaml("routes: []\n", "test.yaml", env))) {
        assertThat(first.redisUrl()).startsWith("redis://127.0.0.1:");
        HttpTestClient.Reply ready = new HttpTestClient(vertx).get(first.adminPort(), "/health/ready").await(30, TimeUnit.SECONDS);
        assertThat(ready.status()).isEqualTo(200);
        redisPort = Integer.parseInt(first.redisUrl().substring(first.redisUrl().lastIndexOf(':') + 1));
        RedisAPI redis = RedisAPI.api(Redis.createClient(vertx, first.redisUrl()));
        redis.set(List.of("tollgate:lifecycle", "kept")).await(10, TimeUnit.SECONDS);
        redis.close();
        Pool pg = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(first.postgresUrl())).using(vertx).build();
        pg.query("CREATE TABLE lifecycle_probe (v text)").execute()
            .compose(r -> pg.query("INSERT INTO lifecycle_probe VALUES ('kept')").execute())
            .await(10, TimeUnit.SECONDS);
        pg.close().await(10, TimeUnit.SECONDS);
      }
      // Stopped: nothing listens on the embedded Redis port any more.
      int stoppedPort = redisPort;
      assertThatThrownBy(() -> new Socket("127.0.0.1", stoppedPort).close()).isInstanceOf(java.io.IOException.class);

      try (Tollgate second = Tollgate.start(ConfigLoader.fromYaml("routes: []\n", "test.yaml", env))) {
        RedisAPI redis = RedisAPI.api(Redis.createClient(vertx, second.redisUrl()));
        assertThat(redis.get("tollgate:lifecycle").await(10, TimeUnit.SECONDS).toString()).isEqualTo("kept");
        redis.close();
        Pool pg = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(second.postgresUrl())).using(vertx).build();
        String value = pg.query("SELECT v FROM lifecycle_probe").execute().await(10, TimeUnit.SECONDS)
            .iterator().next().getString(0);
        pg.close().await(10, TimeUnit.SECONDS);
        assertThat(value).isEqualTo("kept");
      }
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
      deleteIfOutside(io.tollgate.metering.embedded.EmbeddedPostgres.home(dataDir.resolve("postgres")), dataDir);
    }
  }

  /** Run as root from a private directory, Postgres kept its files outside target/: remove them. */
  private static void deleteIfOutside(Path home, Path dataDir) throws java.io.IOException {
    if (home.startsWith(dataDir) || !java.nio.file.Files.exists(home)) {
      return;
    }
    try (var walk = java.nio.file.Files.walk(home)) {
      for (Path p : (Iterable<Path>) walk.sorted(java.util.Comparator.reverseOrder())::iterator) {
        java.nio.file.Files.deleteIfExists(p);
      }
    }
  }

  @Test
  @DisplayName("closing lets an in-flight stream finish, then refuses new connections")
  void gracefulShutdown() throws Exception {
    GatewayHarness harness = new GatewayHarness();
    Vertx vertx = Vertx.vertx();
    try {
      Tollgate gateway = GatewayHarness.start("""
          server: { shutdownGraceSeconds: 30 }
          routes:
            - prefix: /v1/
              upstream: %s/v1/
          """.formatted(harness.stubBase()), Map.of());
      String key = GatewayHarness.newKey(gateway, vertx, 1_000_000);
      String hold = "shutdown-" + System.nanoTime();
      CompletableFuture<Void> firstChunk = new CompletableFuture<>();
      CompletableFuture<String> whole = new CompletableFuture<>();
      Buffer received = Buffer.buffer();
      AtomicBoolean seen = new AtomicBoolean();
      JsonObject body = new JsonObject().put("model", "m").put("stream", true)
          .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "x")));
      new HttpTestClient(vertx).raw()
          .request(new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1").setPort(gateway.proxyPort())
              .setURI("/v1/chat/completions").putHeader("content-type", "application/json").putHeader("x-stub-hold", hold)
              .putHeader("authorization", "Bearer " + key))
          .compose(req -> req.send(body.toBuffer()))
          .onSuccess(resp -> {
            resp.handler(chunk -> {
              received.appendBuffer(chunk);
              if (seen.compareAndSet(false, true)) {
                firstChunk.complete(null);
              }
            });
            resp.endHandler(v -> whole.complete(received.toString()));
            resp.exceptionHandler(whole::completeExceptionally);
          })
          .onFailure(whole::completeExceptionally);

      firstChunk.get(30, TimeUnit.SECONDS);
      CompletableFuture<Void> closing = CompletableFuture.runAsync(gateway::close);
      // Close is waiting on the open stream; only now does the upstream finish it.
      assertThat(closing).isNotDone();
      harness.stub.release(hold);
      assertThat(whole.get(30, TimeUnit.SECONDS)).contains("[DONE]");
      closing.get(60, TimeUnit.SECONDS);
      assertThatThrownBy(() -> new Socket("127.0.0.1", gateway.proxyPort()).close()).isInstanceOf(java.io.IOException.class);
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
      harness.close();
    }
  }
}
