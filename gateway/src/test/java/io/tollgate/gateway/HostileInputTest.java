package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Issue 14, items 1–3: what a client with a valid key sends cannot overflow pricing, poison usage rows or dodge a model restriction. */
@DisplayName("Hostile input on the metered path")
class HostileInputTest {

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
          - prefix: /v1/
            upstream: %1$s/v1/
            usage: openai
        pricing:
          models:
            gpt-4o-mini: { input: 150000, output: 600000 }
            gpt-4o: { input: 10000000, output: 10000000 }
          default: { input: 1000000, output: 1000000 }
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0 }
          narrow: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0, models: [gpt-4o-mini] }
        """.formatted(harness.stubBase()), Map.of());
    redis = Redis.createClient(vertx, gateway.redisUrl());
    pg = io.vertx.pgclient.PgBuilder.pool()
        .connectingTo(io.tollgate.metering.store.PostgresUrls.toConnectOptions(gateway.postgresUrl())).using(vertx).build();
  }

  @AfterAll
  static void stop() {
    redis.close();
    await(pg.close());
    gateway.close();
  }

  private static final Map<String, Long> ACCOUNTS = new HashMap<>();

  private static String key(String plan, long credits, JsonObject keyAttributes) {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "hostile").put("plan", plan)
        .put("initialCredits", credits));
    String key = GatewayHarness.createKey(gateway, vertx, account, keyAttributes).getString("key");
    ACCOUNTS.put(key, account);
    return key;
  }

  private static String messages() {
    return "\"messages\": [{\"role\": \"user\", \"content\": \"0123456789abcdef\"}]";
  }

  /** Posts a raw body (so numbers are exactly as written) with the given content type, or none. */
  private static HttpTestClient.Reply post(String key, String body, String contentType) {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap().add("authorization", "Bearer " + key);
    if (contentType != null) {
      headers.add("content-type", contentType);
    }
    return await(new HttpTestClient(vertx).send(HttpMethod.POST, gateway.proxyPort(), "/v1/chat/completions", headers,
        Buffer.buffer(body)));
  }

  private static long spendable(String key) {
    HttpTestClient.Reply reply = await(new HttpTestClient(vertx).send(HttpMethod.GET, gateway.adminPort(),
        "/admin/v1/accounts/" + ACCOUNTS.get(key), GatewayHarness.adminHeaders(), null));
    return reply.json().getJsonObject("credits").getLong("spendable");
  }

  private static String redisBalance(String key) {
    Response r = await(redis.send(Request.cmd(Command.GET).arg(new io.tollgate.metering.redis.RedisKeys(16).credits(ACCOUNTS.get(key)))));
    return r == null ? null : r.toString();
  }

  /** The account's usage events, in the stream or already in Postgres: event id → [model, credits]. */
  private static Map<String, String[]> events(String key) {
    long account = ACCOUNTS.get(key);
    Map<String, String[]> byId = new HashMap<>();
    for (Row row : await(pg.preparedQuery("SELECT event_id, model, credits FROM usage_events WHERE account_id = $1")
        .execute(Tuple.of(account)))) {
      byId.put(row.getUUID("event_id").toString(), new String[] {row.getString("model"), Long.toString(row.getLong("credits"))});
    }
    Response entries = await(redis.send(Request.cmd(Command.XRANGE).arg("tg:{s" + Math.floorMod(account, 16L) + "}:usage")
        .arg("-").arg("+")));
    for (Response entry : entries) {
      Map<String, String> f = new HashMap<>();
      for (int i = 0; i + 1 < entry.get(1).size(); i += 2) {
        f.put(entry.get(1).get(i).toString(), entry.get(1).get(i + 1).toString());
      }
      if (Long.toString(account).equals(f.get("account_id"))) {
        byId.putIfAbsent(f.get("event_id"), new String[] {f.get("model"), f.get("credits")});
      }
    }
    return byId;
  }

  private static Map<String, String[]> awaitEvents(String key, int count) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    Map<String, String[]> events = events(key);
    while (events.size() < count && System.nanoTime() < deadline) {
      await(vertx.timer(20));
      events = events(key);
    }
    assertThat(events).hasSize(count);
    return events;
  }

  private static JsonObject error(HttpTestClient.Reply reply) {
    return reply.json().getJsonObject("error");
  }

  @Test
  @DisplayName("max_tokens of 15372286728091286, Long.MAX, 1e30, -1 or 1.5 is a 400 naming the field and the limit; nothing is charged")
  void hugeMaxTokensRefused() {
    String key = key("free", 0, new JsonObject());
    assertThat(spendable(key)).isZero();
    String balanceBefore = redisBalance(key);
    int forwarded = harness.stub.requestCount();
    for (String value : new String[] {"15372286728091286", "9223372036854775807", "1e30", "-1", "92233720368547758070"}) {
      HttpTestClient.Reply reply = post(key, "{\"model\": \"gpt-4o-mini\", \"max_tokens\": " + value + ", " + messages() + "}",
          "application/json");
      assertThat(reply.status()).as(value + ": " + reply.text()).isEqualTo(400);
      assertThat(error(reply).getString("code")).isEqualTo("invalid_max_tokens");
      assertThat(error(reply).getString("message")).contains("'max_tokens'").contains("from 0 to 10000000");
    }
    HttpTestClient.Reply fraction = post(key, "{\"model\": \"gpt-4o-mini\", \"max_completion_tokens\": 1.5, " + messages() + "}",
        "application/json");
    assertThat(fraction.status()).as(fraction.text()).isEqualTo(400);
    assertThat(error(fraction).getString("message")).contains("'max_completion_tokens'").contains("integer").contains("1.5");
    // Within the bound, the same prepaid account with 0 credits is refused for credits, not admitted.
    HttpTestClient.Reply atLimit = post(key, "{\"model\": \"gpt-4o\", \"max_tokens\": 10000000, " + messages() + "}",
        "application/json");
    assertThat(atLimit.status()).as(atLimit.text()).isEqualTo(402);
    assertThat(harness.stub.requestCount()).isEqualTo(forwarded);
    assertThat(spendable(key)).isZero();
    assertThat(redisBalance(key)).isEqualTo(balanceBefore);
    assertThat(events(key)).isEmpty();
  }

  @Test
  @DisplayName("a model with a NUL byte or over 200 characters is a 400 that says why, and never reaches the upstream or the usage stream")
  void unstorableModelRefused() {
    String key = key("free", 1_000, new JsonObject());
    int forwarded = harness.stub.requestCount();
    HttpTestClient.Reply nul = post(key, "{\"model\": \"gpt-4o-mini\\u0000x\", " + messages() + "}", "application/json");
    assertThat(nul.status()).as(nul.text()).isEqualTo(400);
    assertThat(error(nul).getString("code")).isEqualTo("invalid_model");
    assertThat(error(nul).getString("message")).contains("control characters").contains("U+0000");
    String long201 = "m".repeat(201);
    HttpTestClient.Reply tooLong = post(key, "{\"model\": \"" + long201 + "\", " + messages() + "}", "application/json");
    assertThat(tooLong.status()).as(tooLong.text()).isEqualTo(400);
    assertThat(error(tooLong).getString("message")).contains("201 characters").contains("limit is 200");
    HttpTestClient.Reply stream = post(key, "{\"model\": \"" + "m".repeat(3000) + "\", \"stream\": true, " + messages() + "}",
        "application/json");
    assertThat(stream.status()).as(stream.text()).isEqualTo(400);
    assertThat(harness.stub.requestCount()).isEqualTo(forwarded);
    assertThat(spendable(key)).isEqualTo(1_000);
    // 200 characters is still a model (the stub answers any model).
    HttpTestClient.Reply ok = post(key, "{\"model\": \"" + "m".repeat(200) + "\", \"max_tokens\": 1, " + messages() + "}",
        "application/json");
    assertThat(ok.status()).as(ok.text()).isEqualTo(200);
  }

  @Test
  @DisplayName("a key limited to gpt-4o-mini cannot reach gpt-4o by sending JSON as text/plain, without a type, or as multipart")
  void keyRestrictionHoldsForEveryContentType() {
    String key = key("free", 10_000,
        new JsonObject().put("scopes", new JsonObject().put("models", new JsonArray().add("gpt-4o-mini"))));
    int forwarded = harness.stub.requestCount();
    String body = "{\"model\": \"gpt-4o\", \"max_tokens\": 10, " + messages() + "}";
    for (String type : new String[] {"text/plain", null, "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
        "application/json"}) {
      HttpTestClient.Reply reply = post(key, body, type);
      assertThat(reply.status()).as(type + ": " + reply.text()).isEqualTo(403);
      assertThat(error(reply).getString("code")).isEqualTo("model_not_allowed");
    }
    HttpTestClient.Reply multipart = post(key, body, "multipart/form-data; boundary=x");
    assertThat(multipart.status()).as(multipart.text()).isEqualTo(400);
    assertThat(error(multipart).getString("code")).isEqualTo("model_unreadable");
    assertThat(error(multipart).getString("message")).contains("multipart/form-data").contains("application/json");
    HttpTestClient.Reply plainText = post(key, "gpt-4o please", "text/plain");
    assertThat(plainText.status()).as(plainText.text()).isEqualTo(400);
    assertThat(error(plainText).getString("code")).isEqualTo("model_unreadable");
    HttpTestClient.Reply noModel = post(key, "{\"max_tokens\": 10, " + messages() + "}", "text/plain");
    assertThat(noModel.status()).as(noModel.text()).isEqualTo(400);
    assertThat(error(noModel).getString("code")).isEqualTo("model_required");
    assertThat(harness.stub.requestCount()).isEqualTo(forwarded);
    assertThat(spendable(key)).isEqualTo(10_000);
    // The allowed model still passes as text/plain.
    assertThat(post(key, "{\"model\": \"gpt-4o-mini\", \"max_tokens\": 10, " + messages() + "}", "text/plain").status())
        .isEqualTo(200);
  }

  @Test
  @DisplayName("a plan limited to gpt-4o-mini cannot reach gpt-4o by sending JSON as text/plain or without a type")
  void planRestrictionHoldsForEveryContentType() {
    String key = key("narrow", 10_000, new JsonObject());
    int forwarded = harness.stub.requestCount();
    String body = "{\"model\": \"gpt-4o\", \"max_tokens\": 10, " + messages() + "}";
    for (String type : new String[] {"text/plain", null}) {
      HttpTestClient.Reply reply = post(key, body, type);
      assertThat(reply.status()).as(type + ": " + reply.text()).isEqualTo(403);
      assertThat(error(reply).getString("code")).isEqualTo("model_not_in_plan");
    }
    HttpTestClient.Reply multipart = post(key, body, "multipart/form-data; boundary=x");
    assertThat(multipart.status()).as(multipart.text()).isEqualTo(400);
    assertThat(error(multipart).getString("code")).isEqualTo("model_unreadable");
    assertThat(harness.stub.requestCount()).isEqualTo(forwarded);
    assertThat(spendable(key)).isEqualTo(10_000);
  }

  @Test
  @DisplayName("JSON sent as text/plain is priced as the model it names, and its usage row records that model")
  void textPlainPricedByItsModel() {
    String key = key("free", 10_000, new JsonObject());
    HttpTestClient.Reply reply = post(key, "{\"model\": \"gpt-4o\", \"max_tokens\": 10, " + messages() + "}", "text/plain");
    assertThat(reply.status()).as(reply.text()).isEqualTo(200);
    String[] event = awaitEvents(key, 1).values().iterator().next();
    // Stub usage: 4 prompt + 10 completion tokens at gpt-4o's 10,000,000 per million = 140 (the default rate would be 14),
    // in units (1000 a credit) in the stream.
    assertThat(event).containsExactly("gpt-4o", "140000");
    assertThat(spendable(key)).isEqualTo(10_000 - 140);
  }

  private static double deadLettersCounted() {
    String metrics = await(new HttpTestClient(vertx).get(gateway.adminPort(), "/metrics")).text();
    return metrics.lines().filter(line -> line.startsWith("tollgate_usage_dead_letters_total "))
        .findFirst().map(line -> Double.parseDouble(line.substring(line.indexOf(' ') + 1).trim()))
        .orElseThrow(() -> new AssertionError("tollgate_usage_dead_letters_total not in /metrics"));
  }

  @Test
  @DisplayName("a poison usage event already in the stream is dead-lettered and counted by the running gateway, and the event behind it is stored")
  void poisonInTheStreamIsCounted() {
    String key = key("free", 10_000, new JsonObject());
    long account = ACCOUNTS.get(key);
    double before = deadLettersCounted();
    String stream = new io.tollgate.metering.redis.RedisKeys(16).usageStream(account);
    java.util.UUID poison = io.tollgate.metering.usage.UuidV7.at(System.currentTimeMillis());
    java.util.UUID good = io.tollgate.metering.usage.UuidV7.at(System.currentTimeMillis());
    for (io.tollgate.metering.usage.UsageEvent e : java.util.List.of(
        new io.tollgate.metering.usage.UsageEvent(poison, account, 1, "/v1/", "gpt\u0000x", 1, 1, 1, 200, 1, false, "ok",
            System.currentTimeMillis()),
        new io.tollgate.metering.usage.UsageEvent(good, account, 1, "/v1/", "gpt-4o-mini", 1, 1, 1, 200, 1, false, "ok",
            System.currentTimeMillis()))) {
      Request add = Request.cmd(Command.XADD).arg(stream).arg("*");
      e.toStreamFields().forEach(add::arg);
      await(redis.send(add));
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < deadline && !(storedInPostgres(good) && deadLettersCounted() >= before + 1)) {
      await(vertx.timer(50));
    }
    assertThat(storedInPostgres(good)).isTrue();
    assertThat(deadLettersCounted()).isGreaterThanOrEqualTo(before + 1);
    Row dead = await(pg.preparedQuery("SELECT error, sqlstate FROM usage_dead_letters WHERE event_id = $1")
        .execute(Tuple.of(poison.toString()))).iterator().next();
    assertThat(dead.getString("sqlstate")).isEqualTo("22021");
  }

  private static boolean storedInPostgres(java.util.UUID eventId) {
    return await(pg.preparedQuery("SELECT count(*) FROM usage_events WHERE event_id = $1").execute(Tuple.of(eventId)))
        .iterator().next().getLong(0) == 1;
  }
}
