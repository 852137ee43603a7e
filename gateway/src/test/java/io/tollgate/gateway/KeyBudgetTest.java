package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.sqlclient.Pool;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("Budgets per API key: enforced atomically with the balance, 402 key_budget_exhausted for that key only, shown on the key")
class KeyBudgetTest {

  /** Each request to /flat/ costs exactly this many credits (the route's flatCost). */
  private static final long COST = 100;
  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static Tollgate gateway;
  private static Redis redis;
  private static Pool pg;

  @BeforeAll
  static void start() {
    gateway = GatewayHarness.start("""
        routes:
          - { prefix: /flat/, upstream: "%s/v1/", flatCost: %d }
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0 }
        metering: { flushIntervalMs: 50 }
        """.formatted(harness.stubBase(), COST), Map.of());
    redis = Redis.createClient(vertx, gateway.redisUrl());
    pg = GatewayHarness.postgres(vertx);
  }

  @AfterAll
  static void stop() throws Exception {
    pg.close().await(10, TimeUnit.SECONDS);
    redis.close();
    gateway.close();
  }

  private static HttpTestClient.Reply admin(HttpMethod method, String uri, JsonObject body) {
    return GatewayHarness.adminCall(gateway, vertx, method, uri, body);
  }

  private static long account(long credits) {
    return GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "budgets").put("initialCredits", credits));
  }

  private static JsonObject key(long account, JsonObject budget) {
    JsonObject body = new JsonObject();
    if (budget != null) {
      body.put("budget", budget);
    }
    HttpTestClient.Reply r = admin(HttpMethod.POST, "/admin/v1/accounts/" + account + "/keys", body);
    assertThat(r.status()).as(r.text()).isEqualTo(201);
    return r.json();
  }

  private static HttpTestClient.Reply call(String key) {
    return await(new HttpTestClient(vertx, false, key).send(HttpMethod.GET, gateway.proxyPort(), "/flat/models",
        GatewayHarness.bearer(key), null));
  }

  private static JsonObject listed(long account, long keyId) {
    return admin(HttpMethod.GET, "/admin/v1/accounts/" + account + "/keys", null).json().getJsonArray("data").stream()
        .map(JsonObject.class::cast).filter(k -> k.getLong("id") == keyId).findFirst().orElseThrow();
  }

  private static long spendable(long account) {
    return admin(HttpMethod.GET, "/admin/v1/accounts/" + account, null).json().getJsonObject("credits").getLong("spendable");
  }

  private static void eventually(String what, Supplier<Boolean> condition) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    while (!condition.get()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within 15 s: " + what);
      }
      await(vertx.timer(25));
    }
  }

  @Test
  @DisplayName("A key at its budget gets 402 key_budget_exhausted while the account's other key keeps working; budget and spend are on the key")
  void budgetStopsOneKey() {
    long account = account(100_000);
    JsonObject budgeted = key(account, new JsonObject().put("credits", 1000));
    assertThat(budgeted.getJsonObject("budget").getLong("credits")).isEqualTo(1000);
    assertThat(budgeted.getJsonObject("budget").getString("period")).isEqualTo("period");
    assertThat(budgeted.getJsonObject("budget").getLong("spent")).isZero();
    String other = key(account, null).getString("key");

    for (int i = 0; i < 10; i++) {
      assertThat(call(budgeted.getString("key")).status()).isEqualTo(200);
    }
    HttpTestClient.Reply refused = call(budgeted.getString("key"));
    assertThat(refused.status()).isEqualTo(402);
    assertThat(refused.json().getJsonObject("error").getString("code")).isEqualTo("key_budget_exhausted");
    assertThat(refused.json().getJsonObject("error").getString("message")).contains("1000 credits").doesNotContain("tg_");
    assertThat(call(other).status()).isEqualTo(200);

    JsonObject shown = listed(account, budgeted.getLong("id")).getJsonObject("budget");
    assertThat(shown.getLong("spent")).isEqualTo(1000);
    assertThat(shown.getLong("remaining")).isZero();
    assertThat(shown.getJsonObject("window").getString("start")).isNotNull();
    assertThat(listed(account, budgeted.getLong("id")).getValue("key")).as("never the key itself").isNull();

    // Raised, it works at once on the hot path (the cached grant is dropped); removed, the key is limited by the balance only.
    JsonObject raised = admin(HttpMethod.PUT, "/admin/v1/keys/" + budgeted.getLong("id") + "/budget",
        new JsonObject().put("credits", 1100)).json();
    assertThat(raised.getJsonObject("budget").getLong("remaining")).isEqualTo(100);
    assertThat(call(budgeted.getString("key")).status()).isEqualTo(200);
    assertThat(call(budgeted.getString("key")).status()).isEqualTo(402);
    assertThat(admin(HttpMethod.DELETE, "/admin/v1/keys/" + budgeted.getLong("id") + "/budget", null).json().getValue("budget"))
        .isNull();
    assertThat(call(budgeted.getString("key")).status()).isEqualTo(200);

    HttpTestClient.Reply bad = admin(HttpMethod.PUT, "/admin/v1/keys/" + budgeted.getLong("id") + "/budget",
        new JsonObject().put("credits", 10).put("period", "week"));
    assertThat(bad.status()).isEqualTo(400);
    assertThat(bad.json().getString("detail")).contains("period");
  }

  @Test
  @DisplayName("1,000 concurrent requests on a key with a budget for exactly 37 of them: 37 pass, the rest get key_budget_exhausted, the key spends exactly its budget")
  void concurrentRequestsNeverOverspendTheKey() {
    int affordable = 37;
    long account = account(1_000_000);
    JsonObject budgeted = key(account, new JsonObject().put("credits", affordable * COST));
    String key = budgeted.getString("key");
    int before = harness.stub.requestCount();
    HttpClient client = HttpTestClient.keep(vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true),
        new PoolOptions().setHttp1MaxSize(1000).setMaxWaitQueueSize(-1)));
    List<Future<HttpTestClient.Reply>> all = new ArrayList<>();
    io.vertx.core.Promise<Void> fired = io.vertx.core.Promise.promise();
    vertx.runOnContext(v -> {
      for (int i = 0; i < 1000; i++) {
        all.add(client.request(new RequestOptions().setHost("127.0.0.1").setPort(gateway.proxyPort()).setURI("/flat/models")
                .putHeader("authorization", "Bearer " + key))
            .compose(req -> req.send().compose(resp -> resp.body().map(b -> new HttpTestClient.Reply(resp.statusCode(), resp.headers(), b)))));
      }
      fired.complete();
    });
    await(fired.future());
    await(Future.join(new ArrayList<>(all)));
    Map<Integer, Long> byStatus = new HashMap<>();
    all.forEach(f -> byStatus.merge(f.result().status(), 1L, Long::sum));
    assertThat(byStatus).containsEntry(200, (long) affordable).containsEntry(402, 1000L - affordable);
    assertThat(all.stream().filter(f -> f.result().status() == 402)
        .allMatch(f -> "key_budget_exhausted".equals(f.result().json().getJsonObject("error").getString("code")))).isTrue();
    assertThat(harness.stub.requestCount() - before).isEqualTo(affordable);
    assertThat(listed(account, budgeted.getLong("id")).getJsonObject("budget").getLong("spent")).isEqualTo(affordable * COST);
    assertThat(spendable(account)).isEqualTo(1_000_000 - affordable * COST);
  }

  @Test
  @DisplayName("A lifetime budget survives a rotation (the new key continues the spend) and, lost from Redis, is counted again from the stored usage")
  void lifetimeRotationAndReseed() {
    long account = account(100_000);
    JsonObject budgeted = key(account, new JsonObject().put("credits", 300).put("period", "lifetime"));
    for (int i = 0; i < 2; i++) {
      assertThat(call(budgeted.getString("key")).status()).isEqualTo(200);
    }
    JsonObject rotated = admin(HttpMethod.POST, "/admin/v1/keys/" + budgeted.getLong("id") + "/rotate", new JsonObject()).json();
    String next = rotated.getString("key");
    assertThat(rotated.getJsonObject("budget").getString("period")).isEqualTo("lifetime");
    assertThat(call(next).status()).isEqualTo(200);
    assertThat(call(next).status()).as("200 + 100 by the old key, 100 by the new: the budget of 300 is spent").isEqualTo(402);

    // Redis loses the counter: it is counted again from Postgres once the usage is stored.
    eventually("the usage is stored", () -> GatewayHarness.count(pg,
        "SELECT count(*) FROM usage_events WHERE account_id = $1 AND status = 200", account) == 3);
    String counter = await(redis.send(Request.cmd(Command.KEYS).arg("tg:*key:" + budgeted.getLong("id") + ":spend:*"))).get(0).toString();
    assertThat(counter).endsWith(":spend:life");
    await(redis.send(Request.cmd(Command.DEL).arg(counter)));
    HttpTestClient.Reply again = call(next);
    assertThat(again.status()).isEqualTo(402);
    assertThat(again.json().getJsonObject("error").getString("code")).isEqualTo("key_budget_exhausted");
    // Redis counts millicredits: the budget of 300 credits, spent.
    assertThat(await(redis.send(Request.cmd(Command.GET).arg(counter))).toLong()).isEqualTo(300 * io.tollgate.config.Credits.UNITS_PER_CREDIT);
  }
}
