package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Counter;
import io.tollgate.metering.keys.ApiKeyFormat;
import io.tollgate.metering.testing.TestServices;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * README, Authenticate and "Billable actions and the ingest API": the ingest API takes a key with
 * the proxy's rules, so it answers a refused key as the proxy does (in problem+json), under the
 * same failed-authentication limit, and counts each refusal in
 * {@code tollgate_admission_decisions_total} (and a key store outage in
 * {@code tollgate_metering_unavailable_total}) exactly once, as the proxy does. Every expected
 * status, code, message and count below is the documented behaviour, not read back from the code.
 *
 * <p>Each test starts its own gateway: the failed-authentication limit is per instance and per
 * client address, and every request here comes from 127.0.0.1.
 */
@DisplayName("Key authentication: the ingest API refuses, locks out and counts keys exactly as the proxy does")
class KeyAuthenticationTest {

  private static final int LIMIT = 3;
  private static final String PER_KEY_LOCKOUT = "this key was refused too often from this address; try again in a minute";
  private static final String PER_ADDRESS_LOCKOUT = "too many failed authentications from this address; try again in a minute";
  private static final String EVENTS = "/tollgate/v1/events";

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;

  private static Tollgate gateway() {
    return GatewayHarness.start("""
        routes:
          - { prefix: /v1/, upstream: "%s/v1/", usage: openai }
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0 }
        metering: { failedAuthPerMinute: %d }
        """.formatted(harness.stubBase(), LIMIT), Map.of());
  }

  @Test
  @DisplayName("ingest: a revoked key past the limit gets 429 naming the key, and its 401s and the 429 are each counted once")
  void ingestRevokedKeyLockout() {
    try (Tollgate gateway = gateway()) {
      long account = account(gateway);
      String revoked = revokedKey(gateway, account);
      String otherRevoked = revokedKey(gateway, account);

      for (int i = 0; i < LIMIT; i++) {
        HttpTestClient.Reply refused = event(gateway, revoked);
        assertThat(refused.status()).as(refused.text()).isEqualTo(401);
        assertThat(refused.headers().get("content-type")).startsWith("application/problem+json");
        assertThat(refused.headers().get("www-authenticate")).isEqualTo("Bearer realm=\"tollgate\"");
        assertThat(refused.json().getString("code")).isEqualTo("revoked_api_key");
        assertThat(refused.json().getString("detail")).isEqualTo("this API key has been revoked");
      }
      HttpTestClient.Reply locked = event(gateway, revoked);
      assertThat(locked.status()).as(locked.text()).isEqualTo(429);
      assertThat(locked.headers().get("content-type")).startsWith("application/problem+json");
      assertThat(locked.headers().get("retry-after")).isEqualTo("60");
      assertThat(locked.json().getString("code")).isEqualTo("too_many_failed_authentications");
      assertThat(locked.json().getString("detail")).isEqualTo(PER_KEY_LOCKOUT);
      assertThat(locked.text()).doesNotContain(revoked);

      // The lockout is per address and key: another revoked key from the same address is still told it is revoked.
      HttpTestClient.Reply other = event(gateway, otherRevoked);
      assertThat(other.status()).isEqualTo(401);
      assertThat(other.json().getString("code")).isEqualTo("revoked_api_key");

      assertThat(decisions(gateway, "unauthenticated", "revoked_api_key")).isEqualTo(LIMIT + 1);
      assertThat(decisions(gateway, "refused", "failed_auth_limit")).isEqualTo(1);
      assertThat(allDecisions(gateway)).as("one decision per refusal, none other").isEqualTo(LIMIT + 2);
    }
  }

  @Test
  @DisplayName("ingest: missing, malformed and unknown keys count against the address; past the limit 429 names the address; "
      + "a scoped-out key gets 403; each counted once, and a valid key still passes")
  void ingestGuessesAndForbiddenKeys() {
    try (Tollgate gateway = gateway()) {
      long account = account(gateway);
      String valid = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
      String proxyOnly = GatewayHarness.createKey(gateway, vertx, account,
          new JsonObject().put("scopes", new JsonObject().put("routes", new JsonArray().add("/v1/")))).getString("key");

      HttpTestClient.Reply missing = event(gateway, null);
      assertThat(missing.status()).isEqualTo(401);
      assertThat(missing.headers().get("www-authenticate")).isEqualTo("Bearer realm=\"tollgate\"");
      assertThat(missing.json().getString("code")).isEqualTo("missing_api_key");
      HttpTestClient.Reply malformed = event(gateway, "tg_live_not-even-well-formed");
      assertThat(malformed.status()).isEqualTo(401);
      assertThat(malformed.json().getString("code")).isEqualTo("invalid_api_key");
      String guess = ApiKeyFormat.generate("tg_live_");
      HttpTestClient.Reply unknown = event(gateway, guess);
      assertThat(unknown.status()).isEqualTo(401);
      assertThat(unknown.json().getString("code")).isEqualTo("invalid_api_key");
      assertThat(unknown.json().getString("detail")).isEqualTo("unknown API key");

      HttpTestClient.Reply locked = event(gateway, ApiKeyFormat.generate("tg_live_"));
      assertThat(locked.status()).as(locked.text()).isEqualTo(429);
      assertThat(locked.headers().get("retry-after")).isEqualTo("60");
      assertThat(locked.json().getString("code")).isEqualTo("too_many_failed_authentications");
      assertThat(locked.json().getString("detail")).isEqualTo(PER_ADDRESS_LOCKOUT);

      HttpTestClient.Reply forbidden = event(gateway, proxyOnly);
      assertThat(forbidden.status()).isEqualTo(403);
      assertThat(forbidden.json().getString("code")).isEqualTo("route_not_allowed");
      assertThat(forbidden.headers().get("www-authenticate")).isNull();

      HttpTestClient.Reply balance = await(new HttpTestClient(vertx, false, valid).get(gateway.proxyPort(), "/tollgate/v1/balance"));
      assertThat(balance.status()).as("a valid key from the locked-out address").isEqualTo(200);

      assertThat(decisions(gateway, "unauthenticated", "missing_api_key")).isEqualTo(1);
      assertThat(decisions(gateway, "unauthenticated", "invalid_api_key")).isEqualTo(2);
      assertThat(decisions(gateway, "refused", "failed_auth_limit")).isEqualTo(1);
      assertThat(decisions(gateway, "forbidden", "route_not_allowed")).isEqualTo(1);
      assertThat(allDecisions(gateway)).as("one decision per refusal; the ingest's own answers are not admissions").isEqualTo(5);
    }
  }

  @Test
  @DisplayName("proxy: every kind of refusal adds exactly 1 to tollgate_admission_decisions_total, under its decision and reason")
  void proxyCountsEachRefusalOnce() {
    try (Tollgate gateway = gateway()) {
      long account = account(gateway);
      String revoked = revokedKey(gateway, account);
      String ingestOnly = GatewayHarness.createKey(gateway, vertx, account,
          new JsonObject().put("scopes", new JsonObject().put("routes", new JsonArray().add("/tollgate/v1/")))).getString("key");
      String miniOnly = GatewayHarness.createKey(gateway, vertx, account,
          new JsonObject().put("scopes", new JsonObject().put("models", new JsonArray().add("gpt-4o-mini")))).getString("key");

      refusedOnce(gateway, null, 401, "unauthenticated", "missing_api_key");
      refusedOnce(gateway, "tg_live_not-even-well-formed", 401, "unauthenticated", "invalid_api_key");
      refusedOnce(gateway, ApiKeyFormat.generate("tg_live_"), 401, "unauthenticated", "invalid_api_key");
      // Three malformed or unknown keys from this address: the limit.
      refusedOnce(gateway, ApiKeyFormat.generate("tg_live_"), 429, "refused", "failed_auth_limit");
      refusedOnce(gateway, revoked, 401, "unauthenticated", "revoked_api_key");
      refusedOnce(gateway, ingestOnly, 403, "forbidden", "route_not_allowed");
      // Refused after authentication, for the model the body names.
      refusedOnce(gateway, miniOnly, 403, "forbidden", "model_not_allowed");
    }
  }

  @Test
  @DisplayName("Postgres down: a key not yet cached gets 503 on the ingest API as on the proxy, each counted once as unavailable")
  void keyStoreDownCountedOnBothSurfaces() {
    try (Tollgate gateway = gateway()) {
      long account = account(gateway);
      String forIngest = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
      String forProxy = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");

      TestServices.get().stopPostgres();
      try {
        // So that the pool has seen Postgres go.
        GatewayHarness.awaitNotReady(gateway, vertx);
        HttpTestClient.Reply ingest = event(gateway, forIngest);
        assertThat(ingest.status()).as(ingest.text()).isEqualTo(503);
        assertThat(ingest.headers().get("content-type")).startsWith("application/problem+json");
        assertThat(ingest.headers().get("retry-after")).isEqualTo("1");
        assertThat(ingest.json().getString("code")).isEqualTo("metering_unavailable");
        assertThat(unavailable(gateway)).isEqualTo(1);
        assertThat(decisions(gateway, "unavailable", "dependency_down")).isEqualTo(1);

        HttpTestClient.Reply proxy = chat(gateway, forProxy, "gpt-4o-mini");
        assertThat(proxy.status()).as(proxy.text()).isEqualTo(503);
        assertThat(proxy.headers().get("retry-after")).isEqualTo("1");
        assertThat(proxy.json().getJsonObject("error").getString("code")).isEqualTo("metering_unavailable");
        assertThat(unavailable(gateway)).isEqualTo(2);
        assertThat(decisions(gateway, "unavailable", "dependency_down")).isEqualTo(2);
        assertThat(allDecisions(gateway)).isEqualTo(2);
      } finally {
        TestServices.get().startPostgres();
      }
    }
  }

  // ---- helpers

  /** One proxy request with {@code key}: answered {@code status}, and the decisions counted grew by 1, under this series. */
  private static void refusedOnce(Tollgate gateway, String key, int status, String decision, String reason) {
    double series = decisions(gateway, decision, reason);
    double all = allDecisions(gateway);
    HttpTestClient.Reply reply = chat(gateway, key, "gpt-4o");
    assertThat(reply.status()).as(reply.text()).isEqualTo(status);
    assertThat(reply.json().getJsonObject("error").getString("code")).isEqualTo(status == 429 ? "too_many_failed_authentications" : reason);
    assertThat(decisions(gateway, decision, reason) - series).as(decision + "/" + reason).isEqualTo(1);
    assertThat(allDecisions(gateway) - all).as("decisions counted for one " + reason + " refusal").isEqualTo(1);
  }

  private static long account(Tollgate gateway) {
    return GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "auth").put("plan", "free")
        .put("initialCredits", 1_000));
  }

  private static String revokedKey(Tollgate gateway, long account) {
    JsonObject created = GatewayHarness.createKey(gateway, vertx, account, new JsonObject());
    HttpTestClient.Reply revoked = GatewayHarness.adminCall(gateway, vertx, HttpMethod.POST,
        "/admin/v1/keys/" + created.getLong("id") + "/revoke", new JsonObject());
    assertThat(revoked.status()).as(revoked.text()).isLessThan(300);
    return created.getString("key");
  }

  private static MultiMap headers(String key) {
    return key == null ? MultiMap.caseInsensitiveMultiMap().add("content-type", "application/json") : GatewayHarness.bearer(key);
  }

  private static HttpTestClient.Reply event(Tollgate gateway, String key) {
    return await(new HttpTestClient(vertx).send(HttpMethod.POST, gateway.proxyPort(), EVENTS, headers(key),
        new JsonObject().put("id", "auth-1").put("action", "agent_run").toBuffer()));
  }

  private static HttpTestClient.Reply chat(Tollgate gateway, String key, String model) {
    return await(new HttpTestClient(vertx).send(HttpMethod.POST, gateway.proxyPort(), "/v1/chat/completions", headers(key),
        new JsonObject().put("model", model).put("max_tokens", 10)
            .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "hi"))).toBuffer()));
  }

  private static double decisions(Tollgate gateway, String decision, String reason) {
    Counter counter = gateway.registry().find("tollgate_admission_decisions").tag("decision", decision).tag("reason", reason).counter();
    return counter == null ? 0 : counter.count();
  }

  /** Every decision counted, under any label: a refusal counted twice under two labels shows here. */
  private static double allDecisions(Tollgate gateway) {
    return gateway.registry().find("tollgate_admission_decisions").counters().stream().mapToDouble(Counter::count).sum();
  }

  private static double unavailable(Tollgate gateway) {
    return gateway.registry().get("tollgate_metering_unavailable").counter().count();
  }
}
