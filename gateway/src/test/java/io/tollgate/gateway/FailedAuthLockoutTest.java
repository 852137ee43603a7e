package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.metering.keys.ApiKeyFormat;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("Failed-authentication lockout: a stale key or a guesser behind a shared address never locks out a valid key")
class FailedAuthLockoutTest {

  private static final int LIMIT = 3;
  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static Tollgate gateway;

  @BeforeAll
  static void start() {
    gateway = GatewayHarness.start("""
        routes:
          - { prefix: /v1/, upstream: "%s/v1/", usage: openai }
        metering: { failedAuthPerMinute: %d }
        """.formatted(harness.stubBase(), LIMIT), Map.of());
  }

  @AfterAll
  static void stop() {
    gateway.close();
  }

  /** Every request comes from 127.0.0.1: the tenants below share one address, as behind a NAT. */
  private static HttpTestClient.Reply models(String key) {
    return await(new HttpTestClient(vertx).send(HttpMethod.GET, gateway.proxyPort(), "/v1/models", GatewayHarness.bearer(key), null));
  }

  private static String revokedKey() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "stale").put("initialCredits", 1000));
    JsonObject created = GatewayHarness.createKey(gateway, vertx, account, new JsonObject());
    HttpTestClient.Reply revoked = await(GatewayHarness.admin(vertx).send(HttpMethod.POST, gateway.adminPort(),
        "/admin/v1/keys/" + created.getLong("id") + "/revoke", GatewayHarness.adminHeaders(), null));
    assertThat(revoked.status()).as(revoked.text()).isLessThan(300);
    return created.getString("key");
  }

  @Test
  @DisplayName("a revoked key retried past the limit is locked out alone: other tenants' valid keys and another revoked key still get their answers")
  void staleKeyLocksOutOnlyItself() {
    String valid = GatewayHarness.newKey(gateway, vertx, 1_000_000);
    String stale = revokedKey();
    String otherStale = revokedKey();
    for (int i = 0; i < LIMIT; i++) {
      assertThat(models(stale).status()).isEqualTo(401);
    }
    HttpTestClient.Reply locked = models(stale);
    assertThat(locked.status()).isEqualTo(429);
    assertThat(locked.text()).contains("too_many_failed_authentications");

    assertThat(models(valid).status()).as("a valid key behind the same address").isEqualTo(200);
    assertThat(models(otherStale).status()).as("another tenant's revoked key is told it is revoked").isEqualTo(401);
    assertThat(models(otherStale).text()).contains("revoked_api_key");
  }

  @Test
  @DisplayName("a guesser with random keys is limited per address, and a valid key from that address still passes")
  void guesserIsLimitedButValidKeysPass() {
    String valid = GatewayHarness.newKey(gateway, vertx, 1_000_000);
    int refused = 0;
    for (int i = 0; i < LIMIT + 2; i++) {
      int status = models(ApiKeyFormat.generate("tg_live_")).status();
      assertThat(status).isIn(401, 429);
      refused += status == 429 ? 1 : 0;
    }
    assertThat(refused).as("guesses past the limit get 429").isGreaterThanOrEqualTo(2);
    assertThat(models("tg_live_not-even-well-formed").status()).isEqualTo(429);
    assertThat(models(valid).status()).isEqualTo(200);
  }
}
