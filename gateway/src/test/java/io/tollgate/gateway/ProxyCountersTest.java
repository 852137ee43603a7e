package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Counter;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("Proxy counters count every response the gateway sends exactly once, its own refusals included")
class ProxyCountersTest {

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static Tollgate gateway;

  @BeforeAll
  static void start() {
    gateway = GatewayHarness.start("""
        routes:
          - { prefix: /v1/, upstream: "%s/v1/", usage: openai }
        pricing:
          default: { input: 1000, output: 1000 }
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0 }
        """.formatted(harness.stubBase()), Map.of());
  }

  @AfterAll
  static void stop() {
    gateway.close();
  }

  private static double responses(String route, String status) {
    return gateway.registry().get("tollgate_proxy_responses").tag("route", route).tag("status", status).counter().count();
  }

  private static Counter failures(String route, String reason) {
    return gateway.registry().find("tollgate_proxy_failures").tag("route", route).tag("reason", reason).counter();
  }

  private static int chat(String key) {
    return await(new HttpTestClient(vertx).send(HttpMethod.POST, gateway.proxyPort(), "/v1/chat/completions",
        key == null ? io.vertx.core.MultiMap.caseInsensitiveMultiMap().add("content-type", "application/json")
            : GatewayHarness.bearer(key),
        new JsonObject().put("model", "gpt-4o-mini").put("max_tokens", 10)
            .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "hi"))).toBuffer())).status();
  }

  @Test
  @DisplayName("failure series exist at zero from the start, for every route and the unrouted")
  void seriesFromStart() {
    for (String reason : new String[] {"missing_api_key", "insufficient_credits", "upstream_timeout", "metering_unavailable"}) {
      assertThat(failures("/v1/", reason)).as(reason).isNotNull();
    }
    assertThat(failures("none", "route_not_found")).isNotNull();
  }

  @Test
  @DisplayName("401 and 402 from metering count as 4xx with their code; a 200 counts once as 2xx; a 404 for no route counts too")
  void everyResponseOnce() {
    double fourBefore = responses("/v1/", "4xx");
    double twoBefore = responses("/v1/", "2xx");
    double missingBefore = failures("/v1/", "missing_api_key").count();
    double creditsBefore = failures("/v1/", "insufficient_credits").count();
    double unroutedBefore = responses("none", "4xx");

    assertThat(chat(null)).isEqualTo(401);
    assertThat(chat(GatewayHarness.newKey(gateway, vertx, 0))).isEqualTo(402);
    assertThat(chat(GatewayHarness.newKey(gateway, vertx, 1_000_000))).isEqualTo(200);
    assertThat(await(new HttpTestClient(vertx).get(gateway.proxyPort(), "/nowhere")).status()).isEqualTo(404);

    assertThat(responses("/v1/", "4xx") - fourBefore).isEqualTo(2);
    assertThat(responses("/v1/", "2xx") - twoBefore).isEqualTo(1);
    assertThat(failures("/v1/", "missing_api_key").count() - missingBefore).isEqualTo(1);
    assertThat(failures("/v1/", "insufficient_credits").count() - creditsBefore).isEqualTo(1);
    assertThat(responses("none", "4xx") - unroutedBefore).isEqualTo(1);
    assertThat(failures("none", "route_not_found").count()).isGreaterThanOrEqualTo(1);
  }
}
