package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("Admin API: accounts, keys, credits, audit log")
class AdminApiTest {

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static Tollgate gateway;
  private static HttpTestClient client;

  @BeforeAll
  static void start() {
    client = new HttpTestClient(vertx, true);
    gateway = GatewayHarness.start("""
        routes:
          - prefix: /v1/
            upstream: %s/v1/
        plans:
          free: { requestsPerMinute: 60, tokensPerMinute: 40000, includedCredits: 1000 }
          pro: { requestsPerMinute: 600, tokensPerMinute: 400000, includedCredits: 50000 }
        metering: { lastUsedFlushSeconds: 1 }
        """.formatted(harness.stubBase()), Map.of());
  }

  @AfterAll
  static void stop() {
    gateway.close();
  }

  private static HttpTestClient.Reply call(HttpMethod method, String uri, Object body) {
    return call(method, uri, body, GatewayHarness.adminHeaders());
  }

  private static HttpTestClient.Reply call(HttpMethod method, String uri, Object body, MultiMap headers) {
    Buffer buffer = body == null ? null : body instanceof String s ? Buffer.buffer(s) : ((JsonObject) body).toBuffer();
    return await(client.send(method, gateway.adminPort(), uri, headers, buffer));
  }

  private static void assertProblem(HttpTestClient.Reply reply, int status, String detailContains) {
    assertThat(reply.status()).as(reply.text()).isEqualTo(status);
    assertThat(reply.headers().get("content-type")).isEqualTo("application/problem+json");
    assertThat(reply.json().getInteger("status")).isEqualTo(status);
    assertThat(reply.json().getString("detail")).contains(detailContains);
  }

  @Test
  @DisplayName("an account is created with its plan's credits, read back with spendable credits, listed and updated")
  void accountLifecycle() {
    HttpTestClient.Reply created = call(HttpMethod.POST, "/admin/v1/accounts", new JsonObject().put("name", "Acme").put("plan", "pro")
        .put("alertWebhookUrl", "https://acme.example/hooks"));
    assertThat(created.status()).isEqualTo(201);
    long id = created.json().getLong("id");
    assertThat(created.json().getJsonObject("credits").getLong("spendable")).isEqualTo(50_000);
    assertThat(created.json().getString("billingMode")).isEqualTo("prepaid");

    HttpTestClient.Reply got = call(HttpMethod.GET, "/admin/v1/accounts/" + id, null);
    assertThat(got.json().getString("name")).isEqualTo("Acme");
    assertThat(got.json().getJsonObject("planLimits").getLong("requestsPerMinute")).isEqualTo(600);

    HttpTestClient.Reply updated = call(HttpMethod.PATCH, "/admin/v1/accounts/" + id, new JsonObject().put("name", "Acme Inc")
        .put("limits", new JsonObject().put("requestsPerMinute", 5)).put("status", "suspended"));
    assertThat(updated.status()).isEqualTo(200);
    assertThat(updated.json().getString("name")).isEqualTo("Acme Inc");
    assertThat(updated.json().getJsonObject("limits").getLong("requestsPerMinute")).isEqualTo(5);

    HttpTestClient.Reply page = call(HttpMethod.GET, "/admin/v1/accounts?limit=1", null);
    assertThat(page.json().getJsonArray("data")).hasSize(1);
    assertThat(page.json().getLong("nextAfter")).isNotNull();
  }

  @Test
  @DisplayName("a suspended account's keys are refused at once (the change reaches the key cache)")
  void suspensionTakesEffect() {
    long id = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "soon suspended"));
    String key = GatewayHarness.createKey(gateway, vertx, id, new JsonObject()).getString("key");
    assertThat(await(new HttpTestClient(vertx, false, key).get(gateway.proxyPort(), "/v1/models")).status()).isEqualTo(200);
    call(HttpMethod.PATCH, "/admin/v1/accounts/" + id, new JsonObject().put("status", "suspended"));
    HttpTestClient.Reply refused = await(new HttpTestClient(vertx, false, key).get(gateway.proxyPort(), "/v1/models"));
    assertThat(refused.status()).isEqualTo(403);
    assertThat(refused.json().getJsonObject("error").getString("code")).isEqualTo("account_inactive");
  }

  @Test
  @DisplayName("bad account input is a problem+json 400 naming the field; unknown accounts are 404")
  void accountErrors() {
    assertProblem(call(HttpMethod.POST, "/admin/v1/accounts", new JsonObject()), 400, "'name' is required");
    assertProblem(call(HttpMethod.POST, "/admin/v1/accounts", new JsonObject().put("name", "x").put("billingMode", "barter")),
        400, "'billingMode' must be one of hybrid, postpaid, prepaid");
    assertProblem(call(HttpMethod.POST, "/admin/v1/accounts", new JsonObject().put("name", "x").put("plan", "platinum")),
        400, "'plan' must be a configured plan");
    assertProblem(call(HttpMethod.POST, "/admin/v1/accounts", new JsonObject().put("name", "x").put("spendCap", -5)),
        400, "'spendCap' must be credits from 0 to 9007199254740.992, got -5");
    assertProblem(call(HttpMethod.POST, "/admin/v1/accounts", "{not json"), 400, "not a JSON object");
    assertProblem(call(HttpMethod.GET, "/admin/v1/accounts/999999999", null), 404, "account 999999999 not found");
    assertProblem(call(HttpMethod.GET, "/admin/v1/accounts/abc", null), 404, "not found");
    assertProblem(call(HttpMethod.GET, "/admin/v1/accounts?limit=0", null), 400, "'limit' must be an integer 1-500");
  }

  @Test
  @DisplayName("a key's plaintext is returned once; listings show it masked; revoke and rotate work and 404 when unknown")
  void keys() {
    long id = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "keys"));
    JsonObject created = GatewayHarness.createKey(gateway, vertx, id, new JsonObject().put("name", "ci").put("environment", "test")
        .put("scopes", new JsonObject().put("models", new JsonArray().add("gpt-4o-mini"))));
    String key = created.getString("key");
    assertThat(key).startsWith("tg_test_");
    assertThat(created.getString("masked")).isEqualTo("tg_test_…" + key.substring(key.length() - 4));

    HttpTestClient.Reply list = call(HttpMethod.GET, "/admin/v1/accounts/" + id + "/keys", null);
    assertThat(list.text()).doesNotContain(key).contains(created.getString("masked"));
    assertThat(list.json().getJsonArray("data").getJsonObject(0).getString("status")).isEqualTo("active");

    HttpTestClient.Reply rotated = call(HttpMethod.POST, "/admin/v1/keys/" + created.getLong("id") + "/rotate",
        new JsonObject().put("overlapHours", 2));
    assertThat(rotated.status()).isEqualTo(201);
    assertThat(rotated.json().getString("key")).startsWith("tg_test_").isNotEqualTo(key);
    assertThat(rotated.json().getJsonObject("replaces").getLong("id")).isEqualTo(created.getLong("id"));
    // Within the overlap both keys work.
    assertThat(await(new HttpTestClient(vertx, false, key).get(gateway.proxyPort(), "/v1/models")).status()).isEqualTo(200);

    HttpTestClient.Reply revoked = call(HttpMethod.POST, "/admin/v1/keys/" + created.getLong("id") + "/revoke", "{}");
    assertThat(revoked.json().getString("status")).isEqualTo("revoked");
    assertProblem(call(HttpMethod.POST, "/admin/v1/keys/" + created.getLong("id") + "/rotate", "{}"), 409, "is revoked");
    assertProblem(call(HttpMethod.POST, "/admin/v1/keys/99999999/revoke", "{}"), 404, "key 99999999 not found");
    assertProblem(call(HttpMethod.POST, "/admin/v1/accounts/" + id + "/keys", new JsonObject().put("expiresAt", "yesterday")),
        400, "'expiresAt' must be an RFC 3339 timestamp");
    assertProblem(call(HttpMethod.POST, "/admin/v1/accounts/" + id + "/keys",
        new JsonObject().put("scopes", new JsonObject().put("colors", new JsonArray()))), 400, "'scopes.colors' is not a known scope");
  }

  @Test
  @DisplayName("a key's last use is recorded by a deferred write (the periodic or closing flush), never on the request path")
  void lastUsedRecorded() {
    long id = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "used"));
    String key = GatewayHarness.createKey(gateway, vertx, id, new JsonObject()).getString("key");
    assertThat(lastUsedAt(id)).isNull();
    // An instance whose periodic last-use write is an hour away: whatever Postgres shows before it
    // stops was written on the request path. Stopping flushes what it holds.
    Tollgate batching = GatewayHarness.start("""
        routes:
          - prefix: /v1/
            upstream: %s/v1/
        plans:
          free: { requestsPerMinute: 60, tokensPerMinute: 40000, includedCredits: 1000 }
        metering: { lastUsedFlushSeconds: 3600 }
        """.formatted(harness.stubBase()), Map.of());
    try {
      for (int i = 0; i < 5; i++) {
        assertThat(await(new HttpTestClient(vertx, false, key).get(batching.proxyPort(), "/v1/models")).status()).isEqualTo(200);
      }
      assertThat(lastUsedAt(id)).as("nothing written on the request path").isNull();
    } finally {
      batching.close();
    }
    assertThat(lastUsedAt(id)).as("written by the batch the stopping instance flushed").isNotNull();
  }

  private static String lastUsedAt(long account) {
    return call(HttpMethod.GET, "/admin/v1/accounts/" + account + "/keys", null).json().getJsonArray("data")
        .getJsonObject(0).getString("lastUsedAt");
  }

  @Test
  @DisplayName("credits: grants and adjustments land in the ledger and the hot balance; an idempotency key applies once")
  void credits() {
    long id = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "credits"));
    String uri = "/admin/v1/accounts/" + id + "/credits";
    HttpTestClient.Reply grant = call(HttpMethod.POST, uri, new JsonObject().put("amount", 500).put("reason", "welcome")
        .put("idempotencyKey", "welcome-1"));
    assertThat(grant.json().getLong("balance")).isEqualTo(1_500);
    HttpTestClient.Reply again = call(HttpMethod.POST, uri, new JsonObject().put("amount", 500).put("reason", "welcome")
        .put("idempotencyKey", "welcome-1"));
    assertThat(again.json().getBoolean("applied")).isFalse();
    assertThat(again.json().getLong("balance")).isEqualTo(1_500);
    HttpTestClient.Reply adjust = call(HttpMethod.POST, uri, new JsonObject().put("amount", -200).put("reason", "goodwill reversal"));
    assertThat(adjust.json().getLong("balance")).isEqualTo(1_300);

    HttpTestClient.Reply ledger = call(HttpMethod.GET, uri, null);
    assertThat(ledger.json().getLong("spendable")).isEqualTo(1_300);
    assertThat(ledger.json().getLong("ledgerSpendable")).isEqualTo(1_300);
    assertThat(ledger.json().getJsonArray("transactions")).hasSize(3);

    // Redis loses the balance; the rebuild restores it from the ledger.
    await(io.vertx.redis.client.Redis.createClient(vertx, gateway.redisUrl())
        .send(io.vertx.redis.client.Request.cmd(io.vertx.redis.client.Command.SET).arg("tg:{s" + (id % 16) + "}:acct:" + id + ":credits:mc").arg(7_000)));
    HttpTestClient.Reply rebuilt = call(HttpMethod.POST, uri + "/rebuild", "{}");
    assertThat(rebuilt.json().getLong("previous")).isEqualTo(7);
    assertThat(rebuilt.json().getLong("balance")).isEqualTo(1_300);

    assertProblem(call(HttpMethod.POST, uri, new JsonObject().put("amount", 0).put("reason", "x")), 400, "'amount' must not be 0");
    assertProblem(call(HttpMethod.POST, uri, "{\"amount\": 1.5005, \"reason\": \"x\"}"), 400,
        "'amount' must be a number of credits with at most 3 decimals: 1.5005 has more than 3 decimals (credits are exact to 0.001, the smallest unit)");
    assertProblem(call(HttpMethod.POST, uri, new JsonObject().put("amount", 5)), 400, "'reason' is required");
  }

  @Test
  @DisplayName("every mutation is in the audit log with actor, IP and before/after; filters and CSV export work")
  void auditLog() {
    MultiMap headers = GatewayHarness.adminHeaders().add("x-tollgate-actor", "alice@ops");
    HttpTestClient.Reply created = call(HttpMethod.POST, "/admin/v1/accounts", new JsonObject().put("name", "Audited"), headers);
    long id = created.json().getLong("id");
    call(HttpMethod.PATCH, "/admin/v1/accounts/" + id, new JsonObject().put("name", "Audited, renamed"), headers);

    HttpTestClient.Reply entries = call(HttpMethod.GET, "/admin/v1/audit-log?actor=alice@ops&resourceType=account&resourceId=" + id, null);
    JsonArray data = entries.json().getJsonArray("data");
    assertThat(data).hasSize(2);
    JsonObject update = data.getJsonObject(0);
    assertThat(update.getString("action")).isEqualTo("account.update");
    assertThat(update.getString("ip")).isEqualTo("127.0.0.1");
    assertThat(update.getJsonObject("before").getString("name")).isEqualTo("Audited");
    assertThat(update.getJsonObject("after").getString("name")).isEqualTo("Audited, renamed");

    HttpTestClient.Reply csv = call(HttpMethod.GET, "/admin/v1/audit-log?actor=alice@ops&resourceId=" + id,
        null, GatewayHarness.adminHeaders().set("accept", "text/csv"));
    assertThat(csv.headers().get("content-type")).startsWith("text/csv");
    String[] lines = csv.text().split("\r\n");
    assertThat(lines[0]).isEqualTo("id,created_at,actor,action,resource_type,resource_id,ip,before,after");
    assertThat(lines).hasSize(3);
    assertThat(lines[1]).contains("account.update").contains("\"Audited, renamed\"".replace("\"", "\"\""));

    assertProblem(call(HttpMethod.GET, "/admin/v1/audit-log?from=last-week", null), 400, "'from' must be an RFC 3339 timestamp");
  }
}
