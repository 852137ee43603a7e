package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.embedded.EmbeddedRedisCluster;
import io.tollgate.metering.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway in cluster mode (REDIS_MODE=cluster, REDIS_URL = the seed nodes) on a real Redis
 * Cluster of three masters with a replica each: the shapes of MeteredProxyTest's no-overspend and
 * exactly-once tests and RevocationAndFaultsTest's revocation test, plus a failover under traffic.
 */
@DisplayName("The gateway on a Redis Cluster")
class RedisClusterGatewayTest {

  private static final Logger log = LoggerFactory.getLogger(RedisClusterGatewayTest.class);
  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static EmbeddedRedisCluster cluster;
  private static Map<String, String> clusterEnv;

  @BeforeAll
  static void start() {
    cluster = TestServices.cluster();
    clusterEnv = Map.of("REDIS_MODE", "cluster", "REDIS_URL", cluster.seeds());
  }

  private static String yaml() {
    return """
        routes:
          - prefix: /flat/
            upstream: %s/v1/
            flatCost: 5
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0 }
        """.formatted(harness.stubBase());
  }

  private static long account(Tollgate gateway, long credits) {
    return GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "cluster").put("initialCredits", credits)
        .put("limits", new JsonObject().put("requestsPerMinute", 0).put("tokensPerMinute", 0)));
  }

  private static long spendableUnits(Tollgate gateway, long account) {
    HttpTestClient.Reply reply = GatewayHarness.adminCall(gateway, vertx, HttpMethod.GET, "/admin/v1/accounts/" + account, null);
    return io.tollgate.config.Credits.units(new BigDecimal(reply.json().getJsonObject("credits").getValue("spendable").toString()));
  }

  /** Waits until Postgres holds {@code expected} usage rows for the account, then returns the count (which may be more). */
  private static long usageRows(long account, long expected) {
    Pool pg = GatewayHarness.postgres(vertx);
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
      long rows = GatewayHarness.count(pg, "SELECT count(*) FROM usage_events WHERE account_id = $1", account);
      while (rows < expected && System.nanoTime() < deadline) {
        await(vertx.timer(50));
        rows = GatewayHarness.count(pg, "SELECT count(*) FROM usage_events WHERE account_id = $1", account);
      }
      // Give a second flush a chance to add a duplicate, were exactly-once broken.
      await(vertx.timer(500));
      return GatewayHarness.count(pg, "SELECT count(*) FROM usage_events WHERE account_id = $1", account);
    } finally {
      pg.close();
    }
  }

  @Test
  @DisplayName("ready reports Redis UP when the cluster's state is ok")
  void readyOnCluster() {
    try (Tollgate gateway = GatewayHarness.start(yaml(), clusterEnv)) {
      HttpTestClient.Reply ready = await(new HttpTestClient(vertx).get(gateway.adminPort(), "/health/ready"));
      assertThat(ready.status()).isEqualTo(200);
      assertThat(ready.json().getJsonArray("checks").stream().map(JsonObject.class::cast)
          .filter(c -> "redis".equals(c.getString("id"))).findFirst().orElseThrow().getString("status")).isEqualTo("UP");
    }
  }

  @Test
  @DisplayName("600 concurrent requests through two instances against credits for exactly 143: 143 pass, each in Postgres once, "
      + "and a rebuild from the ledger agrees with Redis")
  void noOverspendAndExactlyOnce() {
    int affordable = 143;
    try (Tollgate a = GatewayHarness.start(yaml(), clusterEnv); Tollgate b = GatewayHarness.start(yaml(), clusterEnv)) {
      long account = account(a, 5L * affordable);
      String key = GatewayHarness.createKey(a, vertx, account, new JsonObject()).getString("key");
      int before = harness.stub.requestCount();
      HttpClient client = HttpTestClient.keep(vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true),
          new PoolOptions().setHttp1MaxSize(600).setMaxWaitQueueSize(-1)));
      List<Future<Integer>> all = new ArrayList<>();
      Promise<Void> fired = Promise.promise();
      vertx.runOnContext(v -> {
        for (int i = 0; i < 600; i++) {
          int port = i % 2 == 0 ? a.proxyPort() : b.proxyPort();
          all.add(client.request(new RequestOptions().setHost("127.0.0.1").setPort(port).setURI("/flat/models")
                  .putHeader("authorization", "Bearer " + key))
              .compose(req -> req.send().compose(resp -> resp.body().map(body -> resp.statusCode()))));
        }
        fired.complete();
      });
      await(fired.future());
      await(Future.join(new ArrayList<>(all)));
      Map<Integer, Long> byStatus = new HashMap<>();
      all.forEach(f -> byStatus.merge(f.result(), 1L, Long::sum));
      assertThat(byStatus).containsOnly(Map.entry(200, (long) affordable), Map.entry(402, 600L - affordable));
      assertThat(harness.stub.requestCount() - before).isEqualTo(affordable);
      assertThat(usageRows(account, affordable)).isEqualTo(affordable);
      assertThat(spendableUnits(a, account)).isZero();

      HttpTestClient.Reply rebuilt = GatewayHarness.adminCall(b, vertx, HttpMethod.POST,
          "/admin/v1/accounts/" + account + "/credits/rebuild", new JsonObject());
      assertThat(rebuilt.status()).isEqualTo(200);
      assertThat(new BigDecimal(rebuilt.json().getValue("balance").toString())).isZero();
      assertThat(rebuilt.json().getValue("previous")).isEqualTo(rebuilt.json().getValue("balance"));
    }
  }

  @Test
  @DisplayName("a key revoked through one instance is refused by another at once, while its cache still trusts the key (30 s)")
  void revocationReachesTheOtherInstance() {
    try (Tollgate a = GatewayHarness.start(yaml(), clusterEnv); Tollgate b = GatewayHarness.start(yaml(), clusterEnv)) {
      long account = account(a, 100);
      JsonObject created = GatewayHarness.createKey(a, vertx, account, new JsonObject());
      HttpTestClient client = new HttpTestClient(vertx, false, created.getString("key"));
      assertThat(await(client.get(b.proxyPort(), "/flat/models")).status()).isEqualTo(200); // B caches the key for 30 s
      long cachedAt = System.nanoTime();
      await(new HttpTestClient(vertx).send(HttpMethod.POST, a.adminPort(), "/admin/v1/keys/" + created.getLong("id") + "/revoke",
          GatewayHarness.adminHeaders(), Buffer.buffer("{}")));
      long revokedAt = System.nanoTime();
      int status = 200;
      // Giving up at 15 s keeps the cache's 30 s expiry out of reach: only the published revocation explains a 401.
      while (status == 200 && System.nanoTime() - cachedAt < TimeUnit.SECONDS.toNanos(15)) {
        status = await(client.get(b.proxyPort(), "/flat/models")).status();
        if (status == 200) {
          await(vertx.timer(10));
        }
      }
      assertThat(status).isEqualTo(401);
      log.info("revocation reached the other instance over cluster pub/sub within {} ms of the revoke call's answer",
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - revokedAt));
    }
  }

  @Test
  @DisplayName("across a graceful failover of the account's master, every request is answered 200 or 503, never forwarded unmetered, "
      + "and each forwarded one is in Postgres once")
  void failoverUnderTraffic() {
    try (Tollgate gateway = GatewayHarness.start(yaml(), clusterEnv)) {
      long funded = 1_000_000;
      long account = account(gateway, funded);
      String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
      String stream = "tg:{s" + Math.floorMod(account, 16L) + "}:usage";
      EmbeddedRedisCluster.Node replica = cluster.replicaOf(stream);
      int before = harness.stub.requestCount();
      AtomicBoolean stop = new AtomicBoolean();
      Map<Integer, Long> byStatus = new ConcurrentHashMap<>();
      List<Future<Void>> loops = new ArrayList<>();
      Promise<Void> started = Promise.promise();
      vertx.runOnContext(v -> {
        for (int i = 0; i < 8; i++) {
          loops.add(loop(new HttpTestClient(vertx, true, key), gateway.proxyPort(), stop, byStatus));
        }
        started.complete();
      });
      await(started.future());
      awaitCount(byStatus, 100);
      long failoverStart = System.nanoTime();
      cluster.failover(replica);
      long failoverMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - failoverStart);
      long afterFailover = byStatus.values().stream().mapToLong(Long::longValue).sum();
      awaitCount(byStatus, afterFailover + 100);
      stop.set(true);
      await(Future.all(new ArrayList<>(loops)));

      assertThat(byStatus.keySet()).isSubsetOf(200, 503);
      long ok = byStatus.getOrDefault(200, 0L);
      assertThat(harness.stub.requestCount() - before).isEqualTo(ok);
      assertThat(usageRows(account, ok)).isEqualTo(ok);
      assertThat(spendableUnits(gateway, account)).isEqualTo(funded * 1000 - 5_000 * ok);
      log.info("gateway across a graceful failover ({} ms until every node agreed): {} answered 200, {} answered 503",
          failoverMillis, ok, byStatus.getOrDefault(503, 0L));
    }
  }

  private static Future<Void> loop(HttpTestClient client, int port, AtomicBoolean stop, Map<Integer, Long> byStatus) {
    if (stop.get()) {
      return Future.succeededFuture();
    }
    return client.get(port, "/flat/models").compose(reply -> {
      byStatus.merge(reply.status(), 1L, Long::sum);
      return loop(client, port, stop, byStatus);
    });
  }

  private static void awaitCount(Map<Integer, Long> byStatus, long atLeast) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (byStatus.values().stream().mapToLong(Long::longValue).sum() < atLeast) {
      assertThat(System.nanoTime()).as("%d replies within 30 s", atLeast).isLessThan(deadline);
      await(vertx.timer(10));
    }
  }
}
