package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tollgate.config.ConfigLoader;
import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.testing.TestServices;
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
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.net.Socket;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
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
      deleteIfOutside(io.tollgate.embedded.EmbeddedPostgres.home(dataDir.resolve("postgres")), dataDir);
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
  @DisplayName("closing refuses new connections at once, lets an in-flight stream finish with its usage recorded, and returns only after it")
  void gracefulShutdown() throws Exception {
    GatewayHarness harness = new GatewayHarness();
    Vertx vertx = Vertx.vertx();
    Pool pg = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(TestServices.get().postgresUrl())).using(vertx).build();
    try {
      Tollgate gateway = GatewayHarness.start("""
          server: { shutdownGraceSeconds: 30 }
          routes:
            - prefix: /v1/
              upstream: %s/v1/
              usage: openai
          """.formatted(harness.stubBase()), Map.of());
      long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "shutdown").put("initialCredits", 1_000_000)
          .put("limits", new JsonObject().put("requestsPerMinute", 0).put("tokensPerMinute", 0)));
      String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
      String hold = "shutdown-" + System.nanoTime();
      // What finished, in order: the stream ("stream") and close() ("closed").
      List<String> finished = new CopyOnWriteArrayList<>();
      CompletableFuture<Void> firstChunk = new CompletableFuture<>();
      CompletableFuture<String> whole = new CompletableFuture<>();
      Buffer received = Buffer.buffer();
      AtomicBoolean seen = new AtomicBoolean();
      JsonObject body = new JsonObject().put("model", "m").put("stream", true)
          .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "x")));
      // On a context, so the chunk handler is set in the task that delivers the response (see HttpTestClient).
      vertx.runOnContext(v -> new HttpTestClient(vertx).raw()
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
            resp.endHandler(end -> {
              finished.add("stream");
              whole.complete(received.toString());
            });
            resp.exceptionHandler(whole::completeExceptionally);
          })
          .onFailure(whole::completeExceptionally));

      firstChunk.get(30, TimeUnit.SECONDS);
      CompletableFuture<Void> closing = CompletableFuture.runAsync(gateway::close).thenRun(() -> finished.add("closed"));
      // Close has begun once the proxy port refuses connections: wait for that, not for a time.
      long refuseBy = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (accepts(gateway.proxyPort())) {
        assertThat(System.nanoTime()).as("the proxy port still accepts 30 s after close began").isLessThan(refuseBy);
        vertx.timer(10).await(5, TimeUnit.SECONDS); // poll the condition
      }
      // The stream is still held by the upstream, so a close that waits for it cannot have returned.
      assertThat(closing).isNotDone();
      assertThat(whole).isNotDone();
      harness.stub.release(hold);
      assertThat(whole.get(30, TimeUnit.SECONDS)).contains("[DONE]");
      closing.get(60, TimeUnit.SECONDS);
      assertThat(finished).containsExactly("stream", "closed");
      assertThat(accepts(gateway.proxyPort())).isFalse();
      // The stream was charged from its reported usage, and close stored that event in Postgres before it returned.
      Row usage = pg.preparedQuery("SELECT count(*), bool_and(outcome = 'ok'), bool_or(estimated) FROM usage_events WHERE account_id = $1")
          .execute(Tuple.of(account)).await(10, TimeUnit.SECONDS).iterator().next();
      assertThat(usage.getLong(0)).isEqualTo(1);
      assertThat(usage.getBoolean(1)).as("outcome ok").isTrue();
      assertThat(usage.getBoolean(2)).as("estimated").isFalse();
    } finally {
      pg.close().await(10, TimeUnit.SECONDS);
      vertx.close().await(10, TimeUnit.SECONDS);
      harness.close();
    }
  }

  /** Whether something accepts a TCP connection on this port. */
  private static boolean accepts(int port) {
    try (Socket socket = new Socket("127.0.0.1", port)) {
      return true;
    } catch (java.io.IOException e) {
      return false;
    }
  }
}
