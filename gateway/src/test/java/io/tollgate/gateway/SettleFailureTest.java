package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.embedded.EmbeddedRedis;
import io.tollgate.metering.testing.MutableClock;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * README, metrics: {@code tollgate_settle_failures_total} counts settlements that failed after
 * their retries, and "the sweeper refunds their reservation". Here Redis goes away while a stream
 * is open, the stream ends, the settle fails; when Redis is back the sweeper gives the held
 * credits back, once.
 */
@DisplayName("A settle that fails is counted, and the sweeper refunds its reservation once Redis is back")
class SettleFailureTest {

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;

  @Test
  @DisplayName("Redis stops during a stream: one settle failure counted; after Redis returns the sweeper restores the full balance")
  void settleFailsThenSweeperRefunds() throws Exception {
    Path dir = Files.createTempDirectory(Files.createDirectories(Path.of("target", "settle-redis").toAbsolutePath()), "run-");
    EmbeddedRedis redis = EmbeddedRedis.start(dir, 0);
    int port = redis.port();
    MutableClock clock = new MutableClock(System.currentTimeMillis());
    EmbeddedRedis restarted = null;
    try (Tollgate gateway = Tollgate.start(GatewayHarness.config("""
        routes:
          - prefix: /v1/
            upstream: %s/v1/
            usage: openai
        metering: { reservationTtlSeconds: 60 }
        """.formatted(harness.stubBase()), Map.of("REDIS_URL", redis.url())), clock)) {
      long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "settle fails")
          .put("initialCredits", 1_000).put("limits", new JsonObject().put("requestsPerMinute", 0).put("tokensPerMinute", 0)));
      String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
      String credits = "/admin/v1/accounts/" + account + "/credits";
      long initial = admin(gateway, credits).getLong("spendable");

      String hold = "settle-" + System.nanoTime();
      CompletableFuture<Void> firstChunk = new CompletableFuture<>();
      CompletableFuture<Integer> ended = new CompletableFuture<>();
      JsonObject body = new JsonObject().put("model", "m").put("stream", true).put("max_tokens", 100)
          .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "x")));
      vertx.runOnContext(v -> new HttpTestClient(vertx).raw()
          .request(new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1").setPort(gateway.proxyPort())
              .setURI("/v1/chat/completions").putHeader("content-type", "application/json").putHeader("x-stub-hold", hold)
              .putHeader("authorization", "Bearer " + key))
          .compose(req -> req.send(body.toBuffer()))
          .onSuccess(resp -> {
            resp.handler(chunk -> firstChunk.complete(null));
            resp.endHandler(end -> ended.complete(resp.statusCode()));
            resp.exceptionHandler(ended::completeExceptionally);
          })
          .onFailure(ended::completeExceptionally));
      firstChunk.get(30, TimeUnit.SECONDS);
      long held = admin(gateway, credits).getLong("spendable");
      assertThat(held).as("the stream's worst case is reserved").isLessThan(initial);

      redis.close();
      harness.stub.release(hold);
      assertThat(ended.get(30, TimeUnit.SECONDS)).isEqualTo(200);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (settleFailures(gateway) < 1 && System.nanoTime() < deadline) {
        await(vertx.timer(100));
      }
      assertThat(settleFailures(gateway)).as("tollgate_settle_failures_total").isEqualTo(1.0);

      restarted = EmbeddedRedis.start(dir, port);
      // The append-only file kept the reservation: the credits are still held.
      awaitSpendable(gateway, credits, held);
      clock.advanceMillis(61_000);
      assertThat(await(gateway.services().jobs().sweepAll())).isEqualTo(1);
      assertThat(admin(gateway, credits).getLong("spendable")).isEqualTo(initial);
      assertThat(await(gateway.services().jobs().sweepAll())).as("refunded once").isZero();
    } finally {
      redis.close();
      if (restarted != null) {
        restarted.close();
      }
    }
  }

  private static double settleFailures(Tollgate gateway) {
    return gateway.registry().get("tollgate_settle_failures").counter().count();
  }

  private static JsonObject admin(Tollgate gateway, String uri) {
    HttpTestClient.Reply reply = await(GatewayHarness.admin(vertx).send(HttpMethod.GET, gateway.adminPort(), uri,
        GatewayHarness.adminHeaders(), (Buffer) null));
    assertThat(reply.status()).as(reply.text()).isEqualTo(200);
    return reply.json();
  }

  /** Waits until the gateway reads Redis again (it reconnects on its own) and the balance is {@code expected}. */
  private static void awaitSpendable(Tollgate gateway, String uri, long expected) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    Long seen = null;
    while (System.nanoTime() < deadline) {
      HttpTestClient.Reply reply = await(GatewayHarness.admin(vertx).send(HttpMethod.GET, gateway.adminPort(), uri,
          GatewayHarness.adminHeaders(), (Buffer) null));
      if (reply.status() == 200) {
        seen = reply.json().getLong("spendable");
        if (seen != null && seen == expected) {
          return;
        }
      }
      await(vertx.timer(200));
    }
    assertThat(seen).as("spendable after Redis came back").isEqualTo(expected);
  }
}
