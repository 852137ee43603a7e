package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 14's admin findings: input that used to give 500 (NUL in a text field or filter), commit a
 * ledger row and then fail (a grant of Long.MAX), or issue a dead key (a retried rotate) is refused
 * with a 400/409 that names what was wrong, and changes nothing.
 */
@DisplayName("Admin API under hostile input: NUL, huge numbers and retried rotations change nothing")
class AdminHostileInputTest {

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
        """.formatted(harness.stubBase()), Map.of());
  }

  @AfterAll
  static void stop() {
    gateway.close();
  }

  private static HttpTestClient.Reply call(HttpMethod method, String uri, JsonObject body) {
    return await(client.send(method, gateway.adminPort(), uri, GatewayHarness.adminHeaders(),
        body == null ? null : Buffer.buffer(body.encode())));
  }

  /** A call with the body exactly as written (a JsonObject would turn 9007199254740.993 into a double first). */
  private static HttpTestClient.Reply call(HttpMethod method, String uri, String rawBody) {
    return await(client.send(method, gateway.adminPort(), uri, GatewayHarness.adminHeaders(), Buffer.buffer(rawBody)));
  }

  private static void assertProblem(HttpTestClient.Reply reply, int status, String detail) {
    assertThat(reply.status()).as(reply.text()).isEqualTo(status);
    assertThat(reply.headers().get("content-type")).isEqualTo("application/problem+json");
    assertThat(reply.json().getString("detail")).contains(detail);
  }

  @Test
  @DisplayName("a NUL in a name or an audit-log filter is 400 naming it; the CSV export with a clean filter is whole")
  void nulIsRefused() {
    assertProblem(call(HttpMethod.POST, "/admin/v1/accounts", new JsonObject().put("name", "evil\u0000name")),
        400, "'name' must not contain control characters (found U+0000)");
    assertProblem(call(HttpMethod.POST, "/admin/v1/accounts", new JsonObject().put("name", "x".repeat(1_001))),
        400, "'name' must be at most 1000 characters");
    assertProblem(call(HttpMethod.GET, "/admin/v1/audit-log?actor=a%00b", (JsonObject) null), 400, "query parameter 'actor' must not contain control characters");

    long id = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "clean"));
    HttpTestClient.Reply csv = await(client.send(HttpMethod.GET, gateway.adminPort(),
        "/admin/v1/audit-log?format=csv&resourceType=account&resourceId=" + id, GatewayHarness.adminHeaders(), null));
    assertThat(csv.status()).isEqualTo(200);
    assertThat(csv.text().lines().count()).as("header and the account.create row").isEqualTo(2);
  }

  @Test
  @DisplayName("a grant of Long.MAX (or 2^53) credits is 400 and writes no ledger row; the largest exact amount is accepted")
  void hugeGrant() {
    long id = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "huge"));
    String uri = "/admin/v1/accounts/" + id + "/credits";
    int before = call(HttpMethod.GET, uri, (JsonObject) null).json().getJsonArray("transactions").size();
    assertProblem(call(HttpMethod.POST, uri, new JsonObject().put("amount", Long.MAX_VALUE).put("reason", "boom")),
        400, "'amount' must be a number of credits with at most 3 decimals: 9223372036854775807 is beyond ±9007199254740.992 credits");
    assertProblem(call(HttpMethod.POST, uri, new JsonObject().put("amount", 1L << 53).put("reason", "boom")),
        400, "'amount' must be a number of credits");
    // Just beyond 2^53 units (the most a Redis script holds exactly): refused, not rounded.
    assertProblem(call(HttpMethod.POST, uri, "{\"amount\": 9007199254740.993, \"reason\": \"boom\"}"),
        400, "'amount' must be a number of credits");
    assertThat(call(HttpMethod.GET, uri, (JsonObject) null).json().getJsonArray("transactions")).hasSize(before);

    // (2^53 − 1 − 1,000,000) units, as exact credits: the headroom is for the account's included credits.
    HttpTestClient.Reply max = call(HttpMethod.POST, uri, "{\"amount\": 9007199253740.991, \"reason\": \"ok\"}");
    assertThat(max.status()).as(max.text()).isEqualTo(200);
    assertThat(call(HttpMethod.GET, uri, (JsonObject) null).json().getJsonArray("transactions")).hasSize(before + 1);
  }

  @Test
  @DisplayName("rotating a key twice: the second is 409 naming the replacement, and no second key is issued; overlapHours is bounded")
  void rotateTwice() {
    long id = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "rotate"));
    long keyId = GatewayHarness.createKey(gateway, vertx, id, new JsonObject()).getLong("id");
    String rotate = "/admin/v1/keys/" + keyId + "/rotate";
    assertProblem(call(HttpMethod.POST, rotate, new JsonObject().put("overlapHours", 1_000_000_000_000L)),
        400, "'overlapHours' must be at most 720");
    HttpTestClient.Reply first = call(HttpMethod.POST, rotate, new JsonObject().put("overlapHours", 1));
    assertThat(first.status()).isEqualTo(201);
    long replacement = first.json().getLong("id");
    assertProblem(call(HttpMethod.POST, rotate, new JsonObject().put("overlapHours", 1)), 409,
        "key " + keyId + " was already rotated: its replacement is key " + replacement);
    assertThat(call(HttpMethod.GET, "/admin/v1/accounts/" + id + "/keys", (JsonObject) null).json().getJsonArray("data"))
        .as("the original and one replacement").hasSize(2);
  }
}
