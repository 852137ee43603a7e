package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.metering.testing.MutableClock;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * README: every metered response carries {@code x-ratelimit-reset-requests} (resets as OpenAI
 * writes them: {@code 250ms}, {@code 1.5s}, {@code 2m3s}). On a stopped clock, the first request
 * against a full bucket of N requests a minute leaves it one request short, refilled in 60/N s.
 */
@DisplayName("x-ratelimit-reset-requests on real responses, in the documented format")
class RateLimitResetHeaderTest {

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;

  @Test
  @DisplayName("240 requests a minute → 250ms; 40 a minute → 1.5s")
  void resetHeaders() {
    String yaml = """
        routes:
          - prefix: /v1/
            upstream: %s/v1/
        """.formatted(harness.stubBase());
    MutableClock clock = new MutableClock(System.currentTimeMillis());
    try (Tollgate gateway = Tollgate.start(GatewayHarness.config(yaml, Map.of()), clock)) {
      assertThat(resetAfterOneRequest(gateway, 240)).isEqualTo("250ms");
      assertThat(resetAfterOneRequest(gateway, 40)).isEqualTo("1.5s");
    }
  }

  private static String resetAfterOneRequest(Tollgate gateway, int requestsPerMinute) {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "reset " + requestsPerMinute)
        .put("initialCredits", 1_000).put("limits", new JsonObject().put("requestsPerMinute", requestsPerMinute).put("tokensPerMinute", 0)));
    String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
    HttpTestClient.Reply reply = await(new HttpTestClient(vertx, false, key).get(gateway.proxyPort(), "/v1/models"));
    assertThat(reply.status()).isEqualTo(200);
    assertThat(reply.headers().get("x-ratelimit-limit-requests")).isEqualTo(Integer.toString(requestsPerMinute));
    return reply.headers().get("x-ratelimit-reset-requests");
  }
}
