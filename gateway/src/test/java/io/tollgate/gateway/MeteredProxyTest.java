package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The metered hot path end to end: real gateway, real Redis and Postgres, stub upstream. */
@DisplayName("Metered proxying: authentication, admission, usage and settlement")
class MeteredProxyTest {

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static Tollgate gateway;
  private static Redis redis;

  @BeforeAll
  static void start() {
    gateway = GatewayHarness.start("""
        routes:
          - prefix: /v1/
            upstream: %1$s/v1/
            usage: openai
          - prefix: /anthropic/v1/
            upstream: %1$s/v1/
            usage: anthropic
          - prefix: /flat/
            upstream: %1$s/v1/
            flatCost: 5
        pricing:
          models:
            gpt-4o-mini: { input: 150000, output: 600000 }
          default: { input: 1000000, output: 1000000 }
        plans:
          free: { requestsPerMinute: 1000, tokensPerMinute: 10000000, includedCredits: 0 }
        """.formatted(harness.stubBase()), Map.of());
    redis = Redis.createClient(vertx, gateway.redisUrl());
  }

  @AfterAll
  static void stop() {
    redis.close();
    gateway.close();
  }

  private static JsonObject chat(String model, Integer maxTokens, boolean stream, Boolean includeUsage) {
    JsonObject body = new JsonObject().put("model", model)
        .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "0123456789abcdef")));
    if (maxTokens != null) {
      body.put("max_tokens", maxTokens);
    }
    if (stream) {
      body.put("stream", true);
    }
    if (includeUsage != null) {
      body.put("stream_options", new JsonObject().put("include_usage", includeUsage));
    }
    return body;
  }

  private static HttpTestClient.Reply post(String key, String uri, JsonObject body, MultiMap extra) {
    MultiMap headers = GatewayHarness.bearer(key);
    if (extra != null) {
      headers.addAll(extra);
    }
    return await(new HttpTestClient(vertx).send(HttpMethod.POST, gateway.proxyPort(), uri, headers, body.toBuffer()));
  }

  private static long accountOf(String key) {
    // Keys are created one account each by the harness; find it through the admin API's key listing.
    return KEYS_TO_ACCOUNTS.get(key);
  }

  private static final Map<String, Long> KEYS_TO_ACCOUNTS = new HashMap<>();

  private static String keyWith(long credits, JsonObject accountLimits, JsonObject keyAttributes) {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "metered")
        .put("initialCredits", credits).put("limits", accountLimits));
    String key = GatewayHarness.createKey(gateway, vertx, account, keyAttributes).getString("key");
    KEYS_TO_ACCOUNTS.put(key, account);
    return key;
  }

  private static String key(long credits) {
    return keyWith(credits, new JsonObject(), new JsonObject());
  }

  /** The account's spendable credits as the API shows them, in units (1000 a credit), exactly. */
  private static long spendable(String key) {
    HttpTestClient.Reply reply = await(new HttpTestClient(vertx).send(HttpMethod.GET, gateway.adminPort(),
        "/admin/v1/accounts/" + accountOf(key), GatewayHarness.adminHeaders(), null));
    return io.tollgate.config.Credits.units(new java.math.BigDecimal(reply.json().getJsonObject("credits").getValue("spendable").toString()));
  }

  /**
   * The usage events of an account: those still in its shard's stream plus those the consumer
   * has already moved to Postgres (stored entries leave the stream), one per event id.
   */
  private static List<Map<String, String>> events(String key) {
    long account = accountOf(key);
    String stream = "tg:{s" + Math.floorMod(account, 16L) + "}:usage";
    Map<String, Map<String, String>> byId = new java.util.LinkedHashMap<>();
    io.vertx.sqlclient.Pool pg = io.vertx.pgclient.PgBuilder.pool()
        .connectingTo(io.tollgate.metering.store.PostgresUrls.toConnectOptions(gateway.postgresUrl())).using(vertx).build();
    try {
      // Postgres first: an entry is deleted from the stream only after its row is committed.
      for (io.vertx.sqlclient.Row row : await(pg.preparedQuery("SELECT event_id, account_id, model, input_tokens, output_tokens, "
          + "credits, estimated, outcome, status, route, key_id FROM usage_events WHERE account_id = $1 ORDER BY occurred_at, event_id")
          .execute(io.vertx.sqlclient.Tuple.of(account)))) {
        Map<String, String> map = new HashMap<>();
        map.put("event_id", row.getUUID("event_id").toString());
        map.put("account_id", Long.toString(row.getLong("account_id")));
        map.put("model", row.getString("model"));
        map.put("input_tokens", Long.toString(row.getLong("input_tokens")));
        map.put("output_tokens", Long.toString(row.getLong("output_tokens")));
        map.put("credits", Long.toString(row.getLong("credits")));
        map.put("estimated", row.getBoolean("estimated") ? "1" : "0");
        map.put("outcome", row.getString("outcome"));
        map.put("status", Integer.toString(row.getInteger("status")));
        map.put("route", row.getString("route"));
        map.put("key_id", row.getLong("key_id") == null ? "0" : Long.toString(row.getLong("key_id")));
        // The stream entry names its unit; a row has none because usage_events.credits is always in
        // millicredits. Without this, a test whose event was already flushed saw no "unit" and failed.
        map.put("unit", "mc");
        byId.put(map.get("event_id"), map);
      }
    } finally {
      pg.close();
    }
    Response entries = await(redis.send(Request.cmd(Command.XRANGE).arg(stream).arg("-").arg("+")));
    for (Response entry : entries) {
      Response fields = entry.get(1);
      Map<String, String> map = new HashMap<>();
      for (int i = 0; i + 1 < fields.size(); i += 2) {
        map.put(fields.get(i).toString(), fields.get(i + 1).toString());
      }
      if (Long.toString(account).equals(map.get("account_id"))) {
        byId.putIfAbsent(map.get("event_id"), map);
      }
    }
    return new ArrayList<>(byId.values());
  }

  /** Settlement happens right after the response ends; wait for it on a condition, not a clock. */
  private static List<Map<String, String>> awaitEvents(String key, int count) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    List<Map<String, String>> events = events(key);
    while (events.size() < count && System.nanoTime() < deadline) {
      await(vertx.timer(20));
      events = events(key);
    }
    assertThat(events).hasSize(count);
    return events;
  }

  @Test
  @DisplayName("a JSON completion is charged exactly its reported usage, and one usage event records it")
  void jsonChargedByUsage() {
    String key = key(10_000);
    HttpTestClient.Reply reply = post(key, "/v1/chat/completions", chat("gpt-4o-mini", 10, false, null), null);
    assertThat(reply.status()).as(reply.text()).isEqualTo(200);
    assertThat(reply.headers().get("x-ratelimit-limit-requests")).isEqualTo("1000");
    assertThat(reply.headers().get("x-ratelimit-remaining-requests")).isEqualTo("999");
    assertThat(reply.headers().get("x-ratelimit-limit-tokens")).isEqualTo("10000000");
    Map<String, String> event = awaitEvents(key, 1).get(0);
    // Stub usage: prompt = 16 chars / 4 = 4, completion = min(max_tokens 10, 16) = 10.
    assertThat(event).containsEntry("input_tokens", "4").containsEntry("output_tokens", "10")
        .containsEntry("model", "gpt-4o-mini").containsEntry("outcome", "ok").containsEntry("estimated", "0")
        .containsEntry("status", "200").containsEntry("route", "/v1/");
    // 4 × 150,000 + 10 × 600,000 = 6,600,000 credits per 1M → 6.6 credits exactly: 6,600 units.
    assertThat(event).containsEntry("credits", "6600").containsEntry("unit", "mc");
    assertThat(spendable(key)).isEqualTo(10_000_000 - 6_600);
    assertThat(event.get("event_id")).matches("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  }

  @Test
  @DisplayName("an OpenAI stream that did not ask for usage is charged by it, without the client seeing the usage chunk")
  void sseUsageAddedAndStripped() {
    String key = key(10_000);
    HttpTestClient.Reply reply = post(key, "/v1/chat/completions", chat("gpt-4o-mini", 8, true, null), null);
    assertThat(reply.status()).isEqualTo(200);
    assertThat(reply.text()).doesNotContain("\"usage\"").contains("tok4").endsWith("data: [DONE]\n\n");
    Map<String, String> event = awaitEvents(key, 1).get(0);
    assertThat(event).containsEntry("input_tokens", "4").containsEntry("output_tokens", "8").containsEntry("estimated", "0");
  }

  @Test
  @DisplayName("a stream that asked for usage gets its usage chunk, and usage on a content chunk is read too")
  void sseUsageKeptWhenAsked() {
    String key = key(10_000);
    HttpTestClient.Reply asked = post(key, "/v1/chat/completions", chat("gpt-4o-mini", 8, true, true), null);
    assertThat(asked.text()).contains("\"usage\"");
    HttpTestClient.Reply withChoices = post(key, "/v1/chat/completions", chat("gpt-4o-mini", 6, true, null),
        MultiMap.caseInsensitiveMultiMap().add("x-stub-usage-with-choices", "true"));
    // The usage rode on a content chunk: that chunk is the client's, so it stays.
    assertThat(withChoices.text()).contains("tok4");
    List<Map<String, String>> events = awaitEvents(key, 2);
    assertThat(events).extracting(e -> e.get("output_tokens")).containsExactlyInAnyOrder("8", "6");
  }

  @Test
  @DisplayName("Anthropic streams are metered from message_start and message_delta")
  void anthropicStream() {
    String key = key(10_000);
    HttpTestClient.Reply reply = post(key, "/anthropic/v1/messages", chat("claude-3-5-haiku", 9, true, null), null);
    assertThat(reply.status()).isEqualTo(200);
    assertThat(reply.text()).contains("message_stop");
    Map<String, String> event = awaitEvents(key, 1).get(0);
    assertThat(event).containsEntry("input_tokens", "4").containsEntry("output_tokens", "9").containsEntry("estimated", "0");
    assertThat(event).containsEntry("credits", "13000");
  }

  @Test
  @DisplayName("no usage from the upstream: the gateway estimates and flags the event")
  void estimatedWhenNoUsage() {
    String key = key(10_000);
    post(key, "/v1/chat/completions", chat("gpt-4o-mini", 10, false, null), MultiMap.caseInsensitiveMultiMap().add("x-stub-fail", "no-usage"));
    assertThat(awaitEvents(key, 1).get(0)).containsEntry("estimated", "1").containsEntry("outcome", "ok");
  }

  @Test
  @DisplayName("an upstream error refunds the reservation in full")
  void upstreamErrorRefunds() {
    String key = key(10_000);
    HttpTestClient.Reply reply = post(key, "/v1/chat/completions", chat("gpt-4o-mini", 10, false, null),
        MultiMap.caseInsensitiveMultiMap().add("x-stub-status", "500"));
    assertThat(reply.status()).isEqualTo(500);
    Map<String, String> event = awaitEvents(key, 1).get(0);
    assertThat(event).containsEntry("outcome", "upstream_error").containsEntry("credits", "0").containsEntry("status", "500");
    assertThat(spendable(key)).isEqualTo(10_000_000);
  }

  @Test
  @DisplayName("402 when the balance cannot cover the request's worst case; the upstream is not called")
  void noCredits() {
    String key = key(3);
    int before = harness.stub.requestCount();
    HttpTestClient.Reply reply = post(key, "/v1/chat/completions", chat("gpt-4o-mini", 1000, false, null), null);
    assertThat(reply.status()).isEqualTo(402);
    assertThat(reply.json().getJsonObject("error").getString("code")).isEqualTo("insufficient_credits");
    assertThat(reply.json().getJsonObject("error").getString("message")).contains("spendable balance is 3");
    assertThat(harness.stub.requestCount()).isEqualTo(before);
    assertThat(spendable(key)).isEqualTo(3_000);
  }

  @Test
  @DisplayName("429 with Retry-After and x-ratelimit-* once the account's requests per minute are spent; the upstream is not called")
  void rateLimited() {
    String key = keyWith(10_000, new JsonObject().put("requestsPerMinute", 2), new JsonObject());
    assertThat(post(key, "/flat/models", new JsonObject(), null).status()).isEqualTo(200);
    assertThat(post(key, "/flat/models", new JsonObject(), null).status()).isEqualTo(200);
    int before = harness.stub.requestCount();
    HttpTestClient.Reply third = post(key, "/flat/models", new JsonObject(), null);
    assertThat(third.status()).isEqualTo(429);
    assertThat(third.json().getJsonObject("error").getString("code")).isEqualTo("account_requests_per_minute");
    assertThat(Integer.parseInt(third.headers().get("retry-after"))).isBetween(1, 30);
    assertThat(third.headers().get("x-ratelimit-limit-requests")).isEqualTo("2");
    assertThat(third.headers().get("x-ratelimit-remaining-requests")).isEqualTo("0");
    assertThat(harness.stub.requestCount()).isEqualTo(before);
  }

  @Test
  @DisplayName("a per-key limit is enforced separately from the account's")
  void keyLimit() {
    String key = keyWith(10_000, new JsonObject(), new JsonObject().put("limits", new JsonObject().put("requestsPerMinute", 1)));
    assertThat(post(key, "/flat/models", new JsonObject(), null).status()).isEqualTo(200);
    HttpTestClient.Reply second = post(key, "/flat/models", new JsonObject(), null);
    assertThat(second.status()).isEqualTo(429);
    assertThat(second.json().getJsonObject("error").getString("code")).isEqualTo("key_requests_per_minute");
  }

  @Test
  @DisplayName("1,000 concurrent requests against credits for exactly 143 of them: 143 reach the upstream, the balance ends at 0")
  void noOverspendThroughTheGateway() {
    int affordable = 143;
    String key = key(5L * affordable);
    int before = harness.stub.requestCount();
    // One connection per request: all 1,000 are in flight at once, not queued behind a small pool.
    HttpClient client = HttpTestClient.keep(vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true),
        new PoolOptions().setHttp1MaxSize(1000).setMaxWaitQueueSize(-1)));
    List<Future<Integer>> all = new ArrayList<>();
    // Fired from a Vert.x context, all at once (see HttpTestClient on why not from the test thread).
    io.vertx.core.Promise<Void> fired = io.vertx.core.Promise.promise();
    vertx.runOnContext(v -> {
      for (int i = 0; i < 1000; i++) {
        all.add(client.request(new RequestOptions().setHost("127.0.0.1").setPort(gateway.proxyPort()).setURI("/flat/models")
                .putHeader("authorization", "Bearer " + key))
            .compose(req -> req.send().compose(resp -> resp.body().map(b -> resp.statusCode()))));
      }
      fired.complete();
    });
    await(fired.future());
    await(Future.join(new ArrayList<>(all)));
    Map<Integer, Long> byStatus = new HashMap<>();
    all.forEach(f -> byStatus.merge(f.result(), 1L, Long::sum));
    assertThat(byStatus).containsEntry(200, (long) affordable).containsEntry(402, 1000L - affordable);
    assertThat(harness.stub.requestCount() - before).isEqualTo(affordable);
    awaitEvents(key, affordable);
    assertThat(spendable(key)).isZero();
  }

  private static Map<String, Long> commandCalls() {
    String info = await(redis.send(Request.cmd(Command.INFO).arg("commandstats"))).toString();
    Map<String, Long> calls = new HashMap<>();
    for (String line : info.split("\r?\n")) {
      if (line.startsWith("cmdstat_")) {
        String name = line.substring(8, line.indexOf(':'));
        String count = line.substring(line.indexOf("calls=") + 6, line.indexOf(',', line.indexOf("calls=")));
        calls.put(name, Long.parseLong(count));
      }
    }
    return calls;
  }

  @Test
  @DisplayName("steady state: a request costs exactly two Redis round trips (admit and settle) and nothing else")
  void twoRoundTripsPerRequest() {
    String key = key(10_000);
    HttpTestClient client = new HttpTestClient(vertx, true, key);
    assertThat(await(client.get(gateway.proxyPort(), "/flat/models")).status()).isEqualTo(200);
    awaitEvents(key, 1);
    Map<String, Long> before = commandCalls();
    int requests = 25;
    for (int i = 0; i < requests; i++) {
      assertThat(await(client.get(gateway.proxyPort(), "/flat/models")).status()).isEqualTo(200);
    }
    awaitEvents(key, 1 + requests);
    Map<String, Long> after = commandCalls();
    Map<String, Long> delta = new HashMap<>();
    after.forEach((name, calls) -> {
      long d = calls - before.getOrDefault(name, 0L);
      if (d > 0) {
        delta.put(name, d);
      }
    });
    // Not on the request path: this test's own INFO and XRANGE calls, and the background jobs
    // (usage stream consumer and its backlog gauge, reservation sweeper, last-used writes) that run on timers.
    // "hello": a pooled Redis connection (re)opened during the window greets the server once.
    for (String background : List.of("info", "hello", "xrange", "xreadgroup", "xautoclaim", "xack", "xdel", "xgroup", "xlen", "xpending",
        "zrangebyscore")) {
      delta.remove(background);
    }
    // Redis counts the commands scripts run too. Per request: two EVALSHAs from the gateway; inside
    // admit, the account's two buckets (HMGET, HSET, PEXPIRE each), GET and DECRBY of the balance,
    // ZADD of the reservation; inside settle, ZREM, INCRBY and XADD. Any command the gateway sent
    // on its own (a GET of the balance, say) would show up as one more.
    long n = requests;
    assertThat(delta).containsExactlyInAnyOrderEntriesOf(Map.of(
        "evalsha", 2 * n, "hmget", 2 * n, "hset", 2 * n, "pexpire", 2 * n, "get", n, "decrby", n,
        "zadd", n, "zrem", n, "incrby", n, "xadd", n));
  }

  @Test
  @DisplayName("every admitted request lands in Postgres exactly once, and Postgres' credits equal what Redis debited")
  void usageReachesPostgres() throws Exception {
    String key = key(10_000);
    for (int i = 0; i < 12; i++) {
      assertThat(post(key, "/v1/chat/completions", chat("gpt-4o-mini", 10, i % 2 == 0, null), null).status()).isEqualTo(200);
    }
    List<Map<String, String>> events = awaitEvents(key, 12);
    long debited = events.stream().mapToLong(e -> Long.parseLong(e.get("credits"))).sum();
    assertThat(spendable(key)).isEqualTo(10_000_000 - debited);
    io.vertx.sqlclient.Pool pg = io.vertx.pgclient.PgBuilder.pool()
        .connectingTo(io.tollgate.metering.store.PostgresUrls.toConnectOptions(gateway.postgresUrl())).using(vertx).build();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
      io.vertx.sqlclient.Row row;
      do {
        await(vertx.timer(50));
        row = await(pg.preparedQuery("SELECT count(*), coalesce(sum(credits), 0) FROM usage_events WHERE account_id = $1")
            .execute(io.vertx.sqlclient.Tuple.of(accountOf(key)))).iterator().next();
      } while (row.getLong(0) < 12 && System.nanoTime() < deadline);
      assertThat(row.getLong(0)).isEqualTo(12);
      assertThat(row.getLong(1)).isEqualTo(debited);
      // The ledger now knows the usage too: a rebuild from Postgres gives the same balance as Redis.
      HttpTestClient.Reply rebuilt = await(new HttpTestClient(vertx).send(HttpMethod.POST, gateway.adminPort(),
          "/admin/v1/accounts/" + accountOf(key) + "/credits/rebuild", GatewayHarness.adminHeaders(), Buffer.buffer("{}")));
      assertThat(io.tollgate.config.Credits.units(new java.math.BigDecimal(rebuilt.json().getValue("balance").toString())))
          .isEqualTo(10_000_000 - debited);
      assertThat(rebuilt.json().getValue("previous")).isEqualTo(rebuilt.json().getValue("balance"));
    } finally {
      pg.close();
    }
  }

  @Test
  @DisplayName("each kind of bad key is 401 with a message that says which, never echoing the key")
  void badKeys() {
    String key = key(10);
    Map<String, String> cases = new java.util.LinkedHashMap<>();
    cases.put("", "missing_api_key");
    cases.put("sk-not-ours", "invalid_api_key");
    cases.put(key.substring(0, key.length() - 1) + (key.endsWith("a") ? "b" : "a"), "invalid_api_key");
    cases.put(io.tollgate.metering.keys.ApiKeyFormat.generate("tg_test_"), "invalid_api_key");
    cases.forEach((presented, code) -> {
      MultiMap headers = presented.isEmpty() ? MultiMap.caseInsensitiveMultiMap() : GatewayHarness.bearer(presented);
      HttpTestClient.Reply reply = await(new HttpTestClient(vertx).send(HttpMethod.GET, gateway.proxyPort(), "/flat/models", headers, null));
      assertThat(reply.status()).as(presented).isEqualTo(401);
      assertThat(reply.json().getJsonObject("error").getString("code")).isEqualTo(code);
      if (!presented.isEmpty()) {
        assertThat(reply.text()).doesNotContain(presented);
      }
    });
    HttpTestClient.Reply typo = await(new HttpTestClient(vertx).send(HttpMethod.GET, gateway.proxyPort(), "/flat/models",
        GatewayHarness.bearer(key.substring(0, key.length() - 1) + (key.endsWith("a") ? "b" : "a")), null));
    assertThat(typo.json().getJsonObject("error").getString("message")).contains("checksum");
    // x-api-key works as well as Authorization.
    HttpTestClient.Reply viaHeader = await(new HttpTestClient(vertx).send(HttpMethod.GET, gateway.proxyPort(), "/flat/models",
        MultiMap.caseInsensitiveMultiMap().add("x-api-key", key), null));
    assertThat(viaHeader.status()).isEqualTo(200);
  }

  @Test
  @DisplayName("revoked and expired keys are 401 and say so")
  void revokedAndExpired() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "keys").put("initialCredits", 100));
    JsonObject first = GatewayHarness.createKey(gateway, vertx, account, new JsonObject());
    String key = first.getString("key");
    assertThat(await(new HttpTestClient(vertx, false, key).get(gateway.proxyPort(), "/flat/models")).status()).isEqualTo(200);
    await(new HttpTestClient(vertx).send(HttpMethod.POST, gateway.adminPort(), "/admin/v1/keys/" + first.getLong("id") + "/revoke",
        GatewayHarness.adminHeaders(), Buffer.buffer("{}")));
    HttpTestClient.Reply revoked = await(new HttpTestClient(vertx, false, key).get(gateway.proxyPort(), "/flat/models"));
    assertThat(revoked.status()).isEqualTo(401);
    assertThat(revoked.json().getJsonObject("error").getString("code")).isEqualTo("revoked_api_key");

    JsonObject second = GatewayHarness.createKey(gateway, vertx, account, new JsonObject());
    HttpTestClient.Reply rotated = await(new HttpTestClient(vertx).send(HttpMethod.POST, gateway.adminPort(),
        "/admin/v1/keys/" + second.getLong("id") + "/rotate", GatewayHarness.adminHeaders(), Buffer.buffer("{\"overlapHours\":0}")));
    assertThat(rotated.status()).isEqualTo(201);
    HttpTestClient.Reply expired = await(new HttpTestClient(vertx, false, second.getString("key")).get(gateway.proxyPort(), "/flat/models"));
    assertThat(expired.status()).isEqualTo(401);
    assertThat(expired.json().getJsonObject("error").getString("code")).isEqualTo("expired_api_key");
    String replacement = rotated.json().getString("key");
    assertThat(await(new HttpTestClient(vertx, false, replacement).get(gateway.proxyPort(), "/flat/models")).status()).isEqualTo(200);
  }

  @Test
  @DisplayName("scopes: a key limited to some models or routes gets 403 elsewhere")
  void scopes() {
    String key = keyWith(10_000, new JsonObject(), new JsonObject().put("scopes",
        new JsonObject().put("models", new JsonArray().add("gpt-4o-mini")).put("routes", new JsonArray().add("/v1/"))));
    assertThat(post(key, "/v1/chat/completions", chat("gpt-4o-mini", 5, false, null), null).status()).isEqualTo(200);
    HttpTestClient.Reply model = post(key, "/v1/chat/completions", chat("gpt-4o", 5, false, null), null);
    assertThat(model.status()).isEqualTo(403);
    assertThat(model.json().getJsonObject("error").getString("code")).isEqualTo("model_not_allowed");
    HttpTestClient.Reply route = post(key, "/flat/models", new JsonObject(), null);
    assertThat(route.status()).isEqualTo(403);
    assertThat(route.json().getJsonObject("error").getString("code")).isEqualTo("route_not_allowed");
  }

  @Test
  @DisplayName("a body declared JSON that is not JSON is 400 and is not forwarded")
  void badJson() {
    String key = key(100);
    int before = harness.stub.requestCount();
    HttpTestClient.Reply reply = await(new HttpTestClient(vertx).send(HttpMethod.POST, gateway.proxyPort(), "/v1/chat/completions",
        GatewayHarness.bearer(key), Buffer.buffer("{\"model\": \"gpt-4o-mini\", ")));
    assertThat(reply.status()).isEqualTo(400);
    assertThat(reply.json().getJsonObject("error").getString("code")).isEqualTo("invalid_json");
    assertThat(reply.json().getJsonObject("error").getString("message")).startsWith("request body is not valid JSON");
    assertThat(harness.stub.requestCount()).isEqualTo(before);
  }
}
